"""A synthetic month of one clinker line with its ground truth: readings, lab analyses, stock balances.

Seeded: the same month every run. Daily tonnes, lab values and dust records are drawn first;
the readings are counters that grow linearly within each local day, so the interval engine's
daily sums equal the drawn tonnes exactly and the truth below is exact arithmetic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TZ = "Asia/Shanghai"

PLANT = """
site: {id: cem-t, name: "Cement test", timezone: Asia/Shanghai, grid_region: cn-east}
devices:
  - {id: tr-main, name: Main transformer, kind: transformer, carrier: electricity, role: main}
  - {id: tr-kiln, name: Kiln line, kind: transformer, carrier: electricity, role: sub, parent: tr-main}
  - {id: coal-kiln, name: Kiln coal feeder, kind: feeder, carrier: coal}
  - {id: coal-calc, name: Precalciner coal feeder, kind: feeder, carrier: coal}
  - {id: af-feeder, name: Alternative fuel feeder, kind: feeder, carrier: production}
  - {id: rm-weigher, name: Raw meal to kiln, kind: feeder, carrier: production}
  - {id: cl-weigher, name: Clinker belt weigher, kind: feeder, carrier: production}
  - {id: boiler-gas, name: Gas boiler, kind: boiler, carrier: natural_gas}
carbon:
  method: cn-cement-clinker-2025
  reconcile_threshold_pct: 2
  materials:
    coal: {kind: fossil_fuel, devices: [coal-kiln, coal-calc]}
    tyre-chips: {kind: alternative_fuel, devices: [af-feeder]}
    clinker: {kind: clinker, devices: [cl-weigher]}
    raw-meal: {kind: raw_meal, devices: [rm-weigher]}
    kiln-head-dust: {kind: dust}
    bypass-dust: {kind: dust}
  units:
    - id: kiln-1
      name: Clinker line 1
      clinker: clinker
      raw_meal: raw-meal
      fuels: [coal, tyre-chips]
      dust: [kiln-head-dust, bypass-dust]
      electricity_devices: [tr-kiln]
