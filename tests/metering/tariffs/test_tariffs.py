"""TOU tariffs: the shipped files against their sources, effective dates, holidays, validation, CLI."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from metering.tariffs import (
    TariffError,
    TariffFileError,
    builtin_tariff_paths,
    classify,
    cost_summary,
    fill_tou_cost,
    interval_cost,
    load_calendar,
    load_tariff,
    load_tariff_file,
)
from metering.tariffs.cli import app

TZ = "Asia/Shanghai"
FIXTURES = Path(__file__).parent / "tariff_files"


def at(*times: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(t, tz=TZ) for t in times])


def test_every_builtin_file_loads_and_is_sourced() -> None:
    ids = {p.stem for p in builtin_tariff_paths()}
    assert {"cn-js-large-industry", "cn-gd-large-industry"} <= ids
    for tid in ids:
        t = load_tariff(tid)
        for v in t.versions:
            assert v.source.document


def test_guangzhou_table_follows_the_331_ratios() -> None:
    # 粤发改价格〔2021〕331号: peak:flat:valley = 1.7:1:0.38, sharp = peak × 1.25, prices rounded to
    # 0.01 fen; the Guangzhou five-city table: flat 67.25, peak 114.33, valley 25.56 fen/kWh.
    t = load_tariff("cn-gd-gz-general-lt1kv")
    v = t.versions[0]
    assert v.prices is not None

    def fen(yuan: float, ratio: str) -> Decimal:  # round half up to 0.01 fen, as the notice says
        return (Decimal(str(yuan)) * 100 * Decimal(ratio)).quantize(Decimal("0.01"), ROUND_HALF_UP)

    flat = v.prices["flat"]
    assert fen(flat, "1.7") == Decimal("114.33") == fen(v.prices["peak"], "1")
    assert fen(flat, "0.38") == Decimal("25.56") == fen(v.prices["valley"], "1")
    assert fen(v.prices["peak"], "1.25") == fen(v.prices["sharp"], "1")


def test_guangdong_bands_and_summer_sharp_peak() -> None:
    t = load_tariff("cn-gd-large-industry")
    c = classify(t, at("2025-08-12 07:45", "2025-08-12 10:00", "2025-08-12 11:15", "2025-08-12 13:00",
                       "2025-08-12 16:30", "2025-08-12 18:45", "2025-11-12 11:15"), TZ)  # fmt: skip
    assert c["tou"].tolist() == ["valley", "peak", "sharp", "flat", "sharp", "peak", "peak"]
    v = t.versions[0]
    assert c["price"].iloc[2] == pytest.approx(v.price_of("peak", 8) * 1.25 - v.fixed_adder * 0.25)


def test_jiangsu_seasons_wrap_past_midnight_and_start_date() -> None:
    t = load_tariff("cn-js-large-industry")
    # Spring/autumn flat runs 22:00-02:00; summer/winter valley is 00:00-06:00.
    c = classify(t, at("2025-10-15 01:30", "2025-10-15 02:00", "2025-07-15 01:30", "2025-07-15 14:00",
                       "2025-10-15 14:45"), TZ)  # fmt: skip
    assert c["tou"].tolist() == ["flat", "valley", "valley", "peak", "flat"]
    # 426号 ratios for two-part users: peak +80 %, valley −65 %, on the floating part only.
    v = t.versions[0]
    assert v.price_of("peak", 7) - v.fixed_adder == pytest.approx(1.8 * v.flat_price)
    assert v.price_of("valley", 7) - v.fixed_adder == pytest.approx(0.35 * v.flat_price)
    with pytest.raises(TariffError, match="no version in effect on 2025-05-31"):
        classify(t, at("2025-05-31 12:00"), TZ)


def test_cost_across_a_tariff_change_date() -> None:
    t = load_tariff_file(FIXTURES / "test-two-versions.yaml")
    energy = pd.DataFrame(
        {
            "time": at("2025-02-28 09:00", "2025-02-28 13:00", "2025-03-01 09:00", "2025-03-01 13:00"),
            "device": ["tr-01"] * 4,
            "kwh": [100.0, 100.0, 100.0, 100.0],
        }
    )
    out = interval_cost(t, energy, TZ)
    # 28 Feb (a Friday) on v1: peak 1.0, flat 0.6; 1 Mar (Saturday) on v2: peak 1.2, flat 0.7.
    assert out["cost"].tolist() == pytest.approx([100.0, 60.0, 120.0, 70.0])
    assert out["version"].tolist() == ["2025-01-01", "2025-01-01", "2025-03-01", "2025-03-01"]
    # Re-costing February after the change gives the same cost: past costs are never rewritten.
    again = interval_cost(t, energy.iloc[:2], TZ)
    assert again["cost"].tolist() == pytest.approx([100.0, 60.0])


def test_cost_on_a_holiday_and_per_device_summary() -> None:
    t = load_tariff_file(FIXTURES / "test-two-versions.yaml")
    # 2025-05-01 is a Labour Day holiday (国办发明电〔2024〕12号), 2025-05-06 a workday;
    # 2025-04-27 is a Sunday worked instead (调休): a workday, no holiday band.
    times = at("2025-05-01 12:30", "2025-05-06 12:30", "2025-04-27 12:30", "2025-05-01 09:00")
    energy = pd.DataFrame({"time": times, "device": ["a", "a", "b", "b"], "kwh": [40.0, 40.0, 40.0, 10.0]})
    out = interval_cost(t, energy, TZ)
    assert out["tou"].tolist() == ["deep_valley", "flat", "flat", "peak"]
    assert out["cost"].tolist() == pytest.approx([8.0, 28.0, 28.0, 12.0])
    s = cost_summary(out, by=["device"])
    assert s[s["device"] == "b"]["cost"].sum() == pytest.approx(40.0)


def test_anhui_deep_valley_only_on_holidays_of_three_days_or_more() -> None:
    # 皖发改价格〔2025〕302号: deep valley 11:00-15:00 during holidays of 3 days or more.
    t = load_tariff("cn-ah-large-industry")
    cal = load_calendar("cn")
    assert cal.holiday_length(pd.Timestamp("2025-10-03").date()) == 8
    c = classify(t, at("2025-10-03 12:00", "2025-10-09 12:00", "2025-10-03 16:00"), TZ)
    assert c["tou"].tolist() == ["deep_valley", "valley", "peak"]
    assert c["day_type"].tolist() == ["holiday", "workday", "holiday"]
    v = t.versions[0]
    # Deep valley = valley −20 %: 0.382 × 0.8 = 0.3056 of flat; peak in October +74 %, in August +84.3 %.
    assert c["price"].iloc[0] - v.fixed_adder == pytest.approx(0.382 * 0.8 * v.flat_price)
    assert v.price_of("peak", 10) - v.fixed_adder == pytest.approx(1.74 * v.flat_price)
    assert v.price_of("peak", 8) - v.fixed_adder == pytest.approx(1.843 * v.flat_price)


def test_bad_tariff_file_lists_every_mistake(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        """
id: bad
name: Bad
region: X
customer_class: x
versions:
  - effective_from: 2025-01-01
    source: {document: d}
    seasons:
      - name: s
        months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        periods:
          peak: ["08:00-12:00"]
          flat: ["11:00-24:00"]
          valley: ["00:00-08:00"]
    prices: {peak: 1, flat: 0.5, valley: 0.2}
    colour: red
