"""Alert thresholds energy managers set, as rows the dashboards draw on matching panels (`--thresholds FILE`)."""

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
