"""A simulated clinker kiln line with ground truth: weigher counters, lab analyses, dust records, coal stock-takes.

Seeded: the same period every run. Daily tonnes (clinker, raw meal, kiln and precalciner
coal, alternative fuel) and lab values (daily clinker and raw-meal composites, coal per
delivery, a monthly alternative-fuel analysis, monthly dust records) are drawn first with
realistic scatter; the readings are `mass_t` counters that grow linearly within each local
day, so the interval engine's daily sums equal the drawn tonnes and `truth` is exact
arithmetic of the guideline formulas written out independently of metering/direct.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from metering.direct.lab import LAB_COLUMNS

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
  - {id: tr-mill, name: Cement mill, kind: transformer, carrier: electricity, role: sub, parent: tr-main}
  - {id: cem-weigher, name: Cement to silos, kind: feeder, carrier: production}
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
    cement: {kind: cement, devices: [cem-weigher]}
  units:
    - id: kiln-1
      name: Clinker line 1
      clinker: clinker
      raw_meal: raw-meal
      fuels: [coal, tyre-chips]
      dust: [kiln-head-dust, bypass-dust]
      electricity_devices: [tr-kiln]
      cement: cement
      cement_electricity_devices: [tr-mill]
"""

POWER_KW = {"tr-main": 30_000.0, "tr-kiln": 12_000.0, "tr-mill": 6_000.0}
GAS_NM3H = 200.0


@dataclass
class KilnLine:
    days: list[dt.date]
    tonnes: dict[str, dict[dt.date, float]]  # device → local day → t
    lab_rows: list[dict[str, object]]
    stock_rows: list[dict[str, object]]

    def lab_value(self, material: str, parameter: str, day: dt.date) -> float:
        for r in self.lab_rows:
            if r["material"] == material and r["parameter"] == parameter and _covers(r, day):
                return _float(r["value"])
        raise KeyError((material, parameter, day))

    def dust_t(self, day: dt.date) -> float:
        total = 0.0
        for r in self.lab_rows:
            if r["parameter"] == "mass_t" and _covers(r, day):
                a, b = _date(r["period_start"]), _date(r["period_end"])
                total += _float(r["value"]) / ((b - a).days + 1)
        return total

    def truth(self, days: list[dt.date] | None = None) -> dict[str, float]:
        """Direct CO2 by hand, per day and summed (coal oxidation factor: the method's default 1.0)."""
        fuel = process = dust_co2 = toc_co2 = biogenic = clinker = 0.0
        for d in days or self.days:
            cl, rm = self.tonnes["cl-weigher"][d], self.tonnes["rm-weigher"][d]
            coal = self.tonnes["coal-kiln"][d] + self.tonnes["coal-calc"][d]
            clinker += cl
            fuel += coal * self.lab_value("coal", "ncv", d) * self.lab_value("coal", "carbon_content", d) * 44 / 12
            c_af = (
                self.tonnes["af-feeder"][d]
                * self.lab_value("tyre-chips", "ncv", d)
                * self.lab_value("tyre-chips", "carbon_content", d)
            )
            ff = self.lab_value("tyre-chips", "fossil_fraction", d)
            fuel += c_af * ff * 44 / 12
            biogenic += c_af * (1 - ff) * 44 / 12
            r = rm / cl
            f = (self.lab_value("clinker", "cao", d) - self.lab_value("raw-meal", "noncarb_cao", d) * r) * 44 / 56 + (
                self.lab_value("clinker", "mgo", d) - self.lab_value("raw-meal", "noncarb_mgo", d) * r
            ) * 44 / 40
            process += cl * f
            dust_co2 += self.dust_t(d) * f
            toc_co2 += rm * self.lab_value("raw-meal", "toc", d) * 44 / 12
        return {
            "clinker_t": clinker,
            "fuel_co2_t": fuel,
            "process_clinker_co2_t": process,
            "process_dust_co2_t": dust_co2,
            "process_toc_co2_t": toc_co2,
            "biogenic_t": biogenic,
            "direct_co2_t": fuel + process + dust_co2 + toc_co2,
        }

    def readings(self, step_s: int = 300) -> pd.DataFrame:
        """Counters sampled every `step_s` from an hour before the first local day to an hour after the last."""
        t0 = pd.Timestamp(self.days[0]).tz_localize(TZ).tz_convert("UTC") - pd.Timedelta(hours=1)
        t1 = pd.Timestamp(self.days[-1] + dt.timedelta(days=1)).tz_localize(TZ).tz_convert("UTC") + pd.Timedelta(
            hours=1
        )
        times = pd.date_range(t0, t1, freq=f"{step_s}s")
        day = times.tz_convert(TZ).tz_localize(None).normalize()
        first, last = pd.Timestamp(self.days[0]), pd.Timestamp(self.days[-1])
        day = day.where(day >= first, first).where(day <= last, last)
        per_day = 86400 / step_s
        frames = []
        for dev, t in self.tonnes.items():
            daily = pd.Series({pd.Timestamp(k): v for k, v in t.items()})
            rate = daily.reindex(day).to_numpy()
            steps = np.concatenate([[0.0], rate[:-1] / per_day])
            frames.append(_frame(times, dev, "mass_t", 1000 + np.cumsum(steps)))
        const = np.concatenate([[0.0], np.ones(len(times) - 1)]) * step_s / 3600
        for dev, kw in POWER_KW.items():
            frames.append(_frame(times, dev, "e_imp_kwh", 5e5 + np.cumsum(const * kw)))
        frames.append(_frame(times, "boiler-gas", "vol_nm3", np.cumsum(const * GAS_NM3H)))
        return pd.concat(frames, ignore_index=True)


