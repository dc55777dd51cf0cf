"""The alerts dashboard: active alerts, counts by severity, values against thresholds, history."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, table
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import schema as sc
from dashboards.i18n import Lang
from dashboards.panels import (
    GREEN,
    METERING,
    ORANGE,
    RED,
    Query,
    alert_annotation,
    fixed_colour,
    multi_variable,
    new_board,
    site_variable,
    steps,
)
from dashboards.queries import SITE
from plantcarbon_core.plant import Plant


def alerts(plant: Plant, lang: Lang) -> dm.Dashboard:
    b = new_board(plant, lang, "alerts", "dash.alerts")
    b.builder.with_variable(site_variable(b, plant, METERING, sc.ALERTS))
    b.builder.with_variable(
        multi_variable(
            b, "rule", "var.rule", METERING, f'SHOW TAG VALUES FROM "{sc.ALERTS}" WITH KEY = "rule" WHERE {SITE}'
        )
    )
    b.builder.annotation(alert_annotation(b))
    where = f'{SITE} AND "rule" =~ /^$rule$/ AND $timeFilter'
    state_map = dm.ValueMap(
        options={
            s: dm.ValueMappingResult(text=b.t(f"s.{s}"), color=c, index=i)
            for i, (s, c) in enumerate(zip(sc.ALERT_STATES, (RED, ORANGE, GREEN), strict=True))
        }
    )
    active = table.Panel()
    b.place(
        active,
        title="p.alerts_active",
        ds=METERING,
        queries=[
            Query(
                f'SELECT last("state") AS "state", last("value") AS "value", last("threshold") AS "threshold", '
                f'last("message") AS "message" FROM "{sc.ALERTS}" WHERE {where} GROUP BY "rule", "severity"'
            )
        ],
        unit="none",
        decimals=2,
        width=16,
        height=8,
        fmt="table",
    )
    active.mappings([state_map])
    active.with_transformation(dm.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}}))
    b.add(active)
    by_severity = bargauge.Panel()
    b.place(
        by_severity,
        title="p.alerts_by_severity",
        ds=METERING,
        queries=[
            Query(
                f'SELECT count("value") FROM "{sc.ALERTS}" WHERE {where} '
                f'AND "state" = \'{sc.FIRING}\' GROUP BY "severity"',
                "$tag_severity",
            )
        ],
        unit="none",
        decimals=0,
        width=8,
        height=8,
    )
    by_severity.reduce_options(cb.ReduceDataOptions().calcs(["sum"])).thresholds(steps((None, ORANGE)))
    by_severity.override_by_name("critical", fixed_colour(RED))
    b.add(by_severity)
    value = b.series(
        title="p.alert_value",
        ds=METERING,
        queries=[
            Query(
                f'SELECT mean("value") AS "value", last("threshold") AS "threshold" FROM "{sc.ALERTS}" WHERE {where} '
                'GROUP BY time($__interval), "rule" fill(previous)',
                "$tag_rule $col",
            )
        ],
        unit="short",
        decimals=2,
        width=24,
    )
    # The threshold the energy manager set, drawn as a dashed line against the value.
    value.override_by_regexp(
        ".* threshold$",
        [
            dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
            dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": RED}),
        ],
    )
    b.add(value)
    history = table.Panel()
    b.place(
        history,
        title="p.alert_history",
        ds=METERING,
        queries=[
            Query(
                f'SELECT "rule", "severity", "state", "value", "threshold", "message" FROM "{sc.ALERTS}" WHERE {where} '
                "ORDER BY time DESC LIMIT 500"
            )
        ],
        unit="none",
        decimals=2,
        width=24,
        height=10,
        fmt="table",
    )
    history.mappings([state_map])
    b.add(history)
    return b.builder.build()
