"""The monthly filing workbook (XLSX) of one emission unit: parameters with provenance, the calculation, evidence.

Laid out like the monthly evidence (月度存证) a plant uploads to the national carbon market
platform: each reported parameter with value, unit, data type (measured / default /
calculated / stock balance / gap-filled) and the evidence it rests on; the emission
calculation source by source; an evidence index that every evidence reference of the other
sheets points into, with the uploaded evidence files linked to the unit's month (file name,
SHA-256, kind, what each supports: metering/evidence); the completeness review; and the
locked revisions side by side.
Labels are bilingual (简体中文 / English). No official template was readable in this session:
the structure follows the data items the monthly-evidence notices list (docs/compliance.md).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from metering.compliance.review import FILL_LAB, month_days, unit_materials
from metering.compliance.snapshot import FIGURES
from metering.compliance.workflow import Evaluation
from metering.evidence.links import MonthScope, parse, sample_id

BASIS = {
    "measured": "实测 measured",
    "default": "缺省值 default",
    "calculated": "计算 calculated",
    "stock": "库存平衡 stock balance",
    "mixed": "部分缺省 partly default",
    "filled": "按规则填补 gap-filled",
    "missing": "缺失 missing",
}
STATE = {
    "open": "未开始 open",
    "in_review": "审核中 in review",
    "approved": "已批准锁定 approved (locked)",
    "filed": "已报送 filed",
}
FIGURE_LABEL = {
    "clinker_t": "熟料产量 clinker produced (t)",
    "fuel_co2_t": "燃料燃烧排放 fuel combustion CO2 (t)",
    "process_clinker_co2_t": "熟料碳酸盐分解排放 process CO2, clinker (t)",
    "process_dust_co2_t": "窑头及旁路粉尘排放 process CO2, kiln-head and bypass dust (t)",
    "process_toc_co2_t": "生料非燃料碳排放 process CO2, raw-meal organic carbon (t)",
    "process_co2_t": "工业生产过程排放 process CO2 total (t)",
    "direct_co2_t": "直接排放合计 total direct CO2 (t)",
    "biogenic_co2_t": "生物质CO2 (不计入) biogenic CO2, memo (t)",
    "intensity_tco2_per_t": "排放强度 intensity (tCO2/t clinker)",
}
# Names of the figures the accounting adds to the method file's parameters.
CALCULATED_NAME = {
    "produced_t": "产量 production",
    "consumed_t": "消耗量 consumption",
    "fed_t": "入窑生料量 raw meal fed",
    "process_factor": "熟料过程排放因子 process factor",
    "raw_meal_per_clinker": "生料/熟料比 raw meal per clinker",
}
KIND = {
    "lab_report": "化验报告 lab report",
    "weighbridge_ledger": "地磅台账 weighbridge ledger",
    "calibration_certificate": "检定/校准证书 calibration certificate",
    "invoice": "发票 invoice",
    "other": "其他 other",
}
SHEETS = (
    "封面 Cover",
    "参数 Parameters",
    "排放计算 Calculation",
    "证据索引 Evidence",
    "完整性 Completeness",
    "修订 Revisions",
)


def _header(ws: Worksheet, cells: list[str]) -> None:
    ws.append(cells)
    for c in ws[ws.max_row]:
        c.font = Font(bold=True)
        c.alignment = Alignment(wrap_text=True)


def _param_index(ev: Evaluation) -> dict[tuple[str, str], Any]:
    return {(p.material, p.name): p for p in ev.unit.params}


def _month_samples(ev: Evaluation) -> Any:
    """The current lab rows of the unit's materials that overlap the month (what the evidence index lists)."""
    days = month_days(ev.review.month)
    first, last = days[0].date().isoformat(), days[-1].date().isoformat()
    cur = ev.dataset.lab.current
    rows = cur[cur["material"].isin(unit_materials(ev.unit.unit))]
    keep = (rows["period_end"].astype(str) >= first) & (rows["period_start"].astype(str) <= last)
    return rows[keep].sort_values(["material", "parameter", "period_start"])


def scope_of(ev: Evaluation) -> MonthScope:
    """What of this unit's month an evidence file may support: its materials, their meters, the month's samples."""
    mats = unit_materials(ev.unit.unit)
    return MonthScope(
        unit=ev.unit.unit.id,
        month=ev.review.month,
        materials=frozenset(mats),
        instruments=frozenset(d for m in mats for d in ev.dataset.cfg.materials[m].devices),
        samples=frozenset(str(x) for x in _month_samples(ev)["sample_id"]),
    )


def file_ref(sha: str) -> str:
    return f"file sha256:{sha[:12]}"


