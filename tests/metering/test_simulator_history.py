"""Against simulator history with ground truth: interval energy within 0.1 % per device, CO2 exact given the factors."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from metering.carbon.emissions import compute
from metering.carbon.factor_registry import load_registry
from metering.carbon.intervals import compute_intervals
from plantcarbon_core.plant import Plant, parse_plant
from simulators.history import History, generate, history_plant_yaml
from simulators.scenario import available_scenarios, parse_scenario

COUNTER = {"electricity": "e_imp_kwh", "natural_gas": "vol_nm3", "steam": "mass_t", "production": "output_t"}
START, END = datetime(2023, 6, 1, tzinfo=UTC), datetime(2023, 6, 2, tzinfo=UTC)


def _history(extra: str = "") -> tuple[History, Plant]:
    text = available_scenarios()["small"].read_text("utf-8") + extra
    scenario = parse_scenario(text, "small.yaml")
    hist = generate(scenario, START, END, step_s=60, seed=7)
    return hist, parse_plant(history_plant_yaml(scenario))


def _readings(hist: History) -> pd.DataFrame:
    """What ingest would have stored: bad samples are not fields."""
    r = hist.readings[hist.readings["bad"].fillna("") == ""]
    return pd.DataFrame(
        {
            "time": pd.to_datetime(r["ts_ms"], unit="ms", utc=True),
            "device": r["device"],
            "quantity": r["quantity"],
            "value": r["value"],
        }
    )


def _compare(iv: pd.DataFrame, hist: History, plant: Plant) -> pd.DataFrame:
    rows = []
    # The last interval is only partly sampled (the last reading is at 23:59): compare the rest.
    last = pd.Timestamp(END) - pd.Timedelta(minutes=15)
    for d in plant.devices:
        mine = iv[(iv["device"] == d.id) & (iv["quantity"] == COUNTER[d.carrier]) & (iv["interval_start"] < last)]
        mine = mine.set_index("interval_start")["amount"]
        truth = hist.truth[hist.truth["device"] == d.id].set_index("start")["imp"].reindex(mine.index)
        rows.append({"device": d.id, "mine": mine.sum(), "truth": truth.sum(), "n": len(mine)})
    return pd.DataFrame(rows)


def test_clean_history_matches_ground_truth_per_device() -> None:
    hist, plant = _history()
    iv = compute_intervals(_readings(hist), plant)
    cmp = _compare(iv, hist, plant)
    assert (cmp["n"] == 95).all()
    metered = cmp[cmp["truth"] > 0]
    assert len(metered) >= 15
    rel = (metered["mine"] - metered["truth"]).abs() / metered["truth"]
    assert rel.max() < 1e-3, cmp.assign(rel=rel).to_string()
    # CO2 exact given the factors: location-based scope 2 of each electricity main meter is its
    # interval energy × the 2023 华东 factor 0.5500 kg/kWh (MEE/NBS 2023 announcement).
    res = compute(iv, plant, load_registry())
    em = res.emissions
    loc = em[(em["method"] == "location") & (em["role"] == "main") & (em["carrier"] == "electricity")]
    assert len(loc) == 2 * 96  # tr-01 and tr-02
    assert em[em["device"] == "pv-1"].empty  # generation carries no emissions
    energy = res.energy.set_index(["device", "interval_start"])["amount"]
    for (dev, ts), co2 in loc.set_index(["device", "interval_start"])["co2_kg"].items():
        assert co2 == pytest.approx(energy[(dev, ts)] * 0.55, rel=1e-12)
    truth_main = hist.truth[hist.truth["device"] == "tr-01"]
    truth_main = truth_main[truth_main["start"] < pd.Timestamp(END) - pd.Timedelta(minutes=15)]
    mine_co2 = loc[(loc["device"] == "tr-01") & (loc["interval_start"] < pd.Timestamp(END) - pd.Timedelta(minutes=15))]
    assert mine_co2["co2_kg"].sum() == pytest.approx(truth_main["imp"].sum() * 0.55, rel=1e-3)


def test_faulted_history_stays_within_tolerance() -> None:
    # Timeouts (values missing) and transient zero reads on every meter: gaps are estimated,
    # zeros are rejected as transients; totals stay within 0.1 % of the truth.
    hist, plant = _history("\nrandom_faults: {per_device_per_hour: 1.0, kinds: [timeout, zero], duration_s: 10}\n")
    assert (hist.readings["bad"].fillna("") != "").any()
    iv = compute_intervals(_readings(hist), plant)
    assert iv["events"].str.contains("transient").any()
    cmp = _compare(iv, hist, plant)
    metered = cmp[cmp["truth"] > 0]
    rel = (metered["mine"] - metered["truth"]).abs() / metered["truth"]
    assert rel.max() < 1e-3, cmp.assign(rel=rel).to_string()
