"""The plant overview: site power, demand against the contract, devices offline, today's energy, tce, CO2 and cost."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, gauge, stat
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import schema as sc
from dashboards.i18n import Lang
from dashboards.panels import (
    GREEN,
    METERING,
    RAW,
    RED,
    Board,
    Query,
    alert_annotation,
    benchmark_note,
    benchmark_steps,
    demand_thresholds,
    draw_thresholds,
    new_board,
    site_variable,
    steps,
)
from dashboards.plantfile import emission_units, main_electric_meters, main_meters, site_demand_device
from dashboards.queries import MAIN, SITE, breakdown_filter, co2_today_query, regex_of
from dashboards.thresholds import IntensityBenchmark
from plantcarbon_core.plant import Plant


def overview(plant: Plant, lang: Lang, benchmark: IntensityBenchmark | None = None) -> dm.Dashboard:
    b = new_board(plant, lang, "overview", "dash.overview")
    b.builder.with_variable(site_variable(b, plant, RAW, "electricity"))
    b.builder.annotation(alert_annotation(b))
    tz = plant.site.timezone
    mains_e = regex_of(main_electric_meters(plant) or main_meters(plant))
    tce_today = f'SELECT sum("tce_kg") / 1000 FROM "{sc.ENERGY}" WHERE {SITE} AND {MAIN} AND $timeFilter'
    b.row("row.now")
    b.add(
        b.stat(
            title="p.site_power",
            ds=RAW,
            query=f'SELECT sum("p") FROM (SELECT last("p_kw") AS "p" FROM "electricity" WHERE {SITE} '
            f'AND "device" =~ {mains_e} AND $timeFilter GROUP BY "device")',
            unit="kwatt",
            decimals=0,
            time_from="5m",
        )
    )
    demand_steps = demand_thresholds(plant)
    demand_now = gauge.Panel()
    b.place(
        demand_now,
        title="p.demand_now",
        ds=METERING,
        queries=[
            Query(
                f'SELECT last("demand_kw") FROM "{sc.DEMAND}" WHERE {SITE} '
                f"AND \"device\" = '{site_demand_device(plant)}' AND $timeFilter"
            )
        ],
        unit="kwatt",
        decimals=0,
        width=4,
        height=4,
    )
    demand_now.time_from("1h").reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    if demand_steps is not None and plant.contract.demand_limit_kw:
        demand_now.thresholds(demand_steps).min(0).max(plant.contract.demand_limit_kw * 1.1)
    b.add(demand_now)
    offline = stat.Panel()
    b.place(
        offline,
        title="p.devices_offline",
        ds=RAW,
        queries=[
            Query(
                # No time filter: the edge writes a status only when it changes, so a device's
                # state now is its last status ever, however long ago that was.
                f'SELECT count("last") FROM (SELECT last("online") FROM "{sc.DEVICE_STATUS}" WHERE {SITE} '
                'AND time <= now() GROUP BY "device") WHERE "last" = false'
            )
        ],
        unit="none",
        decimals=0,
        width=4,
        height=4,
    )
    offline.no_value("0").thresholds(steps((None, GREEN), (1, RED)))
    offline.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"])).color_mode(cm.BigValueColorMode.BACKGROUND)
    b.add(offline)
    b.add(
        b.stat(
            title="p.energy_today",
            ds=METERING,
            query=f'SELECT sum("amount") FROM "{sc.ENERGY}" WHERE {SITE} AND {MAIN} '
            "AND \"carrier\" = 'electricity' AND $timeFilter",
            unit="kwatth",
            decimals=0,
            time_from="now/d",
        )
    )
    b.add(b.stat(title="p.tce_today", ds=METERING, query=tce_today, unit="suffix: tce", decimals=2, time_from="now/d"))
    units = bool(emission_units(plant))
    if units:
        _direct_now(b)
    else:
        b.add(
            b.stat(
                title="p.co2_today",
                ds=METERING,
                query=co2_today_query(plant),
                unit="masst",
                decimals=2,
                time_from="now/d",
            )
        )
    b.row("row.today")
    b.add(
        b.stat(
            title="p.cost_today",
            ds=METERING,
            query=f'SELECT sum("cost") FROM "{sc.ENERGY}" WHERE {SITE} AND {MAIN} AND $timeFilter',
            unit="currency:¥",
            decimals=0,
            time_from="now/d",
            width=6,
        )
    )
    b.add(_clinker_intensity_month(b, benchmark) if units else _intensity_today(b, plant, tce_today))
    b.add(_top_consumers(b, plant))
    b.add(
        b.series(
            title="p.site_power_trend",
            ds=RAW,
            queries=[
                Query(
                    f'SELECT sum("p") FROM (SELECT mean("p_kw") AS "p" FROM "electricity" WHERE {SITE} '
                    f'AND "device" =~ {mains_e} AND $timeFilter GROUP BY time($__interval), "device" fill(none)) '
                    f"GROUP BY time($__interval) fill(null) tz('{tz}')",
                    "site",
                )
            ],
            unit="kwatt",
            decimals=0,
            width=12,
        )
    )
    demand = b.series(
        title="p.demand_vs_limit",
        ds=METERING,
        queries=[
            Query(
                f'SELECT max("demand_kw") AS "{b.t("s.demand")}", max("forecast_kw") AS "{b.t("s.forecast")}" '
                f'FROM "{sc.DEMAND}" WHERE {SITE} AND "device" = \'{site_demand_device(plant)}\' AND $timeFilter '
                f"GROUP BY time(15m) fill(null) tz('{tz}')"
            )
        ],
        unit="kwatt",
        decimals=0,
        width=24,
    )
    if demand_steps is not None:
        draw_thresholds(demand, demand_steps)
    b.add(demand)
    return b.builder.build()


def _direct_now(b: Board) -> None:
    """A plant with emission units: today's CO2 of the energy engine would show its kiln-coal estimate
    without the process CO2, and the units' direct CO2 exists only for closed days. So two figures,
    each with its boundary: scope 2 today (location-based) and the units' direct CO2 this month."""
    b.add(
        b.stat(
            title="p.scope2_today",
            ds=METERING,
            query=f'SELECT sum("co2_kg") / 1000 FROM "{sc.EMISSIONS}" WHERE {SITE} AND {MAIN} '
            f"AND \"scope\" = '{sc.SCOPE_2}' AND \"method\" = '{sc.LOCATION}' AND $timeFilter",
            unit="masst",
            decimals=2,
            time_from="now/d",
        )
    )
    ets = b.stat(
        title="p.ets_month",
        ds=METERING,
        query=_direct_product('sum("co2_t")'),
        unit="masst",
        decimals=1,
        time_from="now/M",
    )
    ets.description(b.t("d.ets_closed_days"))
    b.add(ets)


