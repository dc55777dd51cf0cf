"""Demand forecast figures: error of the block's final demand at 5 and 10 minutes in, and pre-alarm lead time.

Runs the simulators' scenario in history mode (1-minute readings of the main meters), sums the
site's main electricity meters, replays the live forecast minute by minute, and prints:
- forecast error of the 15-minute block's final demand at 5 and 10 minutes into the block
  (mean absolute error in kW and %, 95th percentile %);
- pre-alarm lead time before blocks that end over the limit (minutes before the block end,
  and before the first minute the sliding 15-minute demand crosses the limit), misses and
  false alarms.
The scenario's contract limit is used when it is exceeded in some blocks but not in more than
10 % of them; otherwise (a limit never reached, or one the plant runs above all day) the limit
is set 2 % above the plant's own maximum block demand, and `--inject-kw` adds unplanned load
starts (a step of that many kW, default 5 % of the mean demand, lasting 30 minutes, every 3
hours at a seeded random minute) that push the demand over it: the pre-alarm lead is measured
on those. The output says which.

    .venv/bin/python bench/demand_forecast.py --scenario cement --days 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from metering.demand import block_demand, live_forecast, prealarm_events, sliding_demand
from simulators.history import generate
from simulators.scenario import ScenarioError, load_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="cement")
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--start", default="2026-03-02", help="first local day (a Monday is a good start)")
    ap.add_argument("--limit", type=float, default=None, help="demand limit kW (default: the scenario's, see above)")
    ap.add_argument("--inject-kw", type=float, default=None, help="injected load starts, kW (0: none)")
    ap.add_argument("--margin", type=float, default=None, help="pre-alarm margin %% (default: the scenario's)")
    args = ap.parse_args()
    try:
        sc = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"scenario {args.scenario!r} not available ({exc}); using 'small'")
        sc = load_scenario("small")
    tz = ZoneInfo(sc.site.timezone)
    start = dt.datetime.fromisoformat(args.start).replace(tzinfo=tz)
    end = start + dt.timedelta(days=args.days)
    mains = [d.id for d in sc.devices if d.role == "main" and d.carrier == "electricity"]
    t0 = time.perf_counter()
    h = generate(sc, start, end, step_s=60)
    t_gen = time.perf_counter() - t0
    r = h.readings[(h.readings["device"].isin(mains)) & (h.readings["quantity"] == "p_kw") & (h.readings["bad"] == "")]
    per = r.pivot_table(index="ts_ms", columns="device", values="value", aggfunc="mean")
    site_kw = per.sum(axis=1, min_count=len(mains)).to_numpy()
    power = pd.Series(site_kw, index=pd.to_datetime(per.index, unit="ms", utc=True))
    power = power.dropna()
    blocks = block_demand(power)["demand_kw"].dropna()
    margin = args.margin if args.margin is not None else sc.contract.prealarm_margin_pct
    # Forecast errors on the scenario as simulated (before any injected load starts).
    t0 = time.perf_counter()
    fc_plain = live_forecast(power, limit_kw=float(blocks.max()) * 10, margin_pct=margin)
    t_fc = time.perf_counter() - t0
    final_plain = fc_plain[fc_plain["elapsed_min"] == 15].set_index("window_end")["forecast_kw"]
    print(f"scenario {sc.id}: {args.days} days from {start:%Y-%m-%d}, site = {' + '.join(mains)}, "
          f"{len(power)} minutes, {len(final_plain)} blocks; history {t_gen:.1f} s, forecast replay {t_fc:.2f} s "
          f"({1e6 * t_fc / max(len(fc_plain), 1):.0f} µs per forecast)")  # fmt: skip
    print(f"block demand: mean {blocks.mean():.0f} kW, max {blocks.max():.0f} kW; "
          f"max sliding demand {sliding_demand(power)['demand_kw'].max():.0f} kW")  # fmt: skip
    for k in (5, 10):
        at_k = fc_plain[fc_plain["elapsed_min"] == k].set_index("window_end")["forecast_kw"]
        err = (at_k - final_plain).dropna()
        pct = (err.abs() / final_plain.reindex(err.index)).dropna() * 100
        print(f"forecast error at {k:2d} min into the block: MAE {err.abs().mean():.1f} kW "
              f"({pct.mean():.2f} %), p95 {np.percentile(pct, 95):.2f} %, "
              f"bias {err.mean():+.1f} kW, n={len(err)}")  # fmt: skip
    limit = args.limit or sc.contract.demand_limit_kw
    note = "given" if args.limit else "the scenario's contract limit"
    share_over = float((blocks > limit).mean()) if limit is not None else 0.0
    if limit is None or share_over == 0 or share_over > 0.10:
        why = "never reached" if share_over == 0 else f"exceeded in {100 * share_over:.0f} % of blocks"
        limit = float(blocks.max() * 1.02)
        note = f"2 % above the plant's own maximum block demand (the contract limit is {why})"
        inject = float(blocks.mean() * 0.05) if args.inject_kw is None else args.inject_kw
        if inject > 0:
            rng = np.random.default_rng(1)
            extra = np.zeros(len(power))
            for k in range(0, len(power) - 40, 180):
                s0 = k + int(rng.integers(0, 150))
                extra[s0 : s0 + 30] = inject
            power = power + extra
            note += f"; {int((extra > 0).sum() / 30)} injected {inject:.0f} kW load starts of 30 min"
            blocks = block_demand(power)["demand_kw"].dropna()
    fc = live_forecast(power, limit_kw=limit, margin_pct=margin)
    final = fc[fc["elapsed_min"] == 15].set_index("window_end")["forecast_kw"]
    threshold = limit * (1 - margin / 100)
    print(f"limit {limit:.0f} kW ({note}), margin {margin} % → pre-alarm at {threshold:.0f} kW")
    alarms = prealarm_events(fc)
    over = final[final > limit]
    sliding = sliding_demand(power)["demand_kw"]
    leads, missed = [], 0
    for end_t in over.index:
        a = alarms[alarms["window_end"] == end_t]
        if a.empty:
            missed += 1
            continue
        at = a.index[0]
        leads.append((end_t - at) / pd.Timedelta(minutes=1))
    false = int(((final < threshold) & final.index.isin(alarms["window_end"])).sum())
    if leads:
        print(f"pre-alarm lead before the end of {len(over)} over-limit blocks: median {np.median(leads):.1f} min, "
              f"min {min(leads):.0f}, max {max(leads):.0f}; missed {missed}")  # fmt: skip
    else:
        print(f"no over-limit blocks alarmed ({len(over)} over, {missed} missed)")
    # Episodes: the sliding 15-minute demand rising through the limit. The lead is the time from the
    # start of the pre-alarm run in force at that minute to the crossing; no alarm in force = late.
    state = fc["prealarm"].astype(bool)
    onset = state & ~state.shift(1, fill_value=False)
    onsets = state.index[onset]
    above = sliding > limit
    crossings = sliding.index[above & ~above.shift(1, fill_value=False)]
    ep_leads, late = [], 0
    for c in crossings:
        alarm_now = state.reindex([c], method="ffill").iloc[0] if c >= state.index[0] else False
        before = onsets[onsets <= c]
        if not alarm_now or before.empty:
            late += 1
            continue
        ep_leads.append((c - before[-1]) / pd.Timedelta(minutes=1))
    if ep_leads:
        print(f"pre-alarm lead before the sliding 15-min demand rises through the limit ({len(crossings)} episodes): "
              f"median {np.median(ep_leads):.1f} min, p10 {np.percentile(ep_leads, 10):.1f}, min {min(ep_leads):.0f}; "
              f"no alarm in force at the crossing: {late}")  # fmt: skip
    print(f"false pre-alarms (block ended under the pre-alarm threshold): {false} of {len(alarms)} alarmed blocks")


if __name__ == "__main__":
    main()
