"""Sector method files (methods/*.yaml): parameters per material kind, defaults, ranges, units, sources."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from plantcarbon_core import datafile

METHOD_DIR = Path(__file__).with_name("methods")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clause(_Model):
    text: str
    confirmed: bool = False


class Default(_Model):
    value: float
    source: str
    confirmed: bool = False


class Parameter(_Model):
    name: str
    unit: str
    range: tuple[float, float]
    must_measure: bool = False
    standard: str | None = None
    default: Default | None = None

    @model_validator(mode="after")
    def _default_or_measured(self) -> Parameter:
        lo, hi = self.range
        if lo > hi:
            raise ValueError(f"range: {lo} > {hi}")
        if self.must_measure and self.default is not None:
            raise ValueError("a parameter that must be measured has no default")
        if not self.must_measure and self.default is None:
            raise ValueError("a parameter that need not be measured needs a default")
        if self.default is not None and not lo <= self.default.value <= hi:
            raise ValueError(f"default {self.default.value} outside range [{lo}, {hi}]")
        return self

    def in_range(self, value: float) -> bool:
        return self.range[0] <= value <= self.range[1]


class MaterialKind(_Model):
    parameters: dict[str, Parameter]


class Source(_Model):
    id: str
    name: str
    formula: str
    counted: bool
    clause: Clause


class Constant(_Model):
    value: float
    text: str


class Benchmark(_Model):
    value: float
    source: str
    confirmed: bool = False


class Method(_Model):
    id: str
    version: str
    sector: str
    boundary: str
    product: str
    document: str
    predecessor: str | None = None
    sources: list[Source]
    constants: dict[str, Constant]
    monthly_rules: dict[str, Any]
    materials: dict[str, MaterialKind]
    benchmark: Benchmark | None = None

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def parameter(self, kind: str, name: str) -> Parameter:
        return self.materials[kind].parameters[name]

    def source(self, source_id: str) -> Source:
        return next(s for s in self.sources if s.id == source_id)

    def const(self, name: str) -> float:
        return self.constants[name].value


class MethodError(ValueError):
    pass


@cache
def load_method(method_id: str) -> Method:
    """A shipped method by id (methods/<id>.yaml), or a path to a method file."""
    path = Path(method_id) if method_id.endswith((".yaml", ".yml")) else METHOD_DIR / f"{method_id}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in METHOD_DIR.glob("*.yaml"))
        raise MethodError(f"no method {method_id!r} (shipped: {', '.join(known)})")
    return datafile.load(path, Method, expect="the method's id, version, sources and materials", source=str(path))
