"""History mode: the readings a scenario's meters would have produced over a past span, plus the truth.

`generate(...)` walks [start, end) in day-long chunks, samples every meter every `step_s`
(counters as the meter displays them, faults applied as the edge would see them) and returns
or writes them as a long table (CSV/Parquet: ts_ms, device, quantity, value, bad), as wire-format
reading batches (one JSON batch per line), or publishes them as MQTT batches with their
historical timestamps. The ground truth comes from `PlantModel.truth`, computed from the load
model, never from the emitted readings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from plantcarbon_core.profile import load_profile
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, encode_batch
from simulators.faults import FaultWindow, counter_displays, resolve_faults
from simulators.loads import SLOT_S
from simulators.model import PlantModel, counters_of
from simulators.scenario import Scenario, SimDevice, assign_endpoints, mqtt_fields, port_keys, to_plant

Format = Literal["csv", "parquet", "wire", "mqtt"]
HISTORY_BASE_PORT = 15020  # ports written into a history run's plant file (nothing listens there)
CHUNK = timedelta(days=1)


def reported_quantities(d: SimDevice) -> list[str]:
    """The quantities this device's meter reports: its profile's rows, or its MQTT field map."""
    assert d.meter is not None
    if d.meter.protocol == "modbus":
        assert d.meter.profile is not None
        return [r.quantity for r in load_profile(d.meter.profile).registers if r.quantity]
    return list(mqtt_fields(d)[0])


@dataclass
class History:
    model: PlantModel
    readings: pd.DataFrame  # ts_ms, device, quantity, value, bad
    truth: pd.DataFrame

    def batches(self, edge: str = "sim-history", samples_per_batch: int = 60) -> Iterator[ReadingBatch]:
        """Wire-format batches per device, `seq` from 1, samples in the order the meter sent them."""
        for device, df in self.readings.groupby("device", sort=False):
            seq = 0
            samples: list[Sample] = []
            for ts, g in df.groupby("ts_ms", sort=False):
                values = {q: float(v) for q, v, b in zip(g["quantity"], g["value"], g["bad"], strict=True) if not b}
                bad = {q: str(b) for q, b in zip(g["quantity"], g["bad"], strict=True) if b}
                samples.append(Sample(ts=int(float(str(ts))), values=values, bad=bad))
                if len(samples) >= samples_per_batch:
                    seq += 1
                    yield ReadingBatch(edge=edge, device=str(device), seq=seq, samples=samples)
                    samples = []
            if samples:
                seq += 1
                yield ReadingBatch(edge=edge, device=str(device), seq=seq, samples=samples)


def generate(
    scenario: Scenario,
    start: datetime,
    end: datetime,
    step_s: float = 60.0,
    seed: int | None = None,
    interval_s: int = 900,
    fine_from: datetime | None = None,
    fine_step_s: float = 60.0,
    with_truth: bool = True,
) -> History:
    """Readings every `step_s` for every metered device over [start, end), and the ground truth.

    With `fine_from`, samples are every `fine_step_s` from then on (e.g. 15-minute samples for
    a week, 1-minute samples for its last day), on one counter history: no reset in between.
    """
    model = PlantModel(scenario, seed, origin=start)
    frames = list(iter_readings(model, start, end, step_s, fine_from, fine_step_s))
    readings = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    truth = model.truth(start, end, interval_s) if with_truth else pd.DataFrame()
    return History(model, readings, truth)


def iter_readings(
    model: PlantModel,
    start: datetime,
    end: datetime,
    step_s: float = 60.0,
    fine_from: datetime | None = None,
    fine_step_s: float = 60.0,
) -> Iterator[pd.DataFrame]:
    """`generate`'s readings one device and day-long chunk at a time (long rows), in generate's order.

    A week of 2,000 meters is ~80 M rows: a consumer that writes them as they come (the demo seed)
    holds one device-day at a time instead of the whole table.
    """
    scenario = model.scenario
    if end <= start:
        raise ValueError(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    if step_s <= 0 or fine_step_s <= 0:
        raise ValueError(f"step must be positive, got {step_s} and {fine_step_s}")
    windows = resolve_faults(model, until=end)
    profiles = {
        d.id: load_profile(d.meter.profile)
        for d in scenario.metered
        if d.meter is not None and d.meter.protocol == "modbus" and d.meter.profile
    }
    displays = {d.id: counter_displays(model, d.id, windows, profiles.get(d.id)) for d in scenario.metered}
    by_device: dict[str, list[FaultWindow]] = {}
    for w in windows:
        by_device.setdefault(w.device, []).append(w)
    cum = {i: dict.fromkeys(counters_of(d), 0.0) for i, d in model.devices.items()}
    t0 = model.origin  # slot-aligned, <= start
    split = end if fine_from is None else min(max(fine_from, start), end)
    n_coarse = math.ceil((split - start).total_seconds() / step_s)
    coarse = start.timestamp() + np.arange(n_coarse) * step_s
    n_fine = math.ceil((end - split).total_seconds() / fine_step_s) if split < end else 0
    fine = split.timestamp() + np.arange(n_fine) * fine_step_s
    times_all = np.concatenate((coarse[coarse < split.timestamp()], fine))
    chunk_start = t0
    while chunk_start < end:
        chunk_end = min(chunk_start + CHUNK, end)
        slots, _ = model.slots_between(chunk_start, chunk_end)
        rates = model.rates(slots)
        a, b = chunk_start.timestamp(), chunk_end.timestamp()
        ts = times_all[(times_all >= a) & (times_all < b)]
        idx = (ts // SLOT_S).astype(np.int64) - int(slots[0])
        frac_h = (ts - (ts // SLOT_S) * SLOT_S) / 3600.0
        for d in scenario.metered:
            cr = model.counter_rates(d.id, rates[d.id], slots)
            wanted = reported_quantities(d)
            gauges = model.gauges(d.id, rates[d.id][idx], slots[idx])
            cols: dict[str, np.ndarray] = {}
            for q in wanted:
                if q in cr:
                    per_slot = cr[q] * SLOT_S / 3600.0
                    before = np.concatenate(([0.0], np.cumsum(per_slot)))[idx]
                    integral = cum[d.id][q] + before + cr[q][idx] * frac_h
                    disp = displays[d.id][q]
                    cols[q] = np.array([disp.show(t, v) for t, v in zip(ts, integral, strict=True)])
                elif q in gauges:
                    cols[q] = np.asarray(gauges[q], dtype=np.float64)
            for k, r in cr.items():
                cum[d.id][k] += float(r.sum()) * SLOT_S / 3600.0
            yield _long(d, ts, cols, by_device.get(d.id, []), model.seed)
        chunk_start = chunk_end


def _long(
    d: SimDevice, ts: np.ndarray, cols: dict[str, np.ndarray], windows: list[FaultWindow], seed: int
) -> pd.DataFrame:
    """Long rows for one device, with its faults applied as the edge would record them."""
    n = len(ts)
    ts_ms = np.round(ts * 1000).astype(np.int64)
    bad = np.full(n, "", dtype=object)
    drop = np.zeros(n, dtype=bool)
    dup = np.zeros(n, dtype=bool)
    order = np.arange(n)
    rng = np.random.default_rng(seed)
    values = {q: v.copy() for q, v in cols.items()}
    for w in windows:
        hit = (ts >= w.start) & (ts < w.end)
        if not hit.any():
            continue
        if w.kind == "timeout":
            bad[hit] = "timeout"
        elif w.kind == "exception":
            bad[hit] = f"exception 0x{w.code:02X}"
        elif w.kind == "not_available":
            bad[hit] = "not available"
        elif w.kind == "garbage":
            for q in values:
                values[q][hit] = rng.uniform(-1e9, 1e9, int(hit.sum()))
        elif w.kind == "zero":
            for q in values:
                values[q][hit] = 0.0
        elif w.kind == "clock_skew":
            ts_ms[hit] += int(w.skew_s * 1000)
        elif w.kind == "disconnect":
            drop |= hit
        elif w.kind == "duplicate":
            dup |= hit
        elif w.kind == "out_of_order":
            first = int(np.argmax(hit))
            if first + 1 < n:
                order[first], order[first + 1] = order[first + 1], order[first]
    # Rows in the order the edge recorded them: per sample (dropped ones left out, duplicated
    # ones twice), its quantities in order. Built with numpy: a week of 267 meters is 10 M rows.
    kept = order[~drop[order]]
    kept = np.repeat(kept, np.where(dup[kept], 2, 1))
    names = list(values)
    nq = len(names)
    grid = np.column_stack([values[q][kept] for q in names]) if nq else np.empty((len(kept), 0))
    grid[bad[kept] != "", :] = np.nan
    return pd.DataFrame(
        {
            "ts_ms": np.repeat(ts_ms[kept], nq).astype(np.int64),
            "device": d.id,
            "quantity": np.tile(np.array(names, dtype=object), len(kept)),
            "value": grid.astype(np.float64).ravel(),
            "bad": np.repeat(bad[kept], nq),
        }
    )


def history_plant_yaml(scenario: Scenario) -> str:
    from plantcarbon_core.plant import dump_plant

    keys = port_keys(scenario)
    ports = {k: HISTORY_BASE_PORT + n for n, k in enumerate(keys)}
    return dump_plant(to_plant(scenario, assign_endpoints(scenario, ports)))


def write(history: History, out: Path, fmt: Format, mqtt_url: str | None = None, prefix: str = "pc") -> list[Path]:
    """Write readings in `fmt`, plus truth (same table format, CSV for wire/mqtt), events and the plant file."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    sc = history.model.scenario
    if fmt == "csv":
        written.append(_save(history.readings, out / "readings.csv"))
    elif fmt == "parquet":
        written.append(_save(history.readings, out / "readings.parquet"))
    elif fmt == "wire":
        path = out / "readings.jsonl"
        with path.open("wb") as f:
            for batch in history.batches():
                f.write(encode_batch(batch) + b"\n")
        written.append(path)
    elif fmt == "mqtt":
        publish(history, mqtt_url or "mqtt://127.0.0.1:1883", prefix)
    truth_path = out / ("truth.parquet" if fmt == "parquet" else "truth.csv")
    written.append(_save(history.truth, truth_path))
    events = {
        "scenario": sc.id,
        "seed": history.model.seed,
        "origin": history.model.origin.isoformat(),
        "dr_events": [
            {"id": w.id, "start": w.start.isoformat(), "end": w.end.isoformat(), "shed": w.shed}
            for w in history.model.dr
        ],
    }
    (out / "events.json").write_text(json.dumps(events, indent=2), "utf-8")
    (out / "plant.yaml").write_text(history_plant_yaml(sc), "utf-8")
    written += [out / "events.json", out / "plant.yaml"]
    return written


def _save(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path


def publish(history: History, mqtt_url: str, prefix: str = "pc", edge: str = "sim-history") -> int:
    """Publish every batch at QoS 1 to pc/{site}/{device}/data; returns the number of batches."""

    from plantcarbon_core.mqtt import BrokerConfig, make_client

    broker = BrokerConfig(url=mqtt_url)
    client = make_client(broker, f"{edge}-publisher", v5=False)
    client.max_inflight_messages_set(100)
    client.connect(broker.host, broker.port)
    client.loop_start()
    site = history.model.scenario.site.id
    n = 0
    infos = []
    for batch in history.batches(edge=edge):
        infos.append(client.publish(data_topic(site, batch.device, prefix), encode_batch(batch), qos=1))
        n += 1
    for info in infos:
        info.wait_for_publish(timeout=30)
    client.loop_stop()
    client.disconnect()
    return n
