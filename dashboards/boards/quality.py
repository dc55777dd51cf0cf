"""The data quality dashboard: completeness per device, online status, sequence gaps, duplicates, dead letters."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, statetimeline, table
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import schema as sc
from dashboards.i18n import Lang
from dashboards.panels import (
    GREEN,
    ORANGE,
    RAW,
    RED,
    Board,
    Query,
    alert_annotation,
    draw_thresholds,
    multi_variable,
    new_board,
    site_variable,
    steps,
)
from dashboards.queries import DEVICE, SITE
from plantcarbon_core.plant import Plant


def quality(plant: Plant, lang: Lang) -> dm.Dashboard:
    b = new_board(plant, lang, "quality", "dash.quality")
    b.builder.with_variable(site_variable(b, plant, RAW, sc.INGEST_QUALITY))
    b.builder.with_variable(
        multi_variable(
            b,
            "device",
            "var.device",
            RAW,
            f'SHOW TAG VALUES FROM "{sc.INGEST_QUALITY}" WITH KEY = "device" WHERE {SITE}',
        )
    )
    b.builder.annotation(alert_annotation(b))
    where = f"{SITE} AND {DEVICE} AND $timeFilter"
    complete_steps = steps((None, RED), (90, ORANGE), (98, GREEN))
    b.row("row.completeness")
    by_device = bargauge.Panel()
    b.place(
        by_device,
        title="p.completeness",
        ds=RAW,
        queries=[
            Query(
                # Each ingest instance counts what it saw: an interval's completeness is their sum.
                f'SELECT mean("c") AS "completeness_pct" FROM (SELECT sum("completeness_pct") AS "c" '
                f'FROM "{sc.INGEST_QUALITY}" WHERE {where} GROUP BY time(15m), "device") '
                'GROUP BY "device"',
                "$tag_device",
            )
        ],
        unit="percent",
        decimals=1,
        width=8,
        height=8,
    )
    by_device.orientation(cm.VizOrientation.HORIZONTAL).display_mode(cm.BarGaugeDisplayMode.LCD)
    by_device.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"])).min(0).max(100).thresholds(complete_steps)
    b.add(by_device)
    trend = b.series(
        title="p.completeness_trend",
        ds=RAW,
        queries=[
            Query(
                f'SELECT sum("completeness_pct") AS "completeness_pct" FROM "{sc.INGEST_QUALITY}" WHERE {where} '
                'GROUP BY time(15m), "device" fill(null)',
                "$tag_device",
            )
        ],
        unit="percent",
        decimals=1,
        width=16,
    )
    trend.min(0).max(100)
    draw_thresholds(trend, complete_steps)
    b.add(trend)
    b.row("row.status")
    b.add(_status_table(b))
    online = statetimeline.Panel()
    b.place(
        online,
        title="p.online",
        ds=RAW,
        queries=[
            Query(
                f'SELECT last("online") FROM "{sc.DEVICE_STATUS}" WHERE {where} '
                'GROUP BY time($__interval), "device" fill(previous)',
                "$tag_device",
            )
        ],
        unit="none",
        decimals=None,
        width=14,
        height=8,
    )
    online.mappings([_online_map(b)])
    b.add(online)
    b.row("row.errors")
    b.add(
        b.series(
            title="p.seq_gaps",
            ds=RAW,
            queries=[
                Query(
                    f'SELECT sum("seq_gaps") AS "gaps", sum("duplicates") AS "duplicates" FROM "{sc.INGEST_QUALITY}" '
                    f'WHERE {where} GROUP BY time(1h), "device" fill(none)',
                    "$tag_device $col",
                )
            ],
            unit="short",
            decimals=0,
            width=12,
            bars=True,
        )
    )
    b.add(
        b.series(
            title="p.dead_letters",
            ds=RAW,
            queries=[
                Query(
                    f'SELECT sum("count") FROM "{sc.DEAD_LETTERS}" WHERE $timeFilter '
                    'GROUP BY time(1h), "reason" fill(none)',
                    "$tag_reason",
                )
            ],
            unit="short",
            decimals=0,
            width=12,
            bars=True,
            stacked=True,
        )
    )
    return b.builder.build()


def _online_map(b: Board) -> dm.ValueMap:
    return dm.ValueMap(
        options={
            "true": dm.ValueMappingResult(text=b.t("s.online"), color=GREEN, index=0),
            "false": dm.ValueMappingResult(text=b.t("s.offline"), color=RED, index=1),
        }
    )


def _status_table(b: Board) -> table.Panel:
    """Each device's status now and since when it holds (its last change)."""
    status = table.Panel()
    b.place(
        status,
        title="p.status_table",
        ds=RAW,
        queries=[
            Query(
                # No time filter: the edge writes a status only when it changes, so a device's
                # state now is its last status ever, however long ago that was.
                f'SELECT last("online") AS "online" FROM "{sc.DEVICE_STATUS}" WHERE {SITE} AND {DEVICE} '
                'AND time <= now() GROUP BY "device"'
            )
        ],
        unit="none",
        decimals=None,
        width=10,
        height=8,
        fmt="table",
    )
    status.mappings([_online_map(b)])
    status.override_by_name("Time", [dm.DynamicConfigValue(id_val="unit", value="dateTimeFromNow")])
    status.with_transformation(
        dm.DataTransformerConfig(id_val="organize", options={"renameByName": {"Time": b.t("s.since")}})
    )
    return status