""",
        encoding="utf-8",
    )
    with pytest.raises(TariffFileError) as exc:
        load_tariff_file(bad)
    text = "\n".join(exc.value.errors)
    assert (
        "bad.yaml: versions[0].seasons[0]: " in text and "flat 11:00-24:00 overlaps peak 08:00-12:00 at 11:00" in text
    )
    assert "bad.yaml: versions[0].colour: unknown field (check the spelling)" in text


def test_cli_list_show_validate(tmp_path: Path) -> None:
    r = CliRunner()
    res = r.invoke(app, ["list"])
    assert res.exit_code == 0 and "cn-js-large-industry" in res.output
    res = r.invoke(app, ["show", "cn-gd-large-industry", "--month", "8"])
    assert res.exit_code == 0 and "11:00 sharp" in res.output and "粤发改价格〔2021〕331号" in res.output
    res = r.invoke(app, ["validate", *map(str, builtin_tariff_paths())])
    assert res.exit_code == 0, res.output
    bad = tmp_path / "x.yaml"
    bad.write_text("id: y\nname: n\nregion: r\ncustomer_class: c\nversions: []\n", encoding="utf-8")
    res = r.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 1


def test_fill_tou_cost_on_interval_engine_rows() -> None:
    from metering.carbon.energy import ENERGY_COLUMNS

    t = load_tariff_file(FIXTURES / "test-two-versions.yaml")
    rows = pd.DataFrame(
        {
            "site": "plant-a", "area": "a", "device": ["tr-01", "tr-01", "boiler-1"], "carrier": ["electricity", "electricity", "natural_gas"],
            "role": "main", "tou": "", "interval_start": at("2025-03-03 09:00", "2025-03-03 02:00", "2025-03-03 09:00").tz_convert("UTC"),
            "amount": [250.0, float("nan"), 30.0], "unit": ["kWh", "kWh", "Nm3"], "quantity": "e_imp_kwh", "status": "ok",
            "completeness": 1.0, "tce_kg": float("nan"), "tce_factor": "", "cost": float("nan"),
        }
    )[ENERGY_COLUMNS]  # fmt: skip
    out = fill_tou_cost(rows, t, TZ)
    assert out["tou"].tolist() == ["peak", "valley", ""]
    assert out["cost"].iloc[0] == pytest.approx(250 * 1.2)
    assert pd.isna(out["cost"].iloc[1]) and pd.isna(out["cost"].iloc[2])
    assert fill_tou_cost(rows, None, TZ) is rows