def _date(v: object) -> dt.date:
    assert isinstance(v, dt.date)
    return v


def _float(v: object) -> float:
    assert isinstance(v, int | float)
    return float(v)


def _covers(row: dict[str, object], day: dt.date) -> bool:
    return _date(row["period_start"]) <= day <= _date(row["period_end"])


def _frame(times: pd.DatetimeIndex, device: str, quantity: str, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"time": times, "device": device, "quantity": quantity, "value": values})


def simulate(start: dt.date, end: dt.date, seed: int = 7, stock_bias: float = 0.005) -> KilnLine:
    """A 5,000 t/d line over the local days [start, end]; coal stock-takes off the meters by `stock_bias`."""
    rng = np.random.default_rng(seed)
    days = [d.date() for d in pd.date_range(start, end, freq="D")]
    clinker = {d: round(5000 * (1 + rng.normal(0, 0.03)), 3) for d in days}
    tonnes = {
        "cl-weigher": clinker,
        "rm-weigher": {d: round(clinker[d] * (1.55 + rng.normal(0, 0.01)), 3) for d in days},
        "coal-kiln": {d: round(clinker[d] * 0.135 * 0.4 * (1 + rng.normal(0, 0.02)), 3) for d in days},
        "coal-calc": {d: round(clinker[d] * 0.135 * 0.6 * (1 + rng.normal(0, 0.02)), 3) for d in days},
        "af-feeder": {d: round(clinker[d] * 0.01 * (1 + rng.normal(0, 0.05)), 3) for d in days},
    }
    # Cement ground from the day's clinker at about 80 % clinker share (CBAM: clinker is its precursor).
    share = {d: round(0.80 + rng.normal(0, 0.01), 4) for d in days}
    tonnes["cem-weigher"] = {d: round(clinker[d] / share[d], 3) for d in days}
    lab: list[dict[str, object]] = []

    def add(sid: str, mat: str, par: str, value: float, unit: str, a: dt.date, b: dt.date, std: str) -> None:
        lab.append(
            dict(zip(LAB_COLUMNS, [sid, 1, mat, par, value, unit, a, b, std, "plant lab", "qc-01", ""], strict=True))
        )

    for d in days:
        tag = d.strftime("%Y%m%d")
        add(f"CL-{tag}", "clinker", "cao", round(0.655 + rng.normal(0, 0.004), 4), "1", d, d, "GB/T 176")
        add(f"CL-{tag}", "clinker", "mgo", round(0.022 + rng.normal(0, 0.002), 4), "1", d, d, "GB/T 176")
        add(f"RM-{tag}", "raw-meal", "noncarb_cao", round(0.009 + rng.normal(0, 0.0008), 5), "1", d, d, "GB/T 176")
        add(f"RM-{tag}", "raw-meal", "noncarb_mgo", round(0.004 + rng.normal(0, 0.0004), 5), "1", d, d, "GB/T 176")
        add(f"RM-{tag}", "raw-meal", "toc", round(0.0018 + rng.normal(0, 0.0001), 5), "1", d, d, "GB/T 176")
        add(f"CEM-{tag}", "cement", "clinker_share", share[d], "1", d, d, "GB/T 12960")
    # Coal per delivery (about every ten days), the rest per month.
    for i, k in enumerate(range(0, len(days), 10)):
        a, b = days[k], days[min(k + 9, len(days) - 1)]
        add(f"COAL-D{i + 1}", "coal", "ncv", round(23.0 + rng.normal(0, 0.5), 3), "GJ/t", a, b, "GB/T 213")
        add(
            f"COAL-D{i + 1}",
            "coal",
            "carbon_content",
            round(0.0262 + rng.normal(0, 0.0003), 5),
            "tC/GJ",
            a,
            b,
            "GB/T 476",
        )
    stocks: list[dict[str, object]] = []
    closing = 8000.0
    for m in sorted({pd.Period(d, freq="M") for d in days}):
        md = [d for d in days if pd.Period(d, freq="M") == m]
        a, b, tag = md[0], md[-1], str(m)
        add(f"AF-{tag}", "tyre-chips", "ncv", 28.0, "GJ/t", a, b, "GB/T 213")
        add(f"AF-{tag}", "tyre-chips", "carbon_content", 0.0220, "tC/GJ", a, b, "GB/T 476")
        add(f"AF-{tag}", "tyre-chips", "fossil_fraction", 0.6, "1", a, b, "ISO 21644")
        add(f"KHD-{tag}", "kiln-head-dust", "mass_t", round(4.0 * len(md), 1), "t", a, b, "weighbridge ledger")
        add(f"BPD-{tag}", "bypass-dust", "mass_t", round(10.0 * len(md), 1), "t", a, b, "weighbridge ledger")
        coal = sum(tonnes["coal-kiln"][d] + tonnes["coal-calc"][d] for d in md)
        consumed = round(coal * (1 + stock_bias), 3)
        receipts = round(consumed + 1000.0, 3)
        stocks.append(
            {
                "material": "coal",
                "month": tag,
                "opening_t": closing,
                "receipts_t": receipts,
                "closing_t": round(closing + receipts - consumed, 3),
                "reference": f"ST-{tag}-COAL",
                "entered_by": "store-01",
            }
        )
        closing = _float(stocks[-1]["closing_t"])
    return KilnLine(days, tonnes, lab, stocks)


