"""The data-quality control plan (数据质量控制计划): parameter → source, frequency, missing-data rule, owner.

Built from the plant file's carbon block (emission units and their materials), the carbon method
file (parameters, defaults, standards), the workflow's rules (metering/compliance/rules.yaml: the
gap-filling substitutes) and the register (the instruments and lab methods, with their owners).
Purchased energy carriers of the main meters (electricity: scope 2; fuels: scope 1) are rows too,
so a plant without a clinker line has a plan. Pure: no I/O but the exports' bytes.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from metering.compliance.rules import Rules, load_rules
from metering.direct.config import CarbonConfig, EmissionUnit
from metering.direct.method import Method
from metering.register.model import Entry
from metering.register.seed import carbon_of, lab_id
from plantcarbon_core.plant import Plant

CONTINUOUS = "continuous: counter read every few seconds, summed per 15-minute interval and per month"
STOCK = "monthly stock-take: receipts + opening − closing (stocks file)"
NO_SUBSTITUTE = (
    "no substitute value (rules.yaml has none for activity data): the missing intervals are shown in the "
    "month's completeness review"
)
_CARRIER_UNIT = {"electricity": "kWh", "natural_gas": "Nm3", "coal": "t", "diesel": "t", "steam": "t", "heat": "GJ"}


@dataclass(frozen=True)
class PlanRow:
    unit: str  # emission unit id, or the site id for purchased energy of a plant without one
    parameter: str  # material.parameter or purchased.<carrier>
    name: str
    uom: str
    boundary: str
    sources: list[str]  # register ids (instruments, lab methods)
    source_text: str
    frequency: str
    missing_rule: str
    owner: str
    gaps: list[str] = field(default_factory=list)  # register fields still empty, per source

    def flat(self) -> dict[str, str]:
        d = asdict(self)
        d["sources"] = ", ".join(self.sources)
        d["gaps"] = "; ".join(self.gaps)
        return d


def _owner_and_gaps(ids: list[str], reg: dict[str, Entry]) -> tuple[str, list[str]]:
    owners = sorted({reg[i].owner for i in ids if i in reg and reg[i].owner})
    gaps = [f"{i}: {', '.join(reg[i].missing())}" for i in ids if i in reg and reg[i].missing()]
    gaps += [f"{i}: not in the register" for i in ids if i not in reg]
    return ", ".join(owners), gaps


def _unit_rows(
    u: EmissionUnit, cfg: CarbonConfig, method: Method, rules: Rules, reg: dict[str, Entry]
) -> list[PlanRow]:
    rows: list[PlanRow] = []
    mats = [u.clinker, u.raw_meal, *u.fuels, *u.dust, u.cement]
    for mid in [m for m in mats if m is not None]:
        mat = cfg.materials[mid]
        kind = method.materials[mat.kind]
        if mat.kind != "dust":
            ids = list(mat.devices) if mat.activity == "meter" else []
            owner, gaps = _owner_and_gaps(ids, reg)
            rows.append(
                PlanRow(
                    unit=u.id,
                    parameter=f"{mid}.activity",
                    name=f"{mat.name or mid}: tonnes ({mat.kind})",
                    uom="t",
                    boundary=method.boundary if mat.kind != "cement" else "cbam",
                    sources=ids,
                    source_text="belt weighers / weigh feeders" if ids else "stock balance",
                    frequency=CONTINUOUS if ids else STOCK,
                    missing_rule=NO_SUBSTITUTE,
                    owner=owner,
                    gaps=gaps,
                )
            )
        for pname, p in kind.parameters.items():
            is_record = mat.kind == "dust"
            ids = [] if is_record else [lab_id(mid, pname)]
            owner, gaps = _owner_and_gaps(ids, reg)
            if p.default is not None:
                rule = f"default {p.default.value:g} {p.unit} ({p.default.source})"
            else:
                rid = rules.fill_rule(mat.kind, pname)
                rule = f"{rid}: {rules.rules[rid].text}"
            rows.append(
                PlanRow(
                    unit=u.id,
                    parameter=f"{mid}.{pname}",
                    name=f"{p.name} ({mid})",
                    uom=p.unit,
                    boundary=method.boundary if mat.kind != "cement" else "cbam",
                    sources=ids,
                    source_text="records in the lab book"
                    if is_record
                    else f"lab analysis, {p.standard or 'standard not named'}",
                    frequency="per record" if is_record else str(method.monthly_rules.get("analyses", "per sample")),
                    missing_rule=rule,
                    owner=owner,
                    gaps=gaps,
                )
            )
    elec = list(u.electricity_devices)
    if elec:
        owner, gaps = _owner_and_gaps(elec, reg)
        rows.append(
            PlanRow(
                unit=u.id,
                parameter="line.electricity",
                name="electricity of the line (CBAM indirect emissions; scope 2 location-based)",
                uom="kWh",
                boundary="cbam-indirect",
                sources=elec,
                source_text="electricity meters",
                frequency=CONTINUOUS,
                missing_rule=NO_SUBSTITUTE,
                owner=owner,
                gaps=gaps,
            )
        )
    return rows


def _purchased_rows(plant: Plant, reg: dict[str, Entry]) -> list[PlanRow]:
    """The site's purchased carriers at its main meters (internal transfers are counted where they enter)."""
    internal = plant.internal_transfers()
    by_carrier: dict[str, list[str]] = {}
    for d in plant.main_meters():
        if d.source is None or d.id in internal or d.carrier in ("production", "water"):
            continue
        by_carrier.setdefault(d.carrier, []).append(d.id)
    rows = []
    for carrier, ids in by_carrier.items():
        owner, gaps = _owner_and_gaps(ids, reg)
        scope = "scope-2-location" if carrier in ("electricity", "steam", "heat") else "scope-1"
        rows.append(
            PlanRow(
                unit=plant.site.id,
                parameter=f"purchased.{carrier}",
                name=f"purchased {carrier.replace('_', ' ')} at the site's main meters",
                uom=_CARRIER_UNIT.get(carrier, ""),
                boundary=scope,
                sources=ids,
                source_text="main meters (进出用能单位)",
                frequency=CONTINUOUS,
                missing_rule=NO_SUBSTITUTE,
                owner=owner,
                gaps=gaps,
            )
        )
    return rows


