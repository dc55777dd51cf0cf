"""The carbon accounting dashboard: scope 1 and scope 2 by method (never added), breakdowns, factors, months.

A plant with emission units (a `carbon:` block, e.g. a cement clinker line) shows the three
boundaries of docs/direct-emissions.md §5 side by side and never adds them: national carbon
market direct CO2 per unit (fuel + process, measurement `direct`), GB/T 32150 scope 1 (the
units' direct CO2 plus the metering engine's scope 1 rows of fuels no unit weighs), scope 2
location- and market-based; and a row of the units' direct emissions: clinker intensity
against the sector benchmark (when one is given), direct CO2 by source and material
(biogenic CO2 as a memo item), per day; its breakdowns (by carrier and source, by area and unit,
monthly) take the units' direct CO2 in place of the engine's rows of the weighers (the kiln
coal once, the process CO2 in); and a CBAM row (measurement `cbam`): per tonne of clinker and of
cement with clinker as its precursor, direct and indirect apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import barchart, bargauge, piechart, stat, table
from grafana_foundation_sdk.builders import common as cb
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
    benchmark_note,
    benchmark_steps,
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
    units = bool(emission_units(plant))
    # With emission units, the weighers' engine rows (a default factor on the kiln coal) are left out
    # and the units' direct CO2 (fuel with the lab's analyses + process) stands for them: one count.
    engine = f"{LOCATION_TOTAL}{_not_weighed(plant)}"
    by_carrier = piechart.Panel()
    b.place(
        by_carrier,
        title="p.by_source" if units else "p.by_carrier",
        ds=METERING,
        queries=[Query(f'{base} AND {engine} GROUP BY "carrier"', "$tag_carrier")]
        + ([Query(_direct('sum("co2_t")', COUNTED) + ' GROUP BY "source"', "$tag_source")] if units else []),
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
        title="p.by_area_units" if units else "p.by_area",
        ds=METERING,
        queries=[
            Query(
                f'SELECT sum("co2_kg") / 1000 FROM "{sc.EMISSIONS}" WHERE {SITE} AND {breakdown_filter(plant)} '
                f"AND {engine} AND $timeFilter "
                'GROUP BY "area"',
                "$tag_area",
            )
        ]
        + ([Query(_direct('sum("co2_t")') + ' GROUP BY "unit"', "$tag_unit")] if units else []),
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
    daily = [f"{base} AND {engine} GROUP BY time(1d) fill(0) tz('{tz}')"]
    if units:
        daily.append(_direct('sum("co2_t")') + f" GROUP BY time(1d) fill(0) tz('{tz}')")
    b.add(_monthly(b, daily))
    if units:
        b.row("row.cbam")
        _cbam(b)
    return b.builder.build()


def _not_weighed(plant: Plant) -> str:
    """Leaves out the engine's rows of the `carbon:` block's weighers (their fuel is in `direct`)."""
    weighed = weighed_devices(plant)
    return f' AND "device" !~ {regex_of(weighed)}' if weighed else ""


def _monthly(b: Board, daily_queries: Sequence[str]) -> barchart.Panel:
    """This year's months as bars. InfluxQL cannot group by calendar month: Grafana labels each
    day YYYY-MM and sums per label. Two parts (engine rows, units' direct CO2) are first joined
    by day and added across the row."""
    monthly = barchart.Panel()
    parts = [f"co2_{i}" for i in range(len(daily_queries))] if len(daily_queries) > 1 else ["co2"]
    b.place(
        monthly,
        title="p.monthly",
        ds=METERING,
        queries=[Query(q, a) for q, a in zip(daily_queries, parts, strict=True)],
        unit="masst",
        decimals=1,
        width=24,
        height=8,
    )
    monthly.time_from("now/y")
    if len(parts) > 1:
        for t in _row_sum(parts, "co2"):
            monthly.with_transformation(t)
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
# The sources that make up a unit's direct CO2 (biogenic is a memo item): they add up to `product`.
COUNTED = f'"source" =~ {regex_of(s for s in sc.DIRECT_SOURCES if s != "biogenic")}'


def _direct(select: str, where: str = "") -> str:
    """A query of the units' daily `direct` points in the dashboard's range."""
    return f'SELECT {select} FROM "{sc.DIRECT}" WHERE {SITE} AND {where or PRODUCT} AND $timeFilter'


def _three_boundaries(b: Board, plant: Plant, base: str) -> None:
    """ETS direct per unit, GB/T 32150 scope 1, scope 2 by method, and the two labelled totals.

    The metering engine also writes scope 1 rows for the fuel weighers (a default factor on the
    weighed tonnes); the units' direct CO2 counts that fuel with the lab's analyses, so those
    rows are left out wherever the two are added (docs/direct-emissions.md §5)."""
    not_weighed = _not_weighed(plant)
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
    for t in _row_sum(aliases, name):
        panel.with_transformation(t)
    return panel


def _row_sum(parts: Sequence[str], name: str) -> list[dm.DataTransformerConfig]:
    """Join the parts' frames by time and add them across the row as `name` (a part with no row adds nothing)."""
    return [
        dm.DataTransformerConfig(id_val="joinByField", options={"byField": "Time", "mode": "outer"}),
        dm.DataTransformerConfig(
            id_val="calculateField",
            options={
                "mode": "reduceRow",
                "reduce": {"reducer": "sum", "include": list(parts)},
                "alias": name,
                "replaceFields": False,
            },
        ),
    ]


def _direct_emissions(b: Board, plant: Plant, benchmark: IntensityBenchmark | None) -> None:
    """Clinker intensity against the benchmark, direct CO2 by source, and both per day."""
    tz = plant.site.timezone
    intensity = b.stat(
        title="p.clinker_intensity",
        ds=METERING,
        query=_direct('sum("co2_t") / sum("activity_t") AS "intensity"') + ' GROUP BY "unit"',
        unit="suffix: tCO2/t",
        decimals=4,
        thresholds=benchmark_steps(benchmark),
        width=6,
        alias="$tag_unit",
    )
    intensity.description(benchmark_note(b, benchmark))
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
    daily.description(benchmark_note(b, benchmark))
    b.add(daily)


# --- CBAM ---------------------------------------------------------------------------------


def _cbam_query(select: str, product: str, group: str = "") -> str:
    """A query of measurement `cbam` (per unit, product and local day) over the dashboard's range."""
    return f'SELECT {select} FROM "{sc.CBAM}" WHERE {SITE} AND "product" = \'{product}\' AND $timeFilter' + (
        f" GROUP BY {group}" if group else ""
    )


def _per_t(field: str) -> str:
    return f'sum("{field}") / sum("production_t")'


def _cbam(b: Board) -> None:
    """CBAM specific embedded emissions per tonne, direct and indirect apart, from measurement `cbam`.

    Per tonne is a ratio of the range's sums. Cement adds the clinker it contains at the clinker's
    figures over the same range (clinker share × clinker per tonne), computed by Grafana from two
    queries: the site's clinker and the site's cement."""
    clinker = b.stat(
        title="p.cbam_clinker",
        ds=METERING,
        query=_cbam_query(
            f'{_per_t("direct_tco2")} AS "direct", {_per_t("indirect_tco2")} AS "indirect"', "clinker", '"unit"'
        ),
        unit="suffix: tCO2/t",
        decimals=4,
        width=8,
        alias="$tag_unit $col",
    )
    clinker.description(b.t("d.cbam_clinker"))
    b.add(clinker)
    cement = stat.Panel()
    b.place(
        cement,
        title="p.cbam_cement",
        ds=METERING,
        queries=[
            Query(
                _cbam_query(
                    f'{_per_t("direct_tco2")} AS "ck_direct", {_per_t("indirect_tco2")} AS "ck_indirect"', "clinker"
                ),
                "$col",
            ),
            Query(
                _cbam_query(
                    f'{_per_t("direct_tco2")} AS "own_direct", {_per_t("indirect_tco2")} AS "own_indirect", '
                    f'{_per_t("precursor_t")} AS "clinker_share"',
                    "cement",
                ),
                "$col",  # fields named by their column: the calculations below refer to them
            ),
        ],
        unit="suffix: tCO2/t",
        decimals=4,
        width=8,
        height=4,
    )
    cement.description(b.t("d.cbam_cement"))
    cement.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields("/^(direct|indirect)$/"))
    cement.graph_mode(cm.BigValueGraphMode.NONE).color_mode(cm.BigValueColorMode.VALUE)
    cement.thresholds(steps((None, BLUE)))
    cement.with_transformation(
        dm.DataTransformerConfig(id_val="joinByField", options={"byField": "Time", "mode": "outer"})
    )
    for part in ("direct", "indirect"):
        for alias, left, op, right in (
            (f"precursor_{part}", "clinker_share", "*", f"ck_{part}"),
            (part, f"own_{part}", "+", f"precursor_{part}"),
        ):
            cement.with_transformation(
                dm.DataTransformerConfig(
                    id_val="calculateField",
                    options={
                        "mode": "binary",
                        "alias": alias,
                        "binary": {"left": left, "operator": op, "right": right},
                        "replaceFields": False,
                    },
                )
            )
    b.add(cement)
    activity = table.Panel()
    b.place(
        activity,
        title="p.cbam_activity",
        ds=METERING,
        queries=[
            Query(
                'SELECT sum("production_t") AS "production_t", '
                f'{_per_t("electricity_mwh")} AS "electricity_mwh_per_t", '
                f'{_per_t("precursor_t")} AS "clinker_share" FROM "{sc.CBAM}" WHERE {SITE} AND $timeFilter '
                'GROUP BY "unit", "product"'
            )
        ],
        unit="none",
        decimals=4,
        width=8,
        height=4,
        fmt="table",
    )
    activity.with_transformation(dm.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}}))
    b.add(activity)