def _direct_product(select: str) -> str:
    return f'SELECT {select} FROM "{sc.DIRECT}" WHERE {SITE} AND "source" = \'{sc.DIRECT_PRODUCT}\' AND $timeFilter'


def _clinker_intensity_month(b: Board, benchmark: IntensityBenchmark | None) -> stat.Panel:
    """The units' direct CO2 per tonne of clinker over this month's closed days (national carbon market),
    red above the sector benchmark when one is given."""
    panel = b.stat(
        title="p.clinker_intensity_month",
        ds=METERING,
        query=_direct_product('sum("co2_t") / sum("activity_t") AS "intensity"'),
        unit="suffix: tCO2/t",
        decimals=4,
        time_from="now/M",
        width=6,
        thresholds=benchmark_steps(benchmark),
    )
    panel.description(f"{b.t('d.ets_closed_days')} {benchmark_note(b, benchmark)}")
    return panel


def _intensity_today(b: Board, plant: Plant, tce_today: str) -> stat.Panel:
    """tCO2 per tce today: Grafana divides the two sums (they share the range's start as timestamp, so they join)."""
    intensity = stat.Panel()
    b.place(
        intensity,
        title="p.intensity_today",
        ds=METERING,
        queries=[Query(co2_today_query(plant), "co2_t"), Query(tce_today, "tce")],
        unit="suffix: tCO2/tce",
        decimals=3,
        width=6,
        height=4,
    )
    intensity.time_from("now/d").reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("/^intensity$/"))
    intensity.with_transformation(
        dm.DataTransformerConfig(id_val="joinByField", options={"byField": "Time", "mode": "outer"})
    )
    intensity.with_transformation(
        dm.DataTransformerConfig(
            id_val="calculateField",
            options={
                "mode": "binary",
                "alias": "intensity",
                "binary": {"left": "co2_t", "operator": "/", "right": "tce"},
                "replaceFields": False,
            },
        )
    )
    return intensity


def _top_consumers(b: Board, plant: Plant) -> bargauge.Panel:
    """Today's ten largest tce consumers among rows that do not count twice."""
    top = bargauge.Panel()
    b.place(
        top,
        title="p.top_consumers",
        ds=METERING,
        queries=[
            Query(
                f'SELECT top("e", "device", 10) AS "tce" FROM (SELECT sum("tce_kg") / 1000 AS "e" FROM "{sc.ENERGY}" '
                f'WHERE {SITE} AND {breakdown_filter(plant)} AND $timeFilter GROUP BY "device")'
            )
        ],
        unit="suffix: tce",
        decimals=3,
        width=12,
        height=8,
        fmt="table",
    )
    top.time_from("now/d").orientation(cm.VizOrientation.HORIZONTAL).display_mode(cm.BarGaugeDisplayMode.GRADIENT)
    top.reduce_options(cb.ReduceDataOptions().values(True).calcs([]).fields("/^tce$/"))
    top.thresholds(steps((None, GREEN)))
    return top