def _files_by_link(files: list[dict[str, Any]], scope: MonthScope) -> dict[str, list[str]]:
    """Link text → the references of the files linked to it (only links that concern the unit's month)."""
    out: dict[str, list[str]] = {}
    for f in files:
        for x in f["links"]:
            if scope.concerns(parse(x["link"])):
                out.setdefault(x["link"], []).append(file_ref(f["sha256"]))
    return out


def _evidence_of(ev: Evaluation, files: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """(material, parameter) → the evidence references of the index that support it (uploaded files too)."""
    out: dict[tuple[str, str], list[str]] = {}
    digest = ev.snapshot["inputs"]["readings"]["sha256"][:12]
    by_link = _files_by_link(files, scope_of(ev))
    for i in ev.review.items:
        key = (i.material, i.parameter)
        refs = list(i.samples)
        links = [f"lab_sample:{sample_id(x)}" for x in i.samples]
        if i.kind == "activity" and i.basis != "stock":
            mat = ev.dataset.cfg.materials[i.material]
            refs = [f"readings {d} sha256:{digest}" for d in mat.devices]
            links = [f"instrument:{d}" for d in mat.devices]
        elif i.kind == "activity":
            links = [f"stock:{i.material}:{ev.review.month}"]
        if i.fill:
            refs += i.fill["samples"]
        if i.default:
            refs.append(i.default["ref"])
        refs += list(dict.fromkeys(r for lk in links for r in by_link.get(lk, [])))
        out[key] = refs
    return out


def build(
    ev: Evaluation, plant_id: str, state: dict[str, Any], due: str, evidence: list[dict[str, Any]] | None = None
) -> Workbook:
    """The workbook of one unit's month; `state` is workflow.status() of the month, `due` its due date,
    `evidence` the uploaded files' records (EvidenceStore; those not linked to this unit's month are left out)."""
    files = evidence or []
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEETS[0]
    _cover(ws, ev, plant_id, state, due)
    _parameters(wb.create_sheet(SHEETS[1]), ev, files)
    _calculation(wb.create_sheet(SHEETS[2]), ev)
    _evidence(wb.create_sheet(SHEETS[3]), ev, files)
    _completeness(wb.create_sheet(SHEETS[4]), ev)
    _revisions(wb.create_sheet(SHEETS[5]), state)
    for sheet in wb.worksheets:
        for col, width in zip("ABCDEFGHIJ", (34, 22, 22, 18, 14, 12, 22, 48, 40, 20), strict=True):
            sheet.column_dimensions[col].width = width
    return wb


def _cover(ws: Worksheet, ev: Evaluation, plant_id: str, state: dict[str, Any], due: str) -> None:
    u, m = ev.unit.unit, ev.dataset.method
    revs = state.get("revisions", [])
    last = revs[-1] if revs else None
    _header(ws, ["项目 Item", "内容 Value"])
    for k, v in (
        ("企业/站点 Plant (site id)", plant_id),
        ("排放单元 Emission unit", f"{u.id} {u.name}"),
        ("月份 Month", ev.review.month),
        ("核算边界 Boundary", ev.snapshot["boundary"]),
        ("核算方法 Method", f"{m.ref} — {m.document}"),
        ("状态 State", STATE.get(state["state"], state["state"])),
        ("锁定版本 Locked revision", state.get("revision", 0)),
        ("批准人 Approved/revised by", last["created_by"] if last else ""),
        ("批准时间 Approved/revised at (UTC)", last["created_at"].isoformat() if last else ""),
        ("报送回执 Filing reference", state.get("filed_reference") or ""),
        ("截止日期 Due date", due),
        ("直接排放合计 Total direct CO2 (t)", ev.snapshot["figures"]["direct_co2_t"]),
        ("熟料产量 Clinker (t)", ev.snapshot["figures"]["clinker_t"]),
        ("排放强度 Intensity (tCO2/t clinker)", ev.snapshot["figures"]["intensity_tco2_per_t"]),
        ("数据完整 Complete", "是 yes" if not ev.review.blocking else "否 no: " + "; ".join(ev.review.blocking)),
        ("读数摘要 Readings SHA-256", ev.snapshot["inputs"]["readings"]["sha256"]),
    ):
        ws.append([k, v])


def _parameters(ws: Worksheet, ev: Evaluation, files: list[dict[str, Any]]) -> None:
    _header(
        ws,
        [
            "序号 No.",
            "物料 Material",
            "参数 Parameter",
            "参数名称 Name",
            "数值 Value",
            "单位 Unit",
            "数据类型 Data type",
            "来源 Source",
            "证据编号 Evidence reference",
        ],
    )
    evidence = _evidence_of(ev, files)
    status = {(i.material, i.parameter): i for i in ev.review.items}
    n = 0
    for mid in unit_materials(ev.unit.unit):
        kind = ev.dataset.cfg.materials[mid].kind
        for p in [q for q in ev.unit.params if q.material == mid]:
            item = status.get((mid, p.name))
            if item is None and p.name in ("consumed_t", "produced_t", "fed_t"):
                item = status.get((mid, "metered tonnes")) or status.get((mid, "stock balance"))
            basis = "filled" if item is not None and item.status == "filled" else p.basis
            refs = evidence.get((item.material, item.parameter), []) if item is not None else []
            par = ev.dataset.method.materials[kind].parameters.get(p.name)
            n += 1
            ws.append(
                [
                    n,
                    mid,
                    p.name,
                    par.name if par else CALCULATED_NAME.get(p.name, p.name),
                    p.value,
                    p.unit,
                    BASIS.get(basis, basis),
                    " | ".join(p.provenance),
                    "; ".join(refs),
                ]
            )


def _calculation(ws: Worksheet, ev: Evaluation) -> None:
    m, u = ev.dataset.method, ev.unit
    p = _param_index(ev)

    def val(mat: str | None, name: str) -> float | None:
        q = p.get((mat, name)) if mat else None
        return None if q is None else q.value

    _header(
        ws,
        [
            "排放源 Source",
            "物料 Material",
            "活动数据 Activity (t)",
            "参数 Parameters",
            "排放量 CO2 (t)",
            "计入 Counted",
            "公式 Formula",
            "条款 Clause",
        ],
    )
    src = {s.id: s for s in m.sources}
    for f in u.fuels:
        sid = {"fossil_fuel": "fuel_fossil", "alternative_fuel": "fuel_alternative"}.get(f["kind"], "fuel_biogenic")
        s = src[sid]
        pars = ", ".join(
            f"{n}={val(f['material'], n):.6g}"
            for n in ("ncv", "carbon_content", "oxidation_factor", "fossil_fraction")
            if val(f["material"], n) is not None
        )
        co2 = f["co2_t"] if f["counted"] else f["biogenic_t"]
        ws.append(
            [
                s.name,
                f["material"],
                f["consumed_t"],
                pars,
                co2,
                "是 yes" if f["counted"] else "否 memo",
                s.formula,
                _clause(s.clause.text, s.clause.confirmed),
            ]
        )
        if f["kind"] == "alternative_fuel":
            b = src["fuel_biogenic"]
            ws.append(
                [
                    b.name,
                    f["material"],
                    f["consumed_t"],
                    pars,
                    f["biogenic_t"],
                    "否 memo",
                    b.formula,
                    _clause(b.clause.text, b.clause.confirmed),
                ]
            )
    factor = val(u.unit.clinker, "process_factor")
    pc = src["process_clinker"]
    ws.append(
        [
            pc.name + " — 熟料 clinker",
            u.unit.clinker,
            u.clinker_t,
            f"process_factor={factor:.6g} tCO2/t",
            u.total("process_clinker_co2_t"),
            "是 yes",
            pc.formula,
            _clause(pc.clause.text, pc.clause.confirmed),
        ]
    )
    ws.append(
        [
            pc.name + " — 粉尘 dust",
            ", ".join(u.unit.dust),
            u.total("dust_t"),
            f"process_factor={factor:.6g} tCO2/t",
            u.total("process_dust_co2_t"),
            "是 yes",
            pc.formula,
            _clause(pc.clause.text, pc.clause.confirmed),
        ]
    )
    pt = src["process_toc"]
    ws.append(
        [
            pt.name,
            u.unit.raw_meal or "",
            val(u.unit.raw_meal, "fed_t"),
            f"toc={val(u.unit.raw_meal, 'toc') or 0:.6g}",
            u.total("process_toc_co2_t"),
            "是 yes",
            pt.formula,
            _clause(pt.clause.text, pt.clause.confirmed),
        ]
    )
    ws.append([])
    for k in FIGURES:
        ws.append([FIGURE_LABEL[k], "", "", "", ev.snapshot["figures"][k]])


def _clause(text: str, confirmed: bool) -> str:
    return text if confirmed else f"{text} [未核实 unconfirmed]"


def _evidence(ws: Worksheet, ev: Evaluation, files: list[dict[str, Any]]) -> None:
    _header(
        ws,
        [
            "证据编号 Evidence reference",
            "类型 Type",
            "物料 Material",
            "参数 Parameter",
            "数值 Value",
            "周期 Period",
            "化验室/来源 Lab or source",
            "标准/规则 Standard or rule",
            "录入人 Entered by",
        ],
    )
    mats = unit_materials(ev.unit.unit)
    for rec in _month_samples(ev).to_dict("records"):
        typ = "按规则填补 gap fill" if rec["lab"] == FILL_LAB else "化验/记录 lab sample"
        ws.append(
            [
                f"{rec['sample_id']}@{rec['version']}",
                typ,
                rec["material"],
                rec["parameter"],
                rec["value"],
                f"{rec['period_start']}..{rec['period_end']}",
                rec["lab"],
                rec["standard"],
                rec["entered_by"],
            ]
        )
    for i in ev.review.items:
        if i.default:
            src = i.default["source"] + ("" if i.default["confirmed"] else " [未核实 unconfirmed]")
            ws.append(
                [
                    i.default["ref"],
                    "缺省值 method default",
                    i.material,
                    i.parameter,
                    i.default["value"],
                    f"{i.default['days']} day(s)",
                    src,
                    ev.dataset.method.ref,
                    "",
                ]
            )
    r = ev.snapshot["inputs"]["readings"]
    for mid in mats:
        for d in ev.dataset.cfg.materials[mid].devices:
            ws.append(
                [
                    f"readings {d} sha256:{r['sha256'][:12]}",
                    "计量读数 meter readings",
                    mid,
                    "mass_t",
                    None,
                    f"{r['from']}..{r['to']}",
                    f"meter {d}",
                    f"{r['count']} readings of the unit's meters, SHA-256 {r['sha256']}",
                    "",
                ]
            )
    for s in ev.snapshot["inputs"]["stocks"]:
        ws.append(
            [
                s.split(" ")[0],
                "库存盘点 stock-take",
                s.split(" ")[1],
                "stock",
                None,
                s.split(" ")[2],
                "stock ledger",
                "",
                "",
            ]
        )
    _files(ws, ev, files)


def _files(ws: Worksheet, ev: Evaluation, files: list[dict[str, Any]]) -> None:
    """The uploaded documents linked to this unit's month: an auditor fetches each by its SHA-256."""
    scope = scope_of(ev)
    ws.append([])
    ws.append(["上传文件 Evidence files"])
    ws[ws.max_row][0].font = Font(bold=True)
    _header(
        ws,
        [
            "证据编号 Evidence reference",
            "文件名 File name",
            "SHA-256",
            "类别 Kind",
            "支持 Supports",
            "文件类型 Type",
            "大小 Size (bytes)",
            "上传人 Uploaded by",
            "上传时间 Uploaded at (UTC)",
        ],
    )
    for f in sorted(files, key=lambda f: (f["uploaded_at"], f["sha256"])):
        supports = [x["link"] for x in f["links"] if scope.concerns(parse(x["link"]))]
        if not supports:
            continue
        ws.append(
            [
                file_ref(f["sha256"]),
                f["name"],
                f["sha256"],
                KIND.get(f["kind"], f["kind"]),
                "; ".join(supports),
                f["media_type"],
                f["size"],
                f["uploaded_by"],
                f["uploaded_at"].isoformat(),
            ]
        )


def _completeness(ws: Worksheet, ev: Evaluation) -> None:
    _header(
        ws,
        [
            "物料 Material",
            "参数 Parameter",
            "状态 Status",
            "数据类型 Data type",
            "天数 Days",
            "实测天数 Measured days",
            "缺失日期 Days without data",
            "说明 Note",
        ],
    )
    for i in ev.review.items:
        ws.append(
            [
                i.material,
                i.parameter,
                i.status,
                BASIS.get(i.basis, i.basis),
                i.days,
                i.measured_days,
                ", ".join(i.missing_days),
                i.note,
            ]
        )


def _revisions(ws: Worksheet, state: dict[str, Any]) -> None:
    revs = state.get("revisions", [])
    _header(ws, ["项目 Item", *[f"版本 Revision {r['revision']}" for r in revs]])
    ws.append(["原因 Reason", *[r["reason"] for r in revs]])
    ws.append(["操作人 By", *[r["created_by"] for r in revs]])
    ws.append(["时间 At (UTC)", *[r["created_at"].isoformat() for r in revs]])
    for k in FIGURES:
        ws.append([FIGURE_LABEL[k], *[r["figures"].get(k) for r in revs]])
    ws.append([])
    _header(ws, ["版本 Revision", "类型 Kind", "项目 Item", "修订前 Before", "修订后 After"])
    for r in revs:
        for d in r["diff_from_previous"]:
            ws.append([r["revision"], d["kind"], d["item"], _cell(d["before"]), _cell(d["after"])])


def _cell(v: Any) -> Any:
    return "; ".join(v) if isinstance(v, list) else v


def to_bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def save(wb: Workbook, path: Path) -> None:
    """Written through a temporary file renamed into place: never half a workbook."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