def write_files(line: KilnLine, out: Path, step_s: int = 300) -> dict[str, Path]:
    """The files an auditor receives: plant.yaml, readings.csv, lab.csv, stocks.csv, and truth.json."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    paths = {n: out / n for n in ("plant.yaml", "readings.csv", "lab.csv", "stocks.csv", "truth.json")}
    paths["plant.yaml"].write_text(PLANT.lstrip(), "utf-8")
    df = line.readings(step_s=step_s)
    df["time"] = df["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    df.to_csv(paths["readings.csv"], index=False)
    pd.DataFrame(line.lab_rows, columns=LAB_COLUMNS).to_csv(paths["lab.csv"], index=False)
    pd.DataFrame(line.stock_rows).to_csv(paths["stocks.csv"], index=False)
    paths["truth.json"].write_text(json.dumps(line.truth(), indent=1), "utf-8")
    return paths


# --- a short live run of the kiln line (simulators/scenarios/kiln.yaml) ------------------------

# One composite per material and parameter: (material, parameter, mean, scatter σ, unit, standard).
COMPOSITE: tuple[tuple[str, str, float, float, str, str], ...] = (
    ("coal", "ncv", 23.0, 0.5, "GJ/t", "GB/T 213"),
    ("coal", "carbon_content", 0.0262, 0.0003, "tC/GJ", "GB/T 476"),
    ("tyre-chips", "ncv", 28.0, 0.5, "GJ/t", "GB/T 213"),
    ("tyre-chips", "carbon_content", 0.0220, 0.0005, "tC/GJ", "GB/T 476"),
    ("tyre-chips", "fossil_fraction", 0.6, 0.02, "1", "ISO 21644"),
    ("clinker", "cao", 0.655, 0.004, "1", "GB/T 176"),
    ("clinker", "mgo", 0.022, 0.002, "1", "GB/T 176"),
    ("raw-meal", "noncarb_cao", 0.009, 0.0008, "1", "GB/T 176"),
    ("raw-meal", "noncarb_mgo", 0.004, 0.0004, "1", "GB/T 176"),
    ("raw-meal", "toc", 0.0018, 0.0001, "1", "GB/T 176"),
)


def composite_lab(a: dt.date, b: dt.date, seed: int = 17) -> list[dict[str, object]]:
    """The lab book of a short run: one seeded composite per material and parameter for the local days [a, b]."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for mat, par, mean, sd, unit, std in COMPOSITE:
        value = round(mean + rng.normal(0, sd), 5)
        sid = f"{mat.upper()}-{a:%Y%m%d}"
        row = [sid, 1, mat, par, value, unit, a, b, std, "plant lab", "qc-01", ""]
        rows.append(dict(zip(LAB_COLUMNS, row, strict=True)))
    return rows


