"""The carbon accounting dashboard: scope 1 and scope 2 by method (never added), breakdowns, factors, months.

A plant with emission units (a `carbon:` block, e.g. a cement clinker line) shows the three
boundaries of docs/direct-emissions.md §5 side by side and never adds them: national carbon
market direct CO2 per unit (fuel + process, measurement `direct`), GB/T 32150 scope 1 (the
units' direct CO2 plus the metering engine's scope 1 rows of fuels no unit weighs), scope 2
location- and market-based; and a row of the units' direct emissions: clinker intensity
against the sector benchmark (when one is given), direct CO2 by source and material
(biogenic CO2 as a memo item), per day.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import barchart, bargauge, piechart, stat, table
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.piechart import PieChartType

from dashboards import schema as sc
from dashboards.i18n import Lang
from dashboards.panels import (
    BLUE,
    GREEN,
    METERING,
    RED,
    Board,
    Query,
    alert_annotation,
    draw_thresholds,
    new_board,
    site_variable,
    steps,
)
from dashboards.plantfile import emission_units, weighed_devices
from dashboards.queries import LOCATION_TOTAL, MAIN, MARKET_TOTAL, SITE, breakdown_filter, regex_of
from dashboards.thresholds import IntensityBenchmark
from plantcarbon_core.plant import Plant


def carbon(plant: Plant, lang: Lang, benchmark: IntensityBenchmark | None = None) -> dm.Dashboard:
    b = new_board(plant, lang, "carbon", "dash.carbon")
    b.builder.time("now/M", "now")
    b.builder.with_variable(site_variable(b, plant, METERING, sc.EMISSIONS))
    b.builder.annotation(alert_annotation(b))
    tz = plant.site.timezone
    base = f'SELECT sum("co2_kg") / 1000 FROM "{sc.EMISSIONS}" WHERE {SITE} AND {MAIN} AND $timeFilter'
    loc, mkt = f"\"method\" = '{sc.LOCATION}'", f"\"method\" = '{sc.MARKET}'"
    s1, s2 = f"\"scope\" = '{sc.SCOPE_1}'", f"\"scope\" = '{sc.SCOPE_2}'"
    b.row("row.scope")
    if emission_units(plant):
        _three_boundaries(b, plant, base)
        b.row("row.direct")
        _direct_emissions(b, plant, benchmark)
    else:
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


# --- plants with emission units ---------------------------------------------------------

PRODUCT = f"\"source\" = '{sc.DIRECT_PRODUCT}'"


def _direct(select: str, where: str = "") -> str:
    """A query of the units' daily `direct` points in the dashboard's range."""
    return f'SELECT {select} FROM "{sc.DIRECT}" WHERE {SITE} AND {where or PRODUCT} AND $timeFilter'


def _three_boundaries(b: Board, plant: Plant, base: str) -> None:
    """ETS direct per unit, GB/T 32150 scope 1, scope 2 by method, and the two labelled totals.

    The metering engine also writes scope 1 rows for the fuel weighers (a default factor on the
    weighed tonnes); the units' direct CO2 counts that fuel with the lab's analyses, so those
    rows are left out wherever the two are added (docs/direct-emissions.md §5)."""
    weighed = weighed_devices(plant)
    not_weighed = f' AND "device" !~ {regex_of(weighed)}' if weighed else ""
    direct_total = _direct('sum("co2_t")')
    s1, s2 = f"\"scope\" = '{sc.SCOPE_1}'", f"\"scope\" = '{sc.SCOPE_2}'"
    b.add(
        b.stat(
            title="p.ets_direct",
            ds=METERING,
            query=f'{direct_total} GROUP BY "unit"',
            unit="masst",
            decimals=2,
            width=4,
            alias="$tag_unit",
        )
    )
    b.add(_sum_of(b, "p.scope1_inventory", [direct_total, f"{base} AND {s1}{not_weighed}"], "scope1"))
    b.add(
        b.stat(
            title="p.scope2_location",
            ds=METERING,
            query=f"{base} AND {s2} AND \"method\" = '{sc.LOCATION}'",
            unit="masst",
            decimals=2,
            width=4,
        )
    )
    b.add(
        b.stat(
            title="p.scope2_market",
            ds=METERING,
            query=f"{base} AND {s2} AND \"method\" = '{sc.MARKET}'",
            unit="masst",
            decimals=2,
            width=4,
        )
    )
    b.add(_sum_of(b, "p.total_location", [direct_total, f"{base} AND {LOCATION_TOTAL}{not_weighed}"], "total"))
    b.add(_sum_of(b, "p.total_market", [direct_total, f"{base} AND {MARKET_TOTAL}{not_weighed}"], "total"))


def _sum_of(b: Board, title: str, parts: Sequence[str], name: str) -> stat.Panel:
    """A figure that adds parts of one boundary from two measurements: Grafana joins the sums
    (each has the range's start as its time) and adds them across the row; a part with no rows
    adds nothing."""
    aliases = [f"{name}_{i}" for i in range(len(parts))]
    panel = stat.Panel()
    b.place(
        panel,
        title=title,
        ds=METERING,
        queries=[Query(q, a) for q, a in zip(parts, aliases, strict=True)],
        unit="masst",
        decimals=2,
        width=4,
        height=4,
    )
    panel.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields(f"/^{name}$/"))
    panel.graph_mode(cm.BigValueGraphMode.NONE).color_mode(cm.BigValueColorMode.VALUE)
    panel.thresholds(steps((None, BLUE)))
    panel.with_transformation(
        dm.DataTransformerConfig(id_val="joinByField", options={"byField": "Time", "mode": "outer"})
    )
    panel.with_transformation(
        dm.DataTransformerConfig(
            id_val="calculateField",
            options={
                "mode": "reduceRow",
                "reduce": {"reducer": "sum", "include": aliases},
                "alias": name,
                "replaceFields": False,
            },
        )
    )
    return panel


def _benchmark_steps(benchmark: IntensityBenchmark | None) -> db.ThresholdsConfig:
    return steps((None, GREEN), (benchmark.value, RED)) if benchmark else steps((None, BLUE))


def _benchmark_note(b: Board, benchmark: IntensityBenchmark | None) -> str:
    if benchmark is None:
        return b.t("d.no_benchmark")
    note = b.t("d.benchmark").format(value=f"{benchmark.value:g}", source=benchmark.source)
    return note + ("" if benchmark.confirmed else b.t("d.unconfirmed"))


def _direct_emissions(b: Board, plant: Plant, benchmark: IntensityBenchmark | None) -> None:
    """Clinker intensity against the benchmark, direct CO2 by source, and both per day."""
    tz = plant.site.timezone
    intensity = b.stat(
        title="p.clinker_intensity",
        ds=METERING,
        query=_direct('sum("co2_t") / sum("activity_t") AS "intensity"') + ' GROUP BY "unit"',
        unit="suffix: tCO2/t",
        decimals=4,
        thresholds=_benchmark_steps(benchmark),
        width=6,
        alias="$tag_unit",
    )
    intensity.description(_benchmark_note(b, benchmark))
    b.add(intensity)
    by_source = table.Panel()
    b.place(
        by_source,
        title="p.direct_by_source",
        ds=METERING,
        queries=[
            Query(
                _direct(
                    'sum("co2_t") AS "co2_t", sum("activity_t") AS "activity_t"',
                    f'"source" =~ {regex_of(sc.DIRECT_SOURCES)}',
                )
                + ' GROUP BY "unit", "source", "material"'
            )
        ],
        unit="none",
        decimals=2,
        width=18,
        height=8,
        fmt="table",
    )
    by_source.mappings(
        [
            dm.ValueMap(
                options={
                    src: dm.ValueMappingResult(text=b.t(f"s.src.{src}"), index=i)
                    for i, src in enumerate(sc.DIRECT_SOURCES)
                }
            )
        ]
    )
    by_source.with_transformation(
        dm.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}})
    )
    b.add(by_source)
    b.add(
        b.series(
            title="p.direct_daily",
            ds=METERING,
            queries=[
                Query(
                    _direct('sum("co2_t")') + f" GROUP BY time(1d), \"unit\" fill(none) tz('{tz}')",
                    "$tag_unit",
                )
            ],
            unit="masst",
            decimals=1,
            width=12,
            bars=True,
        )
    )
    daily = b.series(
        title="p.intensity_daily",
        ds=METERING,
        queries=[
            Query(
                _direct('sum("co2_t") / sum("activity_t") AS "intensity"')
                + f" GROUP BY time(1d), \"unit\" fill(none) tz('{tz}')",
                "$tag_unit",
            )
        ],
        unit="suffix: tCO2/t",
        decimals=4,
        width=12,
    )
    if benchmark is not None:
        draw_thresholds(daily, steps((None, GREEN), (benchmark.value, RED)))
    daily.description(_benchmark_note(b, benchmark))
    b.add(daily)
