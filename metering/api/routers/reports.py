"""Carbon reports for a month or a year as JSON, CSV or XLSX, with English or Simplified Chinese labels.

Emissions are reported per boundary, scope 2 location- and market-based side by side (GHG
Protocol Scope 2 Guidance, dual reporting), with one total per method; no column adds the two.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Response

from metering.api import queries
from metering.api.deps import Svc, Viewer
from metering.api.params import Site, site_tz

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

FIGURES = [*queries.report_columns("co2_kg"), *queries.report_columns("co2e_kg")]
COLUMNS = ["device", "area", "carrier", "role", "amount", "tce_kg", "cost", *FIGURES]
_BOUNDARY_LABELS = {
    "en": {
        "scope1": "Scope 1",
        "scope2_location": "Scope 2, location-based",
        "scope2_market": "Scope 2, market-based",
        "total_location": "Scope 1+2, location-based",
        "total_market": "Scope 1+2, market-based",
    },
    "zh": {
        "scope1": "范围一",
        "scope2_location": "范围二 基于位置",
        "scope2_market": "范围二 基于市场",
        "total_location": "范围一+二 基于位置",
        "total_market": "范围一+二 基于市场",
    },
}
_GAS_LABELS = {"en": {"co2": "CO2", "co2e": "CO2e"}, "zh": {"co2": "二氧化碳", "co2e": "二氧化碳当量"}}


def _figure_labels(lang: str) -> dict[str, str]:
    """Column labels of the emissions figures: boundary and method, then the gas."""
    return {
        col: f"{_BOUNDARY_LABELS[lang][b]} {_GAS_LABELS[lang][gas]} (kg)"
        for gas in ("co2", "co2e")
        for col, b in zip(queries.report_columns(f"{gas}_kg"), queries.REPORT_FIGURES, strict=True)
    }


LABELS: dict[str, dict[str, str]] = {
    "en": {
        "device": "Device",
        "area": "Area",
        "carrier": "Energy carrier",
        "role": "Meter role",
        "amount": "Energy consumed",
        "tce_kg": "Standard coal (kgce)",
        "cost": "Cost (CNY)",
        "total": "Total (main meters)",
        "title": "Carbon report",
        **_figure_labels("en"),
    },
    "zh": {
        "device": "设备",
        "area": "区域",
        "carrier": "能源品种",
        "role": "计量角色",
        "amount": "能源消耗量",
        "tce_kg": "折标准煤 (kgce)",
        "cost": "费用 (元)",
        "total": "合计 (主表)",
        "title": "碳排放报告",
        **_figure_labels("zh"),
    },
}
_PERIOD = re.compile(r"^(20\d\d)(?:-(0[1-9]|1[0-2]))?$")


def period_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """'2026-03' → the month, '2026' → the year, in the site's local time, as UTC instants."""
    m = _PERIOD.match(period)
    if not m:
        raise ValueError(f"period must be YYYY or YYYY-MM (2000..2099), got {period!r}")
    year, month = int(m.group(1)), m.group(2)
    if month:
        start = datetime(year, int(month), 1, tzinfo=tz)
        end = datetime(year + (int(month) == 12), int(month) % 12 + 1, 1, tzinfo=tz)
    else:
        start, end = datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def report_frame(rows: pd.DataFrame) -> pd.DataFrame:
    df = rows.reindex(columns=COLUMNS)
    for c in ("amount", "tce_kg", "cost", *FIGURES):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def totals(df: pd.DataFrame) -> dict[str, Any]:
    """Site totals from main meters only (sub-meters are a breakdown of their parent), per boundary.

    `co2_kg` and `co2e_kg` are dicts: scope1, scope2_location, scope2_market, total_location
    (scope 1 + location-based scope 2) and total_market (scope 1 + market-based scope 2).
    """
    main = df[df["role"] == "main"]
    out: dict[str, Any] = {"tce_kg": float(main["tce_kg"].sum()), "cost": float(main["cost"].sum())}
    for gas in ("co2_kg", "co2e_kg"):
        names = queries.report_columns(gas)
        out[gas] = {b: float(main[c].sum()) for c, b in zip(names, queries.REPORT_FIGURES, strict=True)}
    return out


def _flat_totals(tot: dict[str, Any]) -> dict[str, float]:
    """`totals` as report columns, for the total row of the CSV/XLSX table."""
    flat = {"tce_kg": tot["tce_kg"], "cost": tot["cost"]}
    for gas in ("co2_kg", "co2e_kg"):
        names = queries.report_columns(gas)
        flat.update({c: tot[gas][b] for c, b in zip(names, queries.REPORT_FIGURES, strict=True)})
    return flat


@router.get(
    "/carbon",
    summary="Carbon report for a month (YYYY-MM) or a year (YYYY)",
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        }
    },
)
def carbon_report(
    _key: Viewer,
    svc: Svc,
    site: Site,
    period: Annotated[str, Query(pattern=r"^20\d\d(-(0[1-9]|1[0-2]))?$", examples=["2026-03", "2026"])],
    format: Literal["json", "csv", "xlsx"] = "json",
    lang: Literal["en", "zh"] = "en",
) -> Any:
    tz = ZoneInfo(site_tz(svc))
    try:
        start, end = period_bounds(period, tz)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    df = report_frame(queries.report_rows(svc.influx, site, start, end))
    labels = LABELS[lang]
    tot = totals(df)
    if format == "json":
        return {
            "site": site,
            "period": period,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "labels": {c: labels[c] for c in COLUMNS},
            "rows": queries.records(df, COLUMNS),
            "totals": tot,
        }
    out = df.rename(columns=labels)
    total_row = {labels["device"]: labels["total"], **{labels[k]: v for k, v in _flat_totals(tot).items()}}
    out = pd.concat([out, pd.DataFrame([total_row])], ignore_index=True)
    name = f"carbon-{site}-{period}-{lang}"
    if format == "csv":
        # UTF-8 with BOM so Excel opens the Chinese labels correctly.
        body = out.to_csv(index=False).encode("utf-8-sig")
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        out.to_excel(xw, index=False, sheet_name=labels["title"][:31])
    return Response(
        buf.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )
