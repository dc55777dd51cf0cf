"""The carbon accounting dashboard: scope 1 and scope 2 by method (never added), breakdowns, factors, months."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, bargauge, piechart, table
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.piechart import PieChartType

from core.plant import Plant
from dashboards import schema as sc
from dashboards.i18n import Lang
from dashboards.panels import METERING, Board, Query, alert_annotation, new_board, site_variable
from dashboards.queries import LOCATION_TOTAL, MAIN, MARKET_TOTAL, SITE, breakdown_filter


def carbon(plant: Plant, lang: Lang) -> dm.Dashboard:
    b = new_board(plant, lang, "carbon", "dash.carbon")
    b.builder.time("now/M", "now")
    b.builder.with_variable(site_variable(b, plant, METERING, sc.EMISSIONS))
    b.builder.annotation(alert_annotation(b))
    tz = plant.site.timezone
    base = f'SELECT sum("co2_kg") / 1000 FROM "{sc.EMISSIONS}" WHERE {SITE} AND {MAIN} AND $timeFilter'
    loc, mkt = f"\"method\" = '{sc.LOCATION}'", f"\"method\" = '{sc.MARKET}'"
    s1, s2 = f"\"scope\" = '{sc.SCOPE_1}'", f"\"scope\" = '{sc.SCOPE_2}'"
    b.row("row.scope")
    for title, where, width in (
        ("p.scope1", s1, 4),
        ("p.scope2_location", f"{s2} AND {loc}", 5),
        ("p.scope2_market", f"{s2} AND {mkt}", 5),
        ("p.total_location", LOCATION_TOTAL, 5),
        ("p.total_market", MARKET_TOTAL, 5),
    ):
        b.add(b.stat(title=title, ds=METERING, query=f"{base} AND {where}", unit="masst", decimals=2, width=width))
    b.row("row.breakdown")
    b.add(
        b.series(
            title="p.location_vs_market",
            ds=METERING,
            queries=[Query(f"{base} AND {s2} GROUP BY time(1d), \"method\" fill(none) tz('{tz}')", "$tag_method")],
            unit="masst",
            decimals=2,
            width=24,
            bars=True,
        )
    )
    by_carrier = piechart.Panel()
    b.place(
        by_carrier,
        title="p.by_carrier",
        ds=METERING,
        queries=[Query(f'{base} AND {LOCATION_TOTAL} GROUP BY "carrier"', "$tag_carrier")],
        unit="masst",
        decimals=2,
        width=8,
        height=8,
    )
    by_carrier.reduce_options(cb.ReduceDataOptions().calcs(["sum"]).values(False))
    by_carrier.pie_type(PieChartType.DONUT)
    b.add(by_carrier)
    by_area = bargauge.Panel()
    b.place(
        by_area,
        title="p.by_area",
        ds=METERING,
        queries=[
            Query(
                f'SELECT sum("co2_kg") / 1000 FROM "{sc.EMISSIONS}" WHERE {SITE} AND {breakdown_filter(plant)} '
                f"AND {LOCATION_TOTAL} AND $timeFilter "
                'GROUP BY "area"',
                "$tag_area",
            )
        ],
        unit="masst",
        decimals=2,
        width=8,
        height=8,
    )
    by_area.orientation(cm.VizOrientation.HORIZONTAL).reduce_options(cb.ReduceDataOptions().calcs(["sum"]))
    b.add(by_area)
    factors = table.Panel()
    b.place(
        factors,
        title="p.factors",
        ds=METERING,
        queries=[
            Query(
                f'SELECT last("factor") AS "factor" FROM "{sc.EMISSIONS}" WHERE {SITE} AND $timeFilter '
                'GROUP BY "carrier", "scope", "method"'
            )
        ],
        unit="none",
        decimals=None,
        width=8,
        height=8,
        fmt="table",
    )
    factors.with_transformation(dm.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}}))
    b.add(factors)
    b.add(_monthly(b, f"{base} AND {LOCATION_TOTAL} GROUP BY time(1d) fill(0) tz('{tz}')"))
    return b.builder.build()


def _monthly(b: Board, daily_query: str) -> barchart.Panel:
    """This year's months as bars. InfluxQL cannot group by calendar month: Grafana labels each
    day YYYY-MM and sums per label."""
    monthly = barchart.Panel()
    b.place(
        monthly,
        title="p.monthly",
        ds=METERING,
        queries=[Query(daily_query, "co2")],
        unit="masst",
        decimals=1,
        width=24,
        height=8,
    )
    monthly.time_from("now/y")
    monthly.with_transformation(
        dm.DataTransformerConfig(
            id_val="formatTime", options={"timeField": "Time", "outputFormat": "YYYY-MM", "useTimezone": True}
        )
    )
    monthly.with_transformation(
        dm.DataTransformerConfig(
            id_val="groupBy",
            options={
                "fields": {
                    "Time": {"aggregations": [], "operation": "groupby"},
                    "co2": {"aggregations": ["sum"], "operation": "aggregate"},
                }
            },
        )
    )
    return monthly
