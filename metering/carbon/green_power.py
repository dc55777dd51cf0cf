"""Green power: contracts and certificates (YAML), and the kWh they cover per interval, for market-based scope 2."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from metering.carbon.frames import equals
from plantcarbon_core import datafile
from plantcarbon_core.plant import Plant


class _GModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GreenContract(_GModel):
    """A green-power purchase (绿电交易) or certificates (绿证) covering consumption in a period."""

    id: str
    kind: str = Field(pattern=r"^(contract|certificate)$")
    mwh: float = Field(gt=0)
    start: dt.datetime  # inclusive; a date without zone is the site's local midnight
    end: dt.datetime  # exclusive
    note: str | None = None


class GreenPowerFile(_GModel):
    contracts: list[GreenContract]


def load_green_power(path: str | Path) -> list[GreenContract]:
    """Contracts from YAML; raises DataFileError naming the file, the item and the field."""
    path = Path(path)
    return list(datafile.load(path, GreenPowerFile, expect="contracts", source=str(path)).contracts)


def green_kwh_per_interval(
    contracts: Iterable[GreenContract], starts: pd.DatetimeIndex, timezone: str, interval_s: int = 900
) -> pd.Series:
    """kWh of green power available in each interval: each contract spread evenly over its period.

    Spreading by time (not by consumption) makes an interval's allocation independent of
    which window is being computed, so recomputing any period gives the same numbers.
    """
    avail = pd.Series(0.0, index=starts)
    for c in contracts:
        s = pd.Timestamp(c.start)
        e = pd.Timestamp(c.end)
        s = s.tz_localize(timezone) if s.tzinfo is None else s
        e = e.tz_localize(timezone) if e.tzinfo is None else e
        n = (e - s).total_seconds() / interval_s
        if n <= 0:
            continue
        inside = (starts >= s) & (starts < e)
        avail[inside] += c.mwh * 1000.0 / n
    return avail


def green_share(energy: pd.DataFrame, plant: Plant, green: list[GreenContract]) -> np.ndarray:
    """Per energy row, the share of its kWh covered by green power (main electricity meters only)."""
    share = np.zeros(len(energy))
    if not green:
        return share
    mains = (
        equals(energy["role"], "main")
        & equals(energy["carrier"], "electricity")
        & ~equals(energy["quantity"], "e_exp_kwh")
    )
    if not mains.any():
        return share
    site_kwh = energy[mains].groupby("interval_start")["amount"].sum()
    avail = green_kwh_per_interval(green, pd.DatetimeIndex(site_kwh.index), plant.site.timezone)
    ratio = (avail / site_kwh.where(site_kwh > 0)).clip(upper=1.0).fillna(0.0)
    share[mains] = ratio.reindex(energy.loc[mains, "interval_start"]).to_numpy()
    return share
