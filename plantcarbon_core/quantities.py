"""The quantities registry: name → unit, gauge or cumulative counter, carrier (from quantities.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from plantcarbon_core import datafile

QUANTITY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
QuantityKind = Literal["gauge", "counter"]


@dataclass(frozen=True, slots=True)
class Quantity:
    name: str
    unit: str
    kind: QuantityKind
    carrier: str
    description: str

    @property
    def is_counter(self) -> bool:
        return self.kind == "counter"


class UnknownQuantity(KeyError):
    """A quantity name that is not in the registry."""


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    unit: str
    kind: QuantityKind
    carrier: str
    description: str


class _QuantityFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    quantities: list[_Row]


@cache
def registry() -> dict[str, Quantity]:
    raw = datafile.load(Path(__file__).with_name("quantities.yaml"), _QuantityFile, expect="quantities")
    out: dict[str, Quantity] = {}
    for row in raw.quantities:
        q = Quantity(**row.model_dump())
        if not QUANTITY_NAME.match(q.name):
            raise ValueError(f"quantities.yaml: bad quantity name {q.name!r}")
        if q.name in out:
            raise ValueError(f"quantities.yaml: duplicate quantity {q.name!r}")
        out[q.name] = q
    return out


def quantity(name: str) -> Quantity:
    try:
        return registry()[name]
    except KeyError:
        raise UnknownQuantity(name) from None


def is_counter(name: str) -> bool:
    q = registry().get(name)
    return q is not None and q.is_counter


def counters() -> frozenset[str]:
    return frozenset(n for n, q in registry().items() if q.is_counter)