"""

LAB_HEADER = "sample_id,version,material,parameter,value,unit,period_start,period_end,standard,lab,entered_by,reason"


@dataclass
class Case:
    dir: Path
    plant: Path
    readings: Path
    lab: Path
    stocks: Path
    days: list[dt.date]
    tonnes: dict[str, dict[dt.date, float]]  # device → day → t
    lab_rows: list[dict[str, object]] = field(default_factory=list)
    coal_stock_t: float = 0.0

    def lab_value(self, material: str, parameter: str, day: dt.date) -> float | None:
        for r in self.lab_rows:
            if r["material"] == material and r["parameter"] == parameter and r["period_start"] <= day <= r["period_end"]:
                return float(r["value"])  # type: ignore[arg-type]
        return None

    def truth(self, days: list[dt.date] | None = None) -> dict[str, float]:
        """Direct CO2 by hand: the guideline formulas written out per day (defaults: coal OF 1.0)."""
        days = days or self.days
        fuel = process = dust_co2 = toc_co2 = biogenic = clinker = 0.0
        dust_per_day = {m: self._dust(m) for m in ("kiln-head-dust", "bypass-dust")}
        for d in days:
            cl = self.tonnes["cl-weigher"][d]
            rm = self.tonnes["rm-weigher"][d]
            coal = self.tonnes["coal-kiln"][d] + self.tonnes["coal-calc"][d]
            af = self.tonnes["af-feeder"][d]
            clinker += cl
            fuel += coal * self.lab_value("coal", "ncv", d) * self.lab_value("coal", "carbon_content", d) * 1.0 * 44 / 12
            c_af = af * self.lab_value("tyre-chips", "ncv", d) * self.lab_value("tyre-chips", "carbon_content", d)
            ff = self.lab_value("tyre-chips", "fossil_fraction", d)
            fuel += c_af * ff * 44 / 12
            biogenic += c_af * (1 - ff) * 44 / 12
            r = rm / cl
            f = (self.lab_value("clinker", "cao", d) - self.lab_value("raw-meal", "noncarb_cao", d) * r) * 44 / 56 + (
                self.lab_value("clinker", "mgo", d) - self.lab_value("raw-meal", "noncarb_mgo", d) * r
            ) * 44 / 40
            process += cl * f
            dust_co2 += sum(v[d] for v in dust_per_day.values()) * f
            toc_co2 += rm * self.lab_value("raw-meal", "toc", d) * 44 / 12
        return {
            "clinker_t": clinker, "fuel_co2_t": fuel, "process_clinker_co2_t": process, "process_dust_co2_t": dust_co2,
            "process_toc_co2_t": toc_co2, "biogenic_t": biogenic, "direct_co2_t": fuel + process + dust_co2 + toc_co2,
        }

    def _dust(self, material: str) -> dict[dt.date, float]:
        out = dict.fromkeys(self.days, 0.0)
        for r in self.lab_rows:
            if r["material"] == material:
                n = (r["period_end"] - r["period_start"]).days + 1  # type: ignore[operator]
                for d in self.days:
                    if r["period_start"] <= d <= r["period_end"]:
                        out[d] = float(r["value"]) / n  # type: ignore[arg-type]
        return out


def make_case(root: Path, month: str = "2026-01", seed: int = 7, stock_bias: float = 0.005) -> Case:
    rng = np.random.default_rng(seed)
    p = pd.Period(month, freq="M")
    days = [d.date() for d in pd.date_range(p.start_time, p.end_time, freq="D")]
    clinker = {d: float(round(5000 * (1 + rng.normal(0, 0.03)), 3)) for d in days}
    tonnes = {
        "cl-weigher": clinker,
        "rm-weigher": {d: round(clinker[d] * (1.55 + rng.normal(0, 0.01)), 3) for d in days},
        "coal-kiln": {d: round(clinker[d] * 0.135 * 0.4 * (1 + rng.normal(0, 0.02)), 3) for d in days},
        "coal-calc": {d: round(clinker[d] * 0.135 * 0.6 * (1 + rng.normal(0, 0.02)), 3) for d in days},
        "af-feeder": {d: round(clinker[d] * 0.01 * (1 + rng.normal(0, 0.05)), 3) for d in days},
    }
    power_kw = {"tr-main": 30_000.0, "tr-kiln": 12_000.0}
    root.mkdir(parents=True, exist_ok=True)
    plant = root / "plant.yaml"
    plant.write_text(PLANT, "utf-8")
    # Readings: one sample per 5 minutes, counters linear within each local day, an hour either side.
    t0 = pd.Timestamp(days[0]).tz_localize(TZ).tz_convert("UTC") - pd.Timedelta(hours=1)
    t1 = pd.Timestamp(days[-1] + dt.timedelta(days=1)).tz_localize(TZ).tz_convert("UTC") + pd.Timedelta(hours=1)
    times = pd.date_range(t0, t1, freq="5min")
    local_day = times.tz_convert(TZ).tz_localize(None).normalize()
    frames = []
    for dev, per_day in tonnes.items():
        rate = np.array([per_day.get(d.date(), per_day[days[0] if d.date() < days[0] else days[-1]]) for d in local_day])
        steps = np.concatenate([[0.0], rate[:-1] / 288.0])
        frames.append(pd.DataFrame({"time": times, "device": dev, "quantity": "mass_t", "value": 1000 + np.cumsum(steps)}))
    for dev, kw in power_kw.items():
        steps = np.concatenate([[0.0], np.full(len(times) - 1, kw / 12)])
        frames.append(pd.DataFrame({"time": times, "device": dev, "quantity": "e_imp_kwh", "value": 5e5 + np.cumsum(steps)}))
    steps = np.concatenate([[0.0], np.full(len(times) - 1, 50.0 / 3)])
    frames.append(pd.DataFrame({"time": times, "device": "boiler-gas", "quantity": "vol_nm3", "value": np.cumsum(steps)}))
    readings = root / "readings.csv"
    df = pd.concat(frames, ignore_index=True)
    df["time"] = df["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    df.to_csv(readings, index=False)
    # Lab: daily clinker and raw-meal composites, coal per delivery, one tyre-chips analysis, dust records.
    lab_rows: list[dict[str, object]] = []

    def add(sid: str, mat: str, par: str, value: float, unit: str, start: dt.date, end: dt.date, std: str) -> None:
        lab_rows.append({"sample_id": sid, "version": 1, "material": mat, "parameter": par, "value": value,
                         "unit": unit, "period_start": start, "period_end": end, "standard": std, "lab": "plant lab",
                         "entered_by": "qc-01", "reason": ""})

    for d in days:
        tag = d.strftime("%Y%m%d")
        add(f"CL-{tag}", "clinker", "cao", round(0.655 + rng.normal(0, 0.004), 4), "1", d, d, "GB/T 176")
        add(f"CL-{tag}", "clinker", "mgo", round(0.022 + rng.normal(0, 0.002), 4), "1", d, d, "GB/T 176")
        add(f"RM-{tag}", "raw-meal", "noncarb_cao", round(0.009 + rng.normal(0, 0.0008), 5), "1", d, d, "GB/T 176")
        add(f"RM-{tag}", "raw-meal", "noncarb_mgo", round(0.004 + rng.normal(0, 0.0004), 5), "1", d, d, "GB/T 176")
        add(f"RM-{tag}", "raw-meal", "toc", round(0.0018 + rng.normal(0, 0.0001), 5), "1", d, d, "GB/T 176")
    cuts = [days[0], days[10], days[20]]
    ends = [days[9], days[19], days[-1]]
    for i, (a, b) in enumerate(zip(cuts, ends, strict=True)):
        add(f"COAL-D{i + 1}", "coal", "ncv", round(23.0 + rng.normal(0, 0.5), 3), "GJ/t", a, b, "GB/T 213")
        add(f"COAL-D{i + 1}", "coal", "carbon_content", round(0.0262 + rng.normal(0, 0.0003), 5), "tC/GJ", a, b,
            "GB/T 476")
    add("AF-M1", "tyre-chips", "ncv", 28.0, "GJ/t", days[0], days[-1], "GB/T 213")
    add("AF-M1", "tyre-chips", "carbon_content", 0.0220, "tC/GJ", days[0], days[-1], "GB/T 476")
    add("AF-M1", "tyre-chips", "fossil_fraction", 0.6, "1", days[0], days[-1], "ISO 21644")
    add("KHD-M1", "kiln-head-dust", "mass_t", 124.0, "t", days[0], days[-1], "weighbridge ledger")
    add("BPD-M1", "bypass-dust", "mass_t", 310.0, "t", days[0], days[-1], "weighbridge ledger")
    lab = root / "lab.csv"
    pd.DataFrame(lab_rows).to_csv(lab, index=False)
    coal = sum(tonnes["coal-kiln"].values()) + sum(tonnes["coal-calc"].values())
    consumed = round(coal * (1 + stock_bias), 3)
    stocks = root / "stocks.csv"
    stocks.write_text(
        "material,month,opening_t,receipts_t,closing_t,reference,entered_by\n"
        f"coal,{month},8000,{round(consumed + 1000, 3)},9000,ST-{month}-COAL,store-01\n",
        "utf-8",
    )
    return Case(root, plant, readings, lab, stocks, days, tonnes, lab_rows, consumed)