def period_truth(tonnes: dict[str, float], lab: list[dict[str, object]]) -> dict[str, float]:
    """Direct CO2 of a period whose every parameter has one value (a composite), from the tonnes each weigher delivered.

    Written out from the guideline formulas, independently of metering/direct. With one value
    per parameter every term is linear in the tonnes, so the split of the period into local
    days (the engine's unit) does not change the sum: per day, clinker × (CaO − CaO_nc × r) with
    r = raw meal / clinker is clinker × CaO − raw meal × CaO_nc.
    """
    v = {(str(r["material"]), str(r["parameter"])): _float(r["value"]) for r in lab}
    cl, rm = tonnes["cl-weigher"], tonnes["rm-weigher"]
    coal, af = tonnes["coal-kiln"] + tonnes["coal-calc"], tonnes["af-feeder"]
    fuel = coal * v["coal", "ncv"] * v["coal", "carbon_content"] * 44 / 12
    c_af = af * v["tyre-chips", "ncv"] * v["tyre-chips", "carbon_content"]
    ff = v["tyre-chips", "fossil_fraction"]
    process = (cl * v["clinker", "cao"] - rm * v["raw-meal", "noncarb_cao"]) * 44 / 56 + (
        cl * v["clinker", "mgo"] - rm * v["raw-meal", "noncarb_mgo"]
    ) * 44 / 40
    toc = rm * v["raw-meal", "toc"] * 44 / 12
    return {
        "clinker_t": cl,
        "fuel_co2_t": fuel + c_af * ff * 44 / 12,
        "process_clinker_co2_t": process,
        "process_toc_co2_t": toc,
        "biogenic_t": c_af * (1 - ff) * 44 / 12,
        "direct_co2_t": fuel + c_af * ff * 44 / 12 + process + toc,
    }
