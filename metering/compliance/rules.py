"""The workflow's rules file (rules.yaml): gap-filling substitutes and filing deadlines, validated."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, model_validator

RULES_FILE = Path(__file__).with_name("rules.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Principle(_Model):
    text: str
    source: str
    confirmed: bool = False


class FillRule(_Model):
    text: str
    confirmed: bool = False


class DeadlineRule(_Model):
    text: str
    source: str
    confirmed: bool = False
    days_after_month_end: int | None = None
    next_month_end: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> DeadlineRule:
        if (self.days_after_month_end is None) == (not self.next_month_end):
            raise ValueError("a deadline rule needs exactly one of days_after_month_end or next_month_end: true")
        return self

    def due(self, month: str) -> dt.date:
        """The due date of a month 'YYYY-MM'."""
        p = pd.Period(month, freq="M")
        if self.next_month_end:
            return (p + 1).end_time.date()
        assert self.days_after_month_end is not None
        return p.end_time.date() + dt.timedelta(days=self.days_after_month_end)


class Deadlines(_Model):
    default: str
    rules: dict[str, DeadlineRule]

    @model_validator(mode="after")
    def _default_known(self) -> Deadlines:
        if self.default not in self.rules:
            raise ValueError(f"default {self.default!r} is not one of the rules {sorted(self.rules)}")
        return self

    def rule(self, rule_id: str | None) -> tuple[str, DeadlineRule]:
        rid = rule_id or self.default
        if rid not in self.rules:
            raise KeyError(f"no deadline rule {rid!r} (known: {', '.join(sorted(self.rules))})")
        return rid, self.rules[rid]


class Rules(_Model):
    principle: Principle
    rules: dict[str, FillRule]
    direction: dict[str, dict[str, int]]
    deadlines: Deadlines

    def fill_rule(self, kind: str, parameter: str) -> str:
        """The gap-filling rule of a parameter: max-of-month unless a higher value lowers emissions."""
        return "min-of-month" if self.direction.get(kind, {}).get(parameter, 1) < 0 else "max-of-month"


@cache
def load_rules(path: Path = RULES_FILE) -> Rules:
    return Rules.model_validate(yaml.safe_load(path.read_text("utf-8")))
