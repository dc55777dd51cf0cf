"""What an evidence file supports: links to lab samples, stock records, instruments and emission-unit months.

A link is a short string, so it is a query parameter, a form field and a database key at once:

    lab_sample:<sample id>            a lab sample (every version of it), e.g. lab_sample:CL-20260110
    stock:<material>:<YYYY-MM>        a material's stock record (stock-take, weighbridge ledger) of a month
    instrument:<instrument id>        a meter, weigher or lab method (its calibration certificate)
    unit_month:<unit>:<YYYY-MM>       an emission unit's month as a whole (e.g. an invoice)

Pure functions: parsing (a bad link raises ValueError naming what is wrong) and which links
concern one unit's month (for the filing workbook's evidence index).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("lab_report", "weighbridge_ledger", "calibration_certificate", "invoice", "other")
SAMPLE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}"
ID = r"[a-z0-9][a-z0-9_-]{0,62}"
MONTH = r"20[0-9]{2}-(?:0[1-9]|1[0-2])"
GRAMMAR: dict[str, re.Pattern[str]] = {
    "lab_sample": re.compile(rf"lab_sample:(?P<sample>{SAMPLE})"),
    "stock": re.compile(rf"stock:(?P<material>{ID}):(?P<month>{MONTH})"),
    "instrument": re.compile(rf"instrument:(?P<instrument>{SAMPLE})"),
    "unit_month": re.compile(rf"unit_month:(?P<unit>{ID}):(?P<month>{MONTH})"),
}
# One regular expression for the OpenAPI schema (clients and the fuzzer see the grammar).
PATTERN = "^(" + "|".join(re.sub(r"\(\?P<\w+>", "(", p.pattern) for p in GRAMMAR.values()) + ")$"
MAX_LINKS = 50


@dataclass(frozen=True, slots=True)
class Link:
    type: str
    parts: dict[str, str]
    text: str


def parse(text: str) -> Link:
    """One link; ValueError naming the grammar when it does not fit."""
    typ = text.split(":", 1)[0]
    pat = GRAMMAR.get(typ)
    m = pat.fullmatch(text) if pat else None
    if m is None:
        raise ValueError(
            f"link {text[:100]!r} is not one of lab_sample:<sample id>, stock:<material>:<YYYY-MM>, "
            "instrument:<instrument id>, unit_month:<unit>:<YYYY-MM>"
        )
    return Link(typ, m.groupdict(), text)


def parse_all(texts: Iterable[str]) -> list[Link]:
    """Every link, duplicates dropped, order kept; ValueError listing each bad one."""
    out: dict[str, Link] = {}
    bad: list[str] = []
    for i, t in enumerate(texts):
        try:
            out.setdefault(t, parse(t))
        except ValueError as exc:
            bad.append(f"links[{i}]: {exc}")
    if bad:
        raise ValueError("; ".join(bad))
    if len(out) > MAX_LINKS:
        raise ValueError(f"{len(out)} links; at most {MAX_LINKS} per request")
    return list(out.values())


@dataclass(frozen=True)
class MonthScope:
    """What of one unit's month a document may support: its materials, instruments and lab samples."""

    unit: str
    month: str
    materials: frozenset[str]
    instruments: frozenset[str]
    samples: frozenset[str]

    def concerns(self, link: Link) -> bool:
        p = link.parts
        if link.type == "unit_month":
            return p["unit"] == self.unit and p["month"] == self.month
        if link.type == "stock":
            return p["material"] in self.materials and p["month"] == self.month
        if link.type == "instrument":
            return p["instrument"] in self.instruments
        return link.type == "lab_sample" and p["sample"] in self.samples

    def candidates(self) -> list[str]:
        """Every link text that concerns the month (to look the files up by)."""
        return [
            f"unit_month:{self.unit}:{self.month}",
            *(f"stock:{m}:{self.month}" for m in sorted(self.materials)),
            *(f"instrument:{d}" for d in sorted(self.instruments)),
            *(f"lab_sample:{x}" for x in sorted(self.samples)),
        ]


def sample_id(ref: str) -> str:
    """`CL-20260110@2` → `CL-20260110` (a link names the sample, every version of it)."""
    return ref.rsplit("@", 1)[0]
