"""The CBAM communication as an XLSX laid out like the EU communication template's sections (简体中文 / English)."""

from __future__ import annotations

from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from metering.compliance.workbook import _header

SHEETS = (
    "a_Contents 说明",
    "A_InstData 装置数据",
    "B_EmInst 装置排放",
    "D_Processes 生产过程",
    "E_PurchPrec 前体",
    "CarbonPrice 已付碳价",
    "Summary_Communication 汇总",
)
ITEM = ["项目 Item", "内容 Value"]


def _rows(ws: Worksheet, rows: list[tuple[str, Any]]) -> None:
    _header(ws, ITEM)
    for k, v in rows:
        ws.append([k, v])


def build(c: dict[str, Any]) -> Workbook:
    """The workbook of one communication dict (cbam_comm.communication): the same content as the JSON."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEETS[0]
    _contents(ws, c)
    _installation(wb.create_sheet(SHEETS[1]), c)
    _emissions(wb.create_sheet(SHEETS[2]), c)
    _processes(wb.create_sheet(SHEETS[3]), c)
    _precursors(wb.create_sheet(SHEETS[4]), c)
    _carbon_price(wb.create_sheet(SHEETS[5]), c)
    _summary(wb.create_sheet(SHEETS[6]), c)
    for sheet in wb.worksheets:
        for col, width in zip(
            "ABCDEFGHIJKLMNOPQ", (38, 34, 16, 16, 16, 16, 16, 22, 30, 16, 16, 16, 16, 16, 16, 16, 40), strict=True
        ):
            sheet.column_dimensions[col].width = width
    return wb


def _contents(ws: Worksheet, c: dict[str, Any]) -> None:
    _rows(
        ws,
        [
            ("模板 Template followed", c["template"]),
            ("核算边界 Boundary", c["boundary"]),
            ("站点 Site", c["site"]),
            ("排放单元 Emission unit", f"{c['unit']} {c['unit_name']}"),
            ("报告期 Reporting period", f"{c['period']} ({c['months'][0]} .. {c['months'][-1]})"),
            ("数据来源 Figures from", c["basis"]["figures"]),
            ("说明 Note", c["basis"]["note"]),
            ("默认值法规 Default values", f"{c['defaults_file']['regulation']}, {c['defaults_file']['annex']}"),
            ("默认值已核实 Default values confirmed", _yes(c["defaults_file"]["confirmed"])),
            ("警告 Warnings", "; ".join(c["warnings"])),
        ],
    )


def _yes(ok: bool) -> str:
    return "是 yes" if ok else "否 no (secondary source only)"


def _installation(ws: Worksheet, c: dict[str, Any]) -> None:
    i = c["installation"] or {}
    _rows(
        ws,
        [
            ("装置名称 Installation name", i.get("name", "")),
            ("装置名称(中文) Name (Chinese)", i.get("name_zh", "")),
            ("地址 Street, number", i.get("address", "")),
            ("城市 City", i.get("city", "")),
            ("国家 Country", i.get("country", "")),
            ("UN/LOCODE", i.get("unlocode", "")),
            ("纬度 Latitude", i.get("latitude")),
            ("经度 Longitude", i.get("longitude")),
            ("报告期开始 Reporting period start", c["start"]),
            ("报告期结束 Reporting period end", c["end"]),
            ("汇总商品类别 Aggregated goods category", "水泥 Cement"),
            ("生产路线 Production route", "熟料煅烧 + 水泥粉磨 clinker kiln + cement grinding"),
        ],
    )


def _emissions(ws: Worksheet, c: dict[str, Any]) -> None:
    _header(ws, ["月份 Month", "数据来源 Source", "熟料 Clinker (t)", "直接排放 Direct CO2 (t)", "输入 Inputs"])
    for m in c["basis"]["per_month"]:
        ws.append([m["month"], m["source"], m["clinker_t"], m["direct_co2_t"], m["inputs"]])
    ws.append([])
    _header(
        ws,
        [
            "产品 Good",
            "直接排放 Direct CO2 (t)",
            "耗电 Electricity (MWh)",
            "间接排放 Indirect CO2 (t)",
            "排放因子 Factor (tCO2/MWh)",
            "因子来源 Factor id@version",
        ],
    )
    for p in c["products"]:
        f = p["electricity_factor"]
        ws.append(
            [
                p["product"],
                p["direct_tco2"],
                p["electricity_mwh"],
                p["indirect_tco2"],
                f["tco2_per_mwh"],
                ", ".join(f["ids"]),
            ]
        )


def _processes(ws: Worksheet, c: dict[str, Any]) -> None:
    _header(
        ws,
        [
            "产品 Good",
            "CN 编码 CN code",
            "产量 Production (t)",
            "直接排放 Direct (tCO2)",
            "间接排放 Indirect (tCO2)",
            "耗电 Electricity (MWh)",
            "熟料比例 Clinker share",
        ],
    )
    for p in c["products"]:
        ws.append(
            [
                p["product"],
                p["cn_code"],
                p["production_t"],
                p["direct_tco2"],
                p["indirect_tco2"],
                p["electricity_mwh"],
                p.get("clinker_share"),
            ]
        )


def _precursors(ws: Worksheet, c: dict[str, Any]) -> None:
    _header(
        ws,
        [
            "商品 Good",
            "前体 Precursor",
            "CN 编码 CN code",
            "来源 Origin",
            "消耗量 Consumed (t)",
            "占比 Share of good",
            "直接 SEE direct",
            "间接 SEE indirect",
            "内含直接 Embedded direct (tCO2)",
            "内含间接 Embedded indirect (tCO2)",
            "数据类型 Basis",
        ],
    )
    for p in c["precursors"]:
        ws.append(
            [
                p["good"],
                p["precursor"],
                p["cn_code"],
                p["origin"],
                p["consumed_t"],
                p["share_of_good"],
                p["see_direct"],
                p["see_indirect"],
                p["embedded_direct_tco2"],
                p["embedded_indirect_tco2"],
                p["value_basis"],
            ]
        )


def _carbon_price(ws: Worksheet, c: dict[str, Any]) -> None:
    _header(
        ws,
        [
            "产品 Good",
            "碳价机制 Scheme",
            "年份 Year",
            "碳价 Price (CNY/tCO2)",
            "非免费比例 Share not free",
            "付费排放 tCO2 paid per t",
            "已付碳价 CNY per t",
            "EUR per t",
            "来源 Source",
            "方法 Method",
        ],
    )
    for p in c["products"]:
        cp = p["carbon_price_paid"]
        if not cp["available"]:
            ws.append([p["product"], cp["note"]])
            continue
        ws.append(
            [
                p["product"],
                cp["scheme"],
                cp["year"],
                cp["price_cny_per_tco2"],
                cp["share_not_free"],
                cp["tco2_paid_per_t"],
                cp["cny_per_t"],
                cp["eur_per_t"],
                cp["source"],
                cp["method"],
            ]
        )


def _summary(ws: Worksheet, c: dict[str, Any]) -> None:
    _header(
        ws,
        [
            "产品 Good",
            "CN 编码 CN code",
            "直接 SEE direct (tCO2e/t)",
            "间接 SEE indirect (tCO2e/t)",
            "合计 SEE total (tCO2e/t)",
            "电耗 Electricity (MWh/t)",
            "排放因子 Factor (tCO2/MWh)",
            "因子来源 Factor source",
            "实测/默认 Actual or default",
            "欧盟默认值 EU default (tCO2e/t)",
            "加成 Mark-up",
            "含加成默认值 Default × (1 + mark-up)",
            "每吨节省 Saving per t",
            "出口量 Exported (t)",
            "出口节省 Saving on exports (tCO2e)",
            "已付碳价 Carbon price paid (CNY/t)",
            "默认值来源 Default source",
        ],
    )
    for p in c["products"]:
        d = p["eu_default"]
        ws.append(
            [
                p["product"],
                p["cn_code"],
                p["see_direct"],
                p["see_indirect"],
                p["see_total"],
                p["electricity_mwh_per_t"],
                p["electricity_factor"]["tco2_per_mwh"],
                ", ".join(p["electricity_factor"]["ids"]),
                "; ".join(f"{k}: {v}" for k, v in p["value_basis"].items()),
                d.get("total"),
                d["markup"],
                d.get("total_with_markup"),
                d.get("saving_per_t"),
                p["exported_t"],
                p["saving_exported_tco2"],
                p["carbon_price_paid"].get("cny_per_t"),
                d.get("source") or d.get("note"),
            ]
        )
