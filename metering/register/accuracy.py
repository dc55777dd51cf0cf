"""GB 17167-2006 table 3 as data (gb17167.yaml) and the pure check: does a class meet its place's requirement."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

TABLE_FILE = Path(__file__).with_name("gb17167.yaml")

Place = Literal["in_out", "sub", "equipment"]
Instrument = Literal["electricity_meter", "gas_flow", "steam_flow", "oil_flow", "water_flow", "weigher", "lab_method"]
Verdict = Literal["meets", "below", "no_requirement", "unknown_class"]
UserClass = Literal["I", "II", "III", "IV", "V"]
# EN 50470-3 letter classes of active-energy meters and their IEC 62053 equivalents (A = 2, B = 1, C = 0.5S).
_LETTERS = {"A": (2.0, False), "B": (1.0, False), "C": (0.5, True)}
_CLASS = re.compile(r"^\s*±?\s*(\d+(?:\.\d+)?)\s*(S?)\s*%?\s*$", re.IGNORECASE)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(_Model):
    carrier: str | None = None
    user_class: UserClass | None = None
    weighing: Literal["static", "dynamic"] | None = None
    fuel: bool | None = None


class Row(_Model):
    id: str
    instrument: Instrument
    places: list[Place] = Field(min_length=1)
    when: When = When()
    class_: str = Field(alias="class")
    purpose: str
    confirmed: bool = False


class UserClassRow(_Model):
    class_: UserClass = Field(alias="class")
    min_kva: float = Field(ge=0)


class Table(_Model):
    standard: str
    clause: str
    confirmed: bool = False
    secondary_source: str = ""
    notes: list[str] = []
    user_classes: list[UserClassRow]
    rows: list[Row]


@cache
def load_table(path: Path = TABLE_FILE) -> Table:
    return Table.model_validate(yaml.safe_load(path.read_text("utf-8")))


def parse_class(text: str | None) -> tuple[float, bool] | None:
    """'0.5S' → (0.5, True); '1' → (1.0, False); 'B' → (1.0, False); '±0.5%' → (0.5, False); empty → None.

    Raises ValueError naming the text when it is none of these.
    """
    if text is None or not str(text).strip():
        return None
    s = str(text).strip()
    if s.upper() in _LETTERS:
        return _LETTERS[s.upper()]
    m = _CLASS.match(s)
    if not m:
        raise ValueError(f"accuracy class must be a number with an optional S (0.5S, 1, 2.0) or A/B/C, got {text!r}")
    return float(m.group(1)), bool(m.group(2))


def class_meets(have: str, need: str) -> bool:
    """A smaller number is better; at the same number an S class meets a plain one, not the reverse."""
    h, n = parse_class(have), parse_class(need)
    if h is None or n is None:
        raise ValueError("both classes are needed")
    if h[0] != n[0]:
        return h[0] < n[0]
    return h[1] or not n[1]


def place_of(role: str, kind: str) -> Place:
    """The plant file's role → GB 17167's place: main = in_out; sub = sub, or equipment for a machine.

    A sub-meter on a feeder, transformer or group is a secondary unit (次级用能单位); one on a single
    machine (kiln, mill, fan, motor, pump, compressor, boiler …) meters main equipment (主要用能设备).
    """
    if role == "main":
        return "in_out"
    return "sub" if kind in ("feeder", "transformer", "production_line", "other") else "equipment"


def user_class(kva: float | None, table: Table | None = None) -> UserClass | None:
    """The electricity user class (I–IV) from the supply transformer's capacity, per note 2 of table 3."""
    if kva is None:
        return None
    t = table or load_table()
    for row in sorted(t.user_classes, key=lambda r: -r.min_kva):
        if kva >= row.min_kva:
            return row.class_
    return None


@dataclass(frozen=True, slots=True)
class Check:
    verdict: Verdict
    required: str | None  # the class the row requires
    row: str | None  # the table row's id
    reason: str


def requirement(
    instrument: str,
    place: Place,
    carrier: str | None,
    user: UserClass | None,
    weighing: str | None,
    table: Table,
    fuel: bool = False,
) -> Row | None:
    """The table row for this instrument at this place, or None when the table sets none."""
    for row in table.rows:
        w = row.when
        if row.instrument != instrument or place not in row.places:
            continue
        if w.carrier is not None and w.carrier != carrier:
            continue
        if w.user_class is not None and w.user_class != (user or "I"):
            # An unknown user class is judged as class I, the strictest: never pass a meter by default.
            continue
        if w.weighing is not None and w.weighing != (weighing or "static"):
            continue  # unknown weighing: judged as static, the stricter
        if w.fuel is not None and w.fuel != fuel:
            continue
        return row
    return None


def check(
    instrument: str,
    place: Place,
    accuracy_class: str | None,
    *,
    carrier: str | None = None,
    user: UserClass | None = None,
    weighing: str | None = None,
    fuel: bool = False,
    table: Table | None = None,
) -> Check:
    """Whether an instrument's class meets GB 17167 table 3 for its place (pure; the table is data)."""
    t = table or load_table()
    row = requirement(instrument, place, carrier, user, weighing, t, fuel)
    if row is None:
        return Check("no_requirement", None, None, f"table 3 sets no class for {instrument} at place {place}")
    if parse_class(accuracy_class) is None:
        return Check("unknown_class", row.class_, row.id, f"class missing; table 3 ({row.id}) requires {row.class_}")
    assert accuracy_class is not None
    if class_meets(accuracy_class, row.class_):
        return Check("meets", row.class_, row.id, f"class {accuracy_class} meets {row.class_} ({row.id})")
    # An unconfirmed row still alerts (a meter that may be too coarse is worth a look), but says so.
    caveat = "" if row.confirmed else "; row not yet confirmed against the standard's text"
    text = f"class {accuracy_class} is below {row.class_} required ({row.id}{caveat})"
    return Check("below", row.class_, row.id, text)
