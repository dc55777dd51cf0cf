"""Metering against a real InfluxDB 2.7: recompute is idempotent, continuous mode closes intervals and takes late data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from metering.carbon.factor_registry import load_registry
from metering.service import Context, ContinuousMetering, recompute
from plantcarbon_core.influx import InfluxTarget, influxql, write_lines
from plantcarbon_core.plant import Plant, parse_plant
from tests.metering.conftest import PLANT_YAML, counter, east_grid_2023

pytestmark = pytest.mark.integration

T0 = pd.Timestamp("2023-06-01T00:00Z")
STEP_15 = pd.Timedelta(minutes=15)
TAGS = {
    "main-1": "electricity,area=substation,kind=transformer",
    "boiler-1": "natural_gas,area=utilities,kind=boiler",
    "steam-1": "steam,area=utilities,kind=steam_header",
}


def _lines(readings: pd.DataFrame) -> list[str]:
    out = []
    for t, dev, q, v in readings[["time", "device", "quantity", "value"]].itertuples(index=False, name=None):
        ms = int(pd.Timestamp(t).timestamp() * 1000)
        out.append(f"{TAGS[dev]},device={dev},edge=e1,site=plant-t {q}={float(v)!r} {ms}")
    return out


def _energy(target: InfluxTarget) -> pd.DataFrame:
    return influxql(target, 'SELECT * FROM "energy" GROUP BY *', database=target.metering_bucket)


def _emissions(target: InfluxTarget) -> pd.DataFrame:
    return influxql(target, 'SELECT * FROM "emissions" GROUP BY *', database=target.metering_bucket)


def test_recompute_writes_energy_and_emissions_idempotently(influx_target: InfluxTarget, plant: Plant) -> None:
    r = pd.concat(
        [
            counter("main-1", "e_imp_kwh", "2023-06-01T00:00", 180, 10.0),
            counter("boiler-1", "vol_nm3", "2023-06-01T00:00", 180, 2.0),
        ]
    )
    write_lines(influx_target, influx_target.raw_bucket, _lines(r))
    ctx = Context(plant, __import__("metering.carbon.factor_registry", fromlist=["load_registry"]).load_registry(), [])
    progress: list[int] = []
    n1, problems = recompute(
        ctx, influx_target, T0, T0 + pd.Timedelta(hours=3), chunk=pd.Timedelta(hours=1), progress=progress.append
    )
    assert problems == []
    assert progress == [4, 4, 4]
    e1, m1 = _energy(influx_target), _emissions(influx_target)
    n2, _ = recompute(ctx, influx_target, T0, T0 + pd.Timedelta(hours=3), chunk=pd.Timedelta(minutes=45))
    e2, m2 = _energy(influx_target), _emissions(influx_target)
    assert n1 == n2
    assert len(e1) == len(e2) == 24  # 12 intervals × 2 devices
    cols = ["time", "device", "amount", "tce_kg"]
    pd.testing.assert_frame_equal(
        e1.sort_values(["device", "time"])[cols].reset_index(drop=True),
        e2.sort_values(["device", "time"])[cols].reset_index(drop=True),
    )
    assert len(m1) == len(m2)
    main = e2[e2["device"] == "main-1"]
    assert main["amount"].sum() == pytest.approx(1800.0)
    loc = m2[(m2["device"] == "main-1") & (m2["method"] == "location")]
    assert loc["co2_kg"].sum() == pytest.approx(1800 * 0.55)
    assert set(loc["factor"]) == {"cn-grid-east@2023"}
    gas = m2[m2["device"] == "boiler-1"]
    assert set(gas["scope"]) == {"1"} and set(gas["factor"]) == {"cn-fuel-natural-gas@2015"}


# A factor update: the East China grid factor re-published with another value and a new version.
UPDATE = east_grid_2023("2023-rev1", 0.6)


def test_recompute_from_stored_energy_equals_recompute_from_readings(
    influx_target: InfluxTarget, plant: Plant, tmp_path: Path
) -> None:
    r = pd.concat(
        [
            counter("main-1", "e_imp_kwh", "2023-06-01T00:00", 180, 10.0),
            counter("boiler-1", "vol_nm3", "2023-06-01T00:00", 180, 2.0),
        ]
    )
    write_lines(influx_target, influx_target.raw_bucket, _lines(r))
    end = T0 + pd.Timedelta(hours=3)
    recompute(Context(plant, load_registry(), []), influx_target, T0, end)
    before = _energy(influx_target)
    (tmp_path / "update.yaml").write_text(UPDATE)
    updated = Context(plant, load_registry([tmp_path / "update.yaml"]), [])

    n, problems = recompute(updated, influx_target, T0, end, source="energy", chunk=pd.Timedelta(hours=1))
    assert problems == []
    # Every emissions point; no energy point, as the tce coefficients did not change.
    assert n == len(_emissions(influx_target))
    repriced_e, repriced_m = _energy(influx_target), _emissions(influx_target)
    # Energy itself is untouched; the emissions use the new factor.
    cols = ["time", "device", "amount", "status", "completeness", "tce_kg"]
    pd.testing.assert_frame_equal(
        before.sort_values(["device", "time"])[cols].reset_index(drop=True),
        repriced_e.sort_values(["device", "time"])[cols].reset_index(drop=True),
    )
    loc = repriced_m[(repriced_m["device"] == "main-1") & (repriced_m["method"] == "location")]
    assert set(loc["factor"]) == {"cn-grid-east@2023-rev1"}
    assert loc["co2_kg"].sum() == pytest.approx(1800 * 0.6)

    # The same as deriving everything again from the readings with the new factor.
    recompute(updated, influx_target, T0, end, source="readings")
    key = ["time", "device", "scope", "method"]
    vals = ["co2_kg", "co2e_kg", "factor", "gwp"]
    full = _emissions(influx_target)
    pd.testing.assert_frame_equal(
        repriced_m.sort_values(key)[key + vals].reset_index(drop=True),
        full.sort_values(key)[key + vals].reset_index(drop=True),
    )


@pytest.mark.parametrize("source", ["energy", "readings"])
def test_recompute_after_marking_steam_onsite_leaves_no_old_steam_rows(
    influx_target: InfluxTarget, source: str
) -> None:
    """Issue 14 defect 3 in stored history: steam metered while the plant file took it as
    purchased keeps no emissions point and no tce once its supply says the boiler makes it."""
    r = pd.concat(
        [
            counter("boiler-1", "vol_nm3", "2023-06-01T00:00", 60, 2.0),
            counter("steam-1", "mass_t", "2023-06-01T00:00", 60, 0.02),
        ]
    )
    write_lines(influx_target, influx_target.raw_bucket, _lines(r))
    end = T0 + pd.Timedelta(hours=1)
    recompute(Context(parse_plant(PLANT_YAML), load_registry(), []), influx_target, T0, end)
    old = _emissions(influx_target)
    assert len(old[old["device"] == "steam-1"]) == 8  # 4 intervals × location and market, as purchased heat
    onsite = parse_plant(
        PLANT_YAML.replace(
            "return_temp_c: 20}}", "return_temp_c: 20}, supply: {origin: onsite, generated_by: boiler-1}}"
        )
    )
    _, problems = recompute(Context(onsite, load_registry(), []), influx_target, T0, end, source=source)
    assert problems == []
    em, energy = _emissions(influx_target), _energy(influx_target)
    assert set(em["device"]) == {"boiler-1"} and len(em) == 4
    steam = energy[energy["device"] == "steam-1"]
    assert len(steam) == 4 and (steam["tce_kg"] == 0.0).all() and (steam["amount"] > 0).all()


def test_recompute_from_energy_says_where_nothing_was_stored(influx_target: InfluxTarget, plant: Plant) -> None:
    ctx = Context(plant, load_registry(), [])
    n, problems = recompute(ctx, influx_target, T0, T0 + pd.Timedelta(hours=2), source="energy")
    assert n == 0
    assert problems == ["no energy stored for 2023-06-01 00:00Z–2023-06-01 02:00Z: use --source readings"]
    with pytest.raises(ValueError, match="source must be one of"):
        recompute(ctx, influx_target, T0, T0 + STEP_15, source="bucket")


def test_continuous_mode_closes_after_lateness_and_recomputes_late_data(
    influx_target: InfluxTarget, plant: Plant
) -> None:
    from metering.carbon.factor_registry import load_registry

    ctx = Context(plant, load_registry(), [])
    svc = ContinuousMetering(ctx, influx_target, horizon=pd.Timedelta(hours=6))
    r = counter("main-1", "e_imp_kwh", "2023-06-01T00:00", 60, 10.0)
    # 00:20–00:40 is missing at first (an edge outage): it will arrive late.
    late = (r["time"] > "2023-06-01T00:20Z") & (r["time"] < "2023-06-01T00:40Z")
    write_lines(influx_target, influx_target.raw_bucket, _lines(r[~late]))

    # 00:46: with lateness 120 s, only intervals ending by 00:44 are closed: 00:00, 00:15, 00:30 is not.
    done = svc.cycle(T0 + pd.Timedelta(minutes=46))
    assert done == [T0, T0 + pd.Timedelta(minutes=15)]
    # 01:05: 00:30 and 00:45 close too; 00:15 is redone because its end boundary is
    # interpolated towards a sample (00:40) that the first pass did not count yet.
    done = svc.cycle(T0 + pd.Timedelta(minutes=65))
    assert set(done) >= {T0 + pd.Timedelta(minutes=30), T0 + pd.Timedelta(minutes=45)}
    assert T0 not in done
    e = _energy(influx_target).set_index("time")
    assert e.loc[T0 + pd.Timedelta(minutes=15), "status"] == "estimated"
    assert e["amount"].sum() == pytest.approx(600.0)  # the gap is spread, nothing lost
    # Nothing new: a cycle writes nothing.
    assert svc.cycle(T0 + pd.Timedelta(minutes=66)) == []

    # The late samples arrive: the affected intervals (and their neighbours) are recomputed.
    write_lines(influx_target, influx_target.raw_bucket, _lines(r[late]))
    done = svc.cycle(T0 + pd.Timedelta(minutes=70))
    assert T0 + pd.Timedelta(minutes=15) in done and T0 + pd.Timedelta(minutes=30) in done
    e = _energy(influx_target).set_index("time")
    assert e.loc[T0 + pd.Timedelta(minutes=15), "status"] == "measured"
    assert e.loc[T0 + pd.Timedelta(minutes=30), "completeness"] == pytest.approx(1.0)
    assert list(e.sort_index()["amount"]) == pytest.approx([150.0] * 4)
    assert len(e) == 4  # rewritten in place, not duplicated
    assert svc.errors == {}


def test_continuous_mode_survives_a_stopped_database(tmp_path: object, plant: Plant) -> None:
    from pathlib import Path

    from harness.influxdb import start_influxdb
    from metering.carbon.factor_registry import load_registry

    server = start_influxdb(Path(str(tmp_path)))
    try:
        target = server.fresh_target()
        svc = ContinuousMetering(Context(plant, load_registry(), []), target, horizon=pd.Timedelta(hours=2))
        r = counter("main-1", "e_imp_kwh", "2023-06-01T00:00", 30, 10.0)
        write_lines(target, target.raw_bucket, _lines(r))
        server.stop()
        assert svc.cycle(T0 + pd.Timedelta(minutes=40)) == []
        assert any(k.startswith("count query failed") for k in svc.errors)
        server.start()
        assert svc.cycle(T0 + pd.Timedelta(minutes=40)) == [T0, T0 + pd.Timedelta(minutes=15)]
    finally:
        server.stop()


def test_recompute_command_after_a_factor_update(
    influx_target: InfluxTarget, plant: Plant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The energy manager's path: meter once from readings, add a factor file to the plant,
    # then `plantcarbon metering recompute --source energy`.
    from typer.testing import CliRunner

    from plantcarbon.cli import app
    from tests.metering.conftest import PLANT_YAML

    for key, value in {
        "URL": influx_target.url,
        "ORG": influx_target.org,
        "TOKEN": influx_target.token,
        "RAW_BUCKET": influx_target.raw_bucket,
        "METERING_BUCKET": influx_target.metering_bucket,
    }.items():
        monkeypatch.setenv(f"PLANTCARBON_INFLUX_{key}", value)
    write_lines(
        influx_target, influx_target.raw_bucket, _lines(counter("main-1", "e_imp_kwh", "2023-06-01T00:00", 60, 10.0))
    )
    plant_file = tmp_path / "plant.yaml"
    plant_file.write_text(PLANT_YAML, "utf-8")
    span = ["--from", "2023-06-01T08:00", "--to", "2023-06-01T09:00"]  # Shanghai time = 00:00–01:00 UTC
    runner = CliRunner()
    first = runner.invoke(app, ["metering", "recompute", "--plant", str(plant_file), *span])
    assert first.exit_code == 0, first.output
    assert "for 4 intervals" in first.output

    (tmp_path / "update.yaml").write_text(UPDATE, "utf-8")
    plant_file.write_text(
        PLANT_YAML.replace("metering: {gwp_set: AR6}", "metering: {gwp_set: AR6, factor_files: [update.yaml]}")
    )
    again = runner.invoke(app, ["metering", "recompute", "--plant", str(plant_file), *span, "--source", "energy"])
    assert again.exit_code == 0, again.output
    loc = _emissions(influx_target)
    loc = loc[(loc["device"] == "main-1") & (loc["method"] == "location")]
    assert set(loc["factor"]) == {"cn-grid-east@2023-rev1"}
    assert loc["co2_kg"].sum() == pytest.approx(600 * 0.6)

    bad = runner.invoke(app, ["metering", "recompute", "--plant", str(plant_file), *span, "--source", "bucket"])
    assert bad.exit_code != 0
    assert "--source" in bad.output and "readings, energy" in bad.output
