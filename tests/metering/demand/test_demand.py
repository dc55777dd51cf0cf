"""Demand: block vs sliding from the same 1-minute series, month maxima, forecast and pre-alarm, demand charge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metering.demand import (
    block_demand,
    demand_charge,
    forecast_block,
    live_forecast,
    month_max,
    prealarm_events,
    sliding_demand,
)
from metering.demand.io import demand_lines

TZ = "Asia/Shanghai"


def minutes(start: str, values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="1min", tz=TZ), dtype=float)


def burst_series() -> pd.Series:
    # 10:00-11:00: 400 kW, with a 15-minute burst of 1000 kW from 10:05 to 10:20 that straddles
    # the 10:15 block boundary. Worked by hand:
    #   block 10:00-10:15: (5×400 + 10×1000)/15 = 800 kW; block 10:15-10:30: (5×1000 + 10×400)/15 = 600 kW
    #   sliding window 10:05-10:20 (labelled 10:20): 1000 kW, the true 15-minute maximum.
    v = [400.0] * 60
    v[5:20] = [1000.0] * 15
    return minutes("2025-07-01 10:00", v)


def test_block_and_sliding_demand_of_the_same_series() -> None:
    p = burst_series()
    block = block_demand(p)
    assert block["demand_kw"].tolist() == pytest.approx([800.0, 600.0, 400.0, 400.0])
    assert list(block.index.strftime("%H:%M")) == ["10:15", "10:30", "10:45", "11:00"]  # labelled by window end
    assert set(block["method"]) == {"block"}
    assert block["energy_kwh"].iloc[0] == pytest.approx(200.0)  # 800 kW over a quarter hour
    sliding = sliding_demand(p)
    assert sliding["demand_kw"].max() == pytest.approx(1000.0)
    assert sliding["demand_kw"].idxmax().strftime("%H:%M") == "10:20"
    # Where a sliding window coincides with a block, the two agree.
    assert sliding.loc[block.index, "demand_kw"].tolist() == pytest.approx(block["demand_kw"].tolist())
    assert sliding["demand_kw"].max() >= block["demand_kw"].max()


def test_gaps_are_not_zeros() -> None:
    v = [600.0] * 30
    p = minutes("2025-07-01 10:00", v).drop(pd.date_range("2025-07-01 10:15", periods=6, freq="1min", tz=TZ))
    block = block_demand(p)
    assert block["demand_kw"].iloc[0] == pytest.approx(600.0)
    # 9 of 15 minutes is below the 80 % coverage needed: no demand rather than a low one.
    assert np.isnan(block["demand_kw"].iloc[1])
    assert block["coverage"].iloc[1] == pytest.approx(9 / 15)


def test_month_max_and_when_across_a_month_end() -> None:
    # 31 July 23:45-24:00 at 900 kW ends at midnight: it belongs to July, not August.
    v = [100.0] * 45 + [900.0] * 15 + [500.0] * 15
    p = minutes("2025-07-31 23:00", v)
    mm = month_max(block_demand(p), TZ)
    assert mm["month"].tolist() == ["2025-07", "2025-08"]
    assert mm["max_kw"].tolist() == pytest.approx([900.0, 500.0])
    assert mm["at"].iloc[0] == pd.Timestamp("2025-08-01 00:00", tz=TZ)


def test_forecast_from_energy_so_far_and_present_power() -> None:
    # 5 minutes at 800 kW then 2 at 1100 kW: energy so far = (5×800 + 2×1100)/60 kWh;
    # forecast = (5×800 + 2×1100 + 8×1100)/15 = 1000 kW. Limit 1000, margin 5 % → threshold 950: alarm.
    seen = np.array([800.0] * 5 + [1100.0] * 2)
    f, present, energy, alarm, shed = forecast_block(seen, limit_kw=1000.0, margin_pct=5.0)
    assert f == pytest.approx(1000.0)
    assert present == pytest.approx(1100.0)
    assert energy == pytest.approx((5 * 800 + 2 * 1100) / 60)
    assert alarm is True
    assert shed == pytest.approx(0.0)
    # Limit 900: forecast is 100 kW over; shedding S for the 8 remaining minutes lowers it by 8S/15.
    f, _, _, _, shed = forecast_block(seen, limit_kw=900.0, margin_pct=5.0)
    assert shed == pytest.approx(100.0 * 15 / 8)
    # And shedding exactly that keeps the block at the limit.
    final = (5 * 800 + 2 * 1100 + 8 * (1100 - shed)) / 15
    assert final == pytest.approx(900.0)


def test_prealarm_fires_before_the_overshoot() -> None:
    # Load steps from 700 to 1300 kW at 10:04 in a block whose limit is 1000 kW.
    # The block's demand ends at (4×700 + 11×1300)/15 = 1140 kW: an overshoot known at 10:15.
    v = [700.0] * 4 + [1300.0] * 11
    p = minutes("2025-07-01 10:00", v)
    fc = live_forecast(p, limit_kw=1000.0, margin_pct=5.0)
    final = fc[fc["elapsed_min"] == 15]["forecast_kw"].iloc[0]
    assert final == pytest.approx(1140.0)
    first = prealarm_events(fc)
    assert len(first) == 1
    alarm_at = first.index[0]
    assert alarm_at < pd.Timestamp("2025-07-01 10:15", tz=TZ)
    # Present power is the mean of the last 2 minutes. At 10:05 it is (700+1300)/2 = 1000 and the
    # forecast (4×700 + 1300 + 10×1000)/15 = 940 kW stays under the 950 kW threshold; at 10:06 it is
    # 1300 and the forecast (4×700 + 2×1300 + 9×1300)/15 = 1140 kW fires, 9 minutes before the block ends.
    assert alarm_at == pd.Timestamp("2025-07-01 10:06", tz=TZ)
    assert first["shed_kw"].iloc[0] == pytest.approx((1140.0 - 1000.0) * 15 / 9)


def test_no_prealarm_under_the_threshold() -> None:
    p = minutes("2025-07-01 10:00", [900.0] * 15)
    fc = live_forecast(p, limit_kw=1000.0, margin_pct=5.0)
    assert not fc["prealarm"].any()


# Demand charge: 发改办价格〔2016〕1583号 — contract value billed up to 105 %, the part above 105 %
# at double the price; contract value not below 40 % of transformer + HV motor capacity.
# Price 40 CNY/kW-month, contract 4000 kW in all cases below.


def test_charge_below_contract_bills_the_contract_value() -> None:
    c = demand_charge(3500, 40, contract_kw=4000)
    assert c.charge == pytest.approx(4000 * 40)  # 160 000


def test_charge_between_100_and_105_pct_bills_the_contract_value() -> None:
    c = demand_charge(4150, 40, contract_kw=4000)  # 103.75 %
    assert c.charge == pytest.approx(160_000)
    assert c.over_kw == 0


def test_charge_above_105_pct_doubles_the_excess() -> None:
    # 4500 kW: 4200 kW (105 %) at 40, the 300 kW above at 80 → 168 000 + 24 000 = 192 000.
    c = demand_charge(4500, 40, contract_kw=4000)
    assert (c.normal_kw, c.over_kw) == (pytest.approx(4200), pytest.approx(300))
    assert c.charge == pytest.approx(192_000)


def test_charge_contract_below_40_pct_of_capacity_is_raised_to_it() -> None:
    # 12 500 kVA installed: 40 % = 5000 kW > the declared 4000 kW, so 5000 kW is the contract value.
    c = demand_charge(3000, 40, contract_kw=4000, capacity_kva=12_500)
    assert c.floor_applied
    assert c.effective_contract_kw == pytest.approx(5000)
    assert c.charge == pytest.approx(200_000)
    # …and the 105 % threshold follows the raised value: 5300 kW is under 5250? no: 5300 > 5250 → 50 kW doubled.
    c = demand_charge(5300, 40, contract_kw=4000, capacity_kva=12_500)
    assert c.charge == pytest.approx(5250 * 40 + 50 * 80)


def test_charge_by_actual_demand_and_bad_input() -> None:
    assert demand_charge(3500, 40, mode="actual").charge == pytest.approx(140_000)
    with pytest.raises(ValueError, match="contract value"):
        demand_charge(3500, 40)


def test_demand_lines_merge_block_and_sliding_at_the_same_minute() -> None:
    p = burst_series()
    lines = demand_lines("plant-a", "tr-01", block=block_demand(p), sliding=sliding_demand(p), limit_kw=1000)
    at_1015 = [ln for ln in lines if ln.endswith(str(int(pd.Timestamp("2025-07-01 10:15", tz=TZ).value // 1_000_000)))]
    assert len(at_1015) == 1
    assert at_1015[0].startswith("demand,device=tr-01,site=plant-a ")
    assert "demand_kw=800" in at_1015[0] and "sliding_kw=800" in at_1015[0] and "limit_kw=1000" in at_1015[0]
