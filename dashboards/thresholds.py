"""Lines drawn on panels: alert thresholds energy managers set, the intensity benchmark of a sector."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Threshold(BaseModel):
    """An alert threshold an energy manager set on one device's quantity, to draw on its panels."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # rows may come from a richer API export

    rule: str
    device: str
    quantity: str
    condition: Literal["above", "below"] = "above"
    value: float
    severity: Literal["info", "warning", "critical"] = "warning"


class ThresholdFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thresholds: list[Threshold] = Field(default_factory=list)


class IntensityBenchmark(BaseModel):
    """A sector benchmark of the product's carbon intensity (tCO2 per tonne of clinker), with its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float = Field(gt=0)
    source: str
    confirmed: bool = False


class BenchmarkFile(BaseModel):
    """A file whose `benchmark:` block is the intensity benchmark: a sector method file
    (metering/direct/methods/*.yaml: its other keys are ignored here) or a file of that one block."""

    model_config = ConfigDict(extra="ignore")
    benchmark: IntensityBenchmark | None = None