def build_plan(plant: Plant, entries: list[Entry], rules: Rules | None = None) -> list[PlanRow]:
    """The plan's rows: per emission unit its parameters, then the site's purchased energy."""
    reg = {e.id: e for e in entries}
    rows: list[PlanRow] = []
    cc = carbon_of(plant)
    if cc is not None:
        cfg, method = cc
        for u in cfg.units:
            rows += _unit_rows(u, cfg, method, rules or load_rules(), reg)
    return rows + _purchased_rows(plant, reg)


COLUMNS = {
    "unit": "排放单元 Unit",
    "parameter": "参数 Parameter",
    "name": "名称 Name",
    "uom": "单位 UoM",
    "boundary": "边界 Boundary",
    "sources": "来源 Sources (register ids)",
    "source_text": "来源说明 Source",
    "frequency": "频次 Frequency",
    "missing_rule": "缺失处理 Missing-data rule",
    "owner": "责任人 Owner",
    "gaps": "待补信息 Register gaps",
}


def plan_frame(rows: list[PlanRow]) -> pd.DataFrame:
    return pd.DataFrame([r.flat() for r in rows], columns=list(COLUMNS))


def plan_csv(rows: list[PlanRow]) -> bytes:
    # UTF-8 with a BOM so spreadsheet programs open the Chinese headers right.
    return plan_frame(rows).rename(columns=COLUMNS).to_csv(index=False).encode("utf-8-sig")


def plan_xlsx(rows: list[PlanRow], title: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "数据质量控制计划"
    ws.append([title])
    ws["A1"].font = Font(bold=True)
    ws.append(list(COLUMNS.values()))
    for c in ws[2]:
        c.font = Font(bold=True)
    for r in rows:
        ws.append(list(r.flat().values()))
    ws.freeze_panes = "A3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
