"""The demand and demand-response dashboard: demand against the contract limit, TOU energy and cost, DR baselines."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import piechart
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import schema as sc
from dashboards.i18n import Lang
from dashboards.panels import (
    GREEN,
    METERING,
    RED,
    Query,
    alert_annotation,
    demand_thresholds,
    draw_thresholds,
    fixed_colour,
    multi_variable,
    new_board,
    site_variable,
    steps,
)
from dashboards.plantfile import site_demand_device
from dashboards.queries import SITE
from plantcarbon_core.plant import Plant

TOU_COLOURS = {"sharp": "dark-red", "peak": "orange", "flat": "yellow", "valley": "green", "deep_valley": "blue"}


def demand(plant: Plant, lang: Lang) -> dm.Dashboard:
    b = new_board(plant, lang, "demand", "dash.demand")
    b.builder.with_variable(site_variable(b, plant, METERING, sc.DEMAND))
    b.builder.with_variable(
        multi_variable(
            b, "event", "var.event", METERING, f'SHOW TAG VALUES FROM "{sc.DR}" WITH KEY = "event" WHERE {SITE}'
        )
    )
    b.builder.annotation(alert_annotation(b))
    tz = plant.site.timezone
    site_demand = f"{SITE} AND \"device\" = '{site_demand_device(plant)}' AND $timeFilter"
    b.row("row.demand")
    limits = demand_thresholds(plant)
    d = b.series(
        title="p.demand_vs_limit",
        ds=METERING,
        queries=[
            Query(
                f'SELECT max("demand_kw") AS "{b.t("s.demand")}", max("sliding_kw") AS "{b.t("s.sliding")}", '
                f'max("forecast_kw") AS "{b.t("s.forecast")}", last("limit_kw") AS "{b.t("s.limit")}" '
                f'FROM "{sc.DEMAND}" WHERE {site_demand} '
                f"GROUP BY time(15m) fill(null) tz('{tz}')"
            )
        ],
        unit="kwatt",
        decimals=0,
        width=18,
    )
    if limits is not None:
        draw_thresholds(d, limits)
    b.add(d)
    b.add(
        b.stat(
            title="p.month_max_demand",
            ds=METERING,
            query=f'SELECT max("demand_kw") FROM "{sc.DEMAND}" WHERE {site_demand}',
            unit="kwatt",
            decimals=0,
            thresholds=limits,
            time_from="now/M",
            width=6,
        )
    )
    b.row("row.tou")
    mains = f"{SITE} AND \"role\" = '{sc.ROLE_MAIN}' AND \"carrier\" = 'electricity' AND $timeFilter"
    tou = b.series(
        title="p.tou_energy",
        ds=METERING,
        queries=[
            Query(
                f'SELECT sum("amount") FROM "{sc.ENERGY}" WHERE {mains} '
                f"GROUP BY time(1h), \"tou\" fill(none) tz('{tz}')",
                "$tag_tou",
            )
        ],
        unit="kwatth",
        decimals=0,
        width=16,
        bars=True,
        stacked=True,
    )
    for band, colour in TOU_COLOURS.items():
        tou.override_by_name(band, fixed_colour(colour))
    b.add(tou)
    cost = piechart.Panel()
    b.place(
        cost,
        title="p.tou_cost",
        ds=METERING,
        queries=[Query(f'SELECT sum("cost") FROM "{sc.ENERGY}" WHERE {mains} GROUP BY "tou"', "$tag_tou")],
        unit="currency:¥",
        decimals=0,
        width=8,
        height=8,
    )
    cost.reduce_options(cb.ReduceDataOptions().calcs(["sum"]))
    for band, colour in TOU_COLOURS.items():
        cost.override_by_name(band, fixed_colour(colour))
    b.add(cost)
    b.row("row.dr")
    dr_where = f'{SITE} AND "event" =~ /^$event$/ AND $timeFilter'
    baseline = b.series(
        title="p.dr_baseline",
        ds=METERING,
        queries=[
            Query(
                f'SELECT mean("baseline_kw") AS "{b.t("s.baseline")}", mean("actual_kw") AS "{b.t("s.actual")}" '
                f'FROM "{sc.DR}" WHERE {dr_where} GROUP BY time($__interval), "event" fill(none)',
                "$tag_event $col",
            )
        ],
        unit="kwatt",
        decimals=0,
        width=18,
    )
    baseline.override_by_regexp(
        f".*{b.t('s.baseline')}$",
        [dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]})],
    )
    b.add(baseline)
    b.add(
        b.stat(
            title="p.dr_reduction",
            ds=METERING,
            query=f'SELECT mean("reduction_kw") FROM "{sc.DR}" WHERE {dr_where}',
            unit="kwatt",
            decimals=0,
            thresholds=steps((None, RED), (0, GREEN)),
            width=6,
        )
    )
    return b.builder.build()
