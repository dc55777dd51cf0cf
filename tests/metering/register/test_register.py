"""The register from the plant file, its edits and audit, the calibration findings and the data-quality plan (no servers)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from metering.compliance.rules import load_rules
from metering.register.checks import findings, sync
from metering.register.cli import app
from metering.register.model import Entry, InstrumentEdit, add_months
from metering.register.plan import COLUMNS, build_plan, plan_csv, plan_xlsx
from metering.register.seed import device_entry, seed
from metering.register.store import RegisterStore
from metering.state.store import NotFound, Store
from plantcarbon_core.plant import Plant, load_plant
from tests.metering.register.conftest import PLANT

DAY = dt.date(2026, 3, 10)  # a fixed "today": never the real date


def _by_id(plant: Plant) -> dict[str, Entry]:
    return {e.id: e for e in seed(plant)}


def test_seeded_from_the_plant_file_and_its_meter_profiles(plant: Plant) -> None:
    reg = _by_id(plant)
    # Every metered device (not the group without a meter) and one lab method per analysed parameter.
    assert "kiln-group" not in reg
    assert {"tr-kiln", "kiln-drive", "coal-kiln", "cl-weigher", "gas-boiler"} <= set(reg)
    tr = reg["tr-kiln"]
    assert (tr.instrument, tr.place, tr.model, tr.manufacturer) == ("electricity_meter", "in_out", "DTSU666", "CHINT")
    assert tr.accuracy_class == "1" and "datasheet" in tr.class_source  # profile_classes.yaml
    assert tr.user_class == "I"  # 20 000 kVA transformer
    assert reg["kiln-drive"].place == "equipment" and reg["kiln-drive"].user_class is None
    coal = reg["coal-kiln"]
    assert (coal.instrument, coal.weighing, coal.parameter) == ("weigher", "dynamic", "coal mass (t)")
    assert coal.accuracy_class == ""  # the BW500 integrator has no class of its own: the register says so
    assert "accuracy_class" in coal.missing()
    # A coal feeder weighs fuel: table 3 asks ±0.5 % (dynamic); the clinker scale weighs product: no row.
    gb = coal.gb17167()
    assert gb is not None and (gb.verdict, gb.required) == ("unknown_class", "0.5")
    cl = reg["cl-weigher"].gb17167()
    assert cl is not None and cl.verdict == "no_requirement"
    assert reg["gas-boiler"].instrument == "gas_flow"
    lab = reg["lab-clinker-cao"]
    assert (lab.source, lab.instrument, lab.model) == ("lab_method", "lab_method", "GB/T 176 水泥化学分析方法")
    assert "serial" not in lab.missing() and "last_calibration" in lab.missing()
    assert "lab-petcoke-ncv" in reg and not any(i.startswith("lab-kiln-dust") for i in reg)  # dust is a record


def test_an_internal_transfer_main_meter_is_not_at_the_fence() -> None:
    # plant-a's steam comes from its own boiler (supply onsite): its main meter is a secondary unit's.
    plant = load_plant(Path(__file__).resolve().parents[3] / "examples" / "plant-a.yaml")
    steam = next(d for d in plant.devices if d.id == "steam-1")
    metered = steam.model_copy(update={"source": plant.device("tr-01").source})
    assert device_entry(plant, metered, []).place == "sub"
    assert device_entry(plant, plant.device("tr-01"), []).place == "in_out"


def test_due_date_from_the_interval_clamps_to_the_month_end() -> None:
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)
    e = Entry(
        id="m",
        site="s",
        source="device",
        instrument="weigher",
        last_calibration=dt.date(2025, 6, 15),
        calibration_interval_months=12,
    )
    assert e.due() == dt.date(2026, 6, 15)


def test_edits_are_validated_by_field() -> None:
    with pytest.raises(ValidationError) as bad:
        InstrumentEdit.model_validate(
            {
                "accuracy_class": "one",
                "calibration_interval_months": 0,
                "colour": "red",
                "last_calibration": "9999-01-01",
            }
        )
    fields = {err["loc"][0] for err in bad.value.errors()}
    assert fields == {"accuracy_class", "calibration_interval_months", "colour", "last_calibration"}
    e = Entry(id="m", site="s", source="device", instrument="weigher", last_calibration=dt.date(2026, 3, 1))
    with pytest.raises(ValidationError, match=r"calibration_due .* is before last_calibration"):
        e.apply(InstrumentEdit(calibration_due=dt.date(2026, 2, 1)))


def test_store_keeps_edits_and_audits_who_what_before_after(plant: Plant, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    reg = RegisterStore(store)
    added = reg.sync(plant)
    assert "tr-kiln" in added and reg.sync(plant) == []  # a second sync adds nothing
    reg.update("line-a", "tr-kiln", InstrumentEdit(serial="DT-778", accuracy_class="0.5S"), "em-1")
    reg.sync(plant)  # the plant file again: the edit stays
    e, meta = reg.get("line-a", "tr-kiln")
    assert (e.serial, e.accuracy_class, meta["version"], meta["updated_by"]) == ("DT-778", "0.5S", 2, "em-1")
    row = store.list_audit("register")[0]
    assert (row["actor"], row["action"], row["entity_id"]) == ("em-1", "update", "line-a/tr-kiln")
    assert row["before"] == {"serial": "", "accuracy_class": "1"}
    assert row["after"] == {"serial": "DT-778", "accuracy_class": "0.5S"}
    with pytest.raises(NotFound):
        reg.get("line-a", "nope")
    store.close()


def test_findings_as_of_a_given_day() -> None:
    def entry(i: str, **kw: object) -> Entry:
        return Entry.model_validate(
            {
                "id": i,
                "site": "s",
                "source": "device",
                "instrument": "electricity_meter",
                "place": "in_out",
                "user_class": "III",
                **kw,
            }
        )

    entries = [
        entry("lapsed", calibration_due="2026-03-09"),  # yesterday
        entry("due", calibration_due="2026-04-09"),  # in 30 days: inside the default window
        entry("later", calibration_due="2026-04-10"),  # in 31 days
        entry("today", calibration_due="2026-03-10"),  # due today: not yet lapsed
        entry("low", accuracy_class="2"),  # class III user needs 1.0
        entry("fine", accuracy_class="1"),
    ]
    got = {(f.instrument, f.kind): f for f in findings(entries, DAY)}
    assert set(got) == {("lapsed", "lapsed"), ("due", "due"), ("today", "due"), ("low", "class")}
    assert got[("lapsed", "lapsed")].severity == "critical" and got[("lapsed", "lapsed")].value == -1
    assert got[("due", "due")].rule == "reg-due-due" and got[("due", "due")].value == 30
    assert (got[("low", "class")].value, got[("low", "class")].threshold) == (2.0, 1.0)
    # The window is configurable: 31 days takes "later" in.
    assert ("later", "due") in {(f.instrument, f.kind) for f in findings(entries, DAY, due_within_days=31)}


def test_sync_fires_once_and_resolves_when_fixed(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    sent: list[dict[str, object]] = []
    at = dt.datetime(2026, 3, 10, 1, tzinfo=dt.UTC)
    lapsed = Entry(id="m1", site="s", source="device", instrument="weigher", calibration_due=dt.date(2026, 1, 1))
    assert sync(store, "s", findings([lapsed], DAY), sent.append, at)["fired"] == ["reg-lapsed-m1"]
    assert sync(store, "s", findings([lapsed], DAY), sent.append, at) == {"fired": [], "resolved": []}
    fixed = lapsed.apply(InstrumentEdit(last_calibration=dt.date(2026, 3, 5), calibration_due=dt.date(2027, 3, 5)))
    assert sync(store, "s", findings([fixed], DAY), sent.append, at)["resolved"] == ["reg-lapsed-m1"]
    assert [r["state"] for r in sent] == ["firing", "resolved"]
    # A threshold someone named like a register rule keeps its alert: the register never resolves it.
    store.create_threshold({"id": "reg-class-x", "site": "s", "device": "x", "quantity": "p_kw", "threshold": 1}, "em")
    theirs = store.fire_alert("reg-class-x", "s", "warning", 2.0, 1.0, "theirs", at)
    assert sync(store, "s", [], sent.append, at) == {"fired": [], "resolved": []}
    assert store.get_alert(theirs["id"])["state"] == "firing"
    store.close()


def test_the_plan_ties_each_parameter_to_source_rule_and_owner(plant: Plant) -> None:
    entries = [e.apply(InstrumentEdit(owner="lab chief")) if e.source == "lab_method" else e for e in seed(plant)]
    rows = {r.parameter: r for r in build_plan(plant, entries)}
    assert rows["coal.activity"].sources == ["coal-kiln"] and "15-minute" in rows["coal.activity"].frequency
    assert rows["petcoke.activity"].sources == [] and "stock" in rows["petcoke.activity"].frequency
    # A parameter with a default in the method file is filled by it; one that must be measured by rules.yaml.
    assert rows["coal.ncv"].missing_rule.startswith("default 19.57 GJ/t")
    assert rows["clinker.cao"].missing_rule.startswith("max-of-month: ")
    assert load_rules().rules["max-of-month"].text in rows["clinker.cao"].missing_rule
    assert rows["clinker.cao"].sources == ["lab-clinker-cao"] and rows["clinker.cao"].owner == "lab chief"
    assert rows["kiln-dust.mass_t"].sources == [] and "record" in rows["kiln-dust.mass_t"].source_text
    # The line's electricity (CBAM indirect) and the site's purchased carriers at its main meters.
    assert rows["line.electricity"].sources == ["tr-kiln"] and rows["line.electricity"].unit == "kiln-1"
    assert rows["purchased.electricity"].sources == ["tr-kiln"] and rows["purchased.electricity"].unit == "line-a"
    assert rows["purchased.natural_gas"].boundary == "scope-1"
    assert any("tr-kiln: serial" in g for g in rows["purchased.electricity"].gaps)  # the register's gaps show
    assert rows["purchased.electricity"].owner == ""  # nobody named yet: empty, not invented


def test_plan_exports_csv_and_xlsx(plant: Plant) -> None:
    rows = build_plan(plant, seed(plant))
    got = list(csv.DictReader(io.StringIO(plan_csv(rows).decode("utf-8-sig"))))
    assert len(got) == len(rows) and got[0][COLUMNS["parameter"]] == rows[0].parameter
    ws = openpyxl.load_workbook(io.BytesIO(plan_xlsx(rows, "Plan"))).active
    assert ws is not None and ws["A1"].value == "Plan"
    assert [c.value for c in ws[2]] == list(COLUMNS.values())
    assert ws.max_row == len(rows) + 2 and ws.cell(3, 2).value == rows[0].parameter


def test_cli_lists_the_register_and_writes_the_plan(plant: Plant, tmp_path: Path) -> None:
    pf, state, out = tmp_path / "line-a.yaml", str(tmp_path / "s.sqlite"), tmp_path / "plan.xlsx"
    pf.write_text(PLANT, "utf-8")
    r = CliRunner().invoke(app, ["list", "-p", str(pf), "--state", state, "--as-of", "2026-03-10", "-f", "csv"])
    assert r.exit_code == 0, r.output
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(r.stdout.lstrip("\ufeff")))}
    assert rows["tr-kiln"]["gb17167"] == "below (needs 0.5S)" and rows["tr-kiln"]["state"] == "unknown"
    r = CliRunner().invoke(app, ["plan", "-p", str(pf), "--state", state, "-f", "xlsx", "-o", str(out)])
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(out).active
    assert ws is not None and ws.max_row == len(build_plan(plant, seed(plant))) + 2
