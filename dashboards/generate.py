"""Build the Grafana dashboards of one plant from its plant file, with grafana-foundation-sdk.

`build_dashboards(plant, lang)` returns the SDK `Dashboard` models: plant overview, one
equipment dashboard per metered device kind, carbon accounting, demand and DR, data quality
and alerts. Every query is raw InfluxQL (`dashboards.influxql`) against one of two
datasources, raw and metering (`dashboards.schema`), so the database names never appear in a
query and the same dashboards serve any bucket names.

What comes from the plant file: the site id and time zone (days and months are local), which
meters are main (site totals never add sub-meters), which device kinds exist and which
quantities each device reports (its meter profile or MQTT field map), rated power (load
factor), and the contract demand limit and pre-alarm margin (drawn as thresholds).
Alert thresholds that energy managers set are drawn on matching panels when given
(`Threshold` rows, e.g. from `--thresholds FILE`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from grafana_foundation_sdk.builders import barchart, bargauge, gauge, piechart, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.piechart import PieChartType
from pydantic import BaseModel, ConfigDict, Field

from dashboards.i18n import Lang, text
from dashboards.influxql import Annotation, InfluxQL
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import quote_ident
from plantcarbon_core.kinds import kind as kind_of
from plantcarbon_core.plant import Device, Plant
from plantcarbon_core.profile import ProfileError, load_profile

RAW = dm.DataSourceRef(type_val="influxdb", uid=sc.RAW_DS_UID)
METERING = dm.DataSourceRef(type_val="influxdb", uid=sc.METERING_DS_UID)

GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"
TOU_COLOURS = {"sharp": "dark-red", "peak": "orange", "flat": "yellow", "valley": "green", "deep_valley": "blue"}


class Threshold(BaseModel):
    """An alert threshold an energy manager set on one device's quantity, to draw on its panels."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # rows may come from a richer API export

    rule: str
    device: str
    quantity: str
    condition: Literal["above", "below"] = "above"
    value: float
    severity: Literal["info", "warning", "critical"] = "warning"


class ThresholdFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thresholds: list[Threshold] = Field(default_factory=list)


# --- query text -------------------------------------------------------------------------


def regex_of(values: Iterable[str]) -> str:
    """An InfluxQL regex literal matching exactly these values: /^(a|b)$/."""
    alts = "|".join(re.escape(v).replace("/", r"\/") for v in values)
    return f"/^({alts})$/"


SITE = '"site" =~ /^$site$/'
AREA = '"area" =~ /^$area$/'
DEVICE = '"device" =~ /^$device$/'


# --- what the plant file says -----------------------------------------------------------


def reported_quantities(device: Device) -> list[str]:
    """The quantities a device's meter reports: its profile's registers or its MQTT field map."""
    src = device.source
    if src is None:
        return []
    if src.protocol == "mqtt":
        return list(src.fields)
    try:
        profile = load_profile(src.profile)
    except (ProfileError, FileNotFoundError, KeyError, ValueError):
        return []
    return [r.quantity for r in profile.registers if r.quantity]


@dataclass(frozen=True)
class QuantityPanel:
    key: str  # i18n key of the title
    quantities: tuple[str, ...]
    unit: str
    decimals: int
    row: str  # i18n key of the row


# One panel per group of quantities; a group shows up when a device of the kind reports one of them.
QUANTITY_PANELS: tuple[QuantityPanel, ...] = (
    QuantityPanel("p.power", ("p_kw",), "kwatt", 1, "row.load"),
    QuantityPanel("p.apparent", ("s_kva",), "kvoltamp", 1, "row.load"),
    QuantityPanel("p.reactive", ("q_kvar",), "kvoltampreact", 1, "row.load"),
    QuantityPanel("p.load_pct", ("load_pct",), "percent", 1, "row.load"),
    QuantityPanel("p.running", ("running_bool",), "none", 0, "row.load"),
    QuantityPanel("p.pf", ("pf",), "none", 3, "row.electrical"),
    QuantityPanel("p.voltage", ("v_l1_v", "v_l2_v", "v_l3_v"), "volt", 1, "row.electrical"),
    QuantityPanel("p.voltage_ll", ("v_l12_v", "v_l23_v", "v_l31_v"), "volt", 1, "row.electrical"),
    QuantityPanel("p.current", ("i_l1_a", "i_l2_a", "i_l3_a", "i_n_a"), "amp", 1, "row.electrical"),
    QuantityPanel("p.frequency", ("f_hz",), "hertz", 2, "row.electrical"),
    QuantityPanel("p.thd", ("thd_v_pct", "thd_i_pct"), "percent", 1, "row.electrical"),
    QuantityPanel("p.flow", ("flow_nm3h", "flow_m3h"), "suffix: m³/h", 1, "row.process"),
    QuantityPanel("p.mass_flow", ("flow_th",), "suffix: t/h", 2, "row.process"),
    QuantityPanel("p.heat_rate", ("heat_rate_gjh",), "suffix: GJ/h", 2, "row.process"),
    QuantityPanel("p.temperature", ("temp_c",), "celsius", 1, "row.process"),
    QuantityPanel("p.pressure", ("press_mpa", "press_kpa"), "suffix: MPa", 3, "row.process"),
    QuantityPanel("p.rate", ("rate_th",), "suffix: t/h", 2, "row.process"),
)


# --- panel plumbing ---------------------------------------------------------------------


@dataclass
class _Board:
    """One dashboard being built: its panel id counter and its language."""

    lang: Lang
    builder: db.Dashboard
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def t(self, key: str) -> str:
        return text(key, self.lang)

    def row(self, key: str) -> None:
        self.builder.with_row(db.Row(self.t(key)).id(next(self.ids)))

    def add(self, panel: Any) -> None:
        self.builder.with_panel(panel)


def _targets(panel: Any, ds: dm.DataSourceRef, queries: Sequence[tuple[str, str | None]], fmt: str) -> None:
    panel.datasource(ds)
    for i, (query, alias) in enumerate(queries):
        target = InfluxQL(query).ref_id(chr(ord("A") + i)).datasource(ds).format(fmt)  # type: ignore[arg-type]
        if alias:
            target.alias(alias)
        panel.with_target(target)


def _steps(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


def _base(
    board: _Board,
    panel: Any,
    key: str,
    ds: dm.DataSourceRef,
    queries: Sequence[tuple[str, str | None]],
    unit: str,
    decimals: int | None,
    w: int,
    h: int,
    fmt: str = "time_series",
) -> Any:
    panel.id(next(board.ids)).title(board.t(key)).unit(unit).span(w).height(h)
    if decimals is not None:
        panel.decimals(decimals)
    _targets(panel, ds, queries, fmt)
    # Field config the SDK would otherwise fill in on reading back: set it, so files round-trip.
    if isinstance(panel, table.Panel):
        panel.align(cm.FieldTextAlignment.AUTO).inspect(False)
    elif isinstance(panel, piechart.Panel):
        panel.hide_from(cb.HideSeriesConfig().legend(False).tooltip(False).viz(False))
    elif isinstance(panel, barchart.Panel):
        panel.line_width(1).fill_opacity(80).gradient_mode(cm.GraphGradientMode.NONE)
    elif isinstance(panel, statetimeline.Panel):
        panel.line_width(0).fill_opacity(70)
    return panel


def _stat(
    board: _Board,
    key: str,
    ds: dm.DataSourceRef,
    query: str,
    unit: str,
    decimals: int,
    thresholds: db.ThresholdsConfig | None = None,
    time_from: str | None = None,
    w: int = 4,
) -> stat.Panel:
    panel = stat.Panel()
    _base(board, panel, key, ds, [(query, None)], unit, decimals, w, 4)
    panel.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    panel.graph_mode(cm.BigValueGraphMode.NONE).color_mode(cm.BigValueColorMode.VALUE)
    panel.thresholds(thresholds or _steps((None, BLUE)))
    if time_from:
        panel.time_from(time_from).hide_time_override(False)
    return panel


def _series(
    board: _Board,
    key: str,
    ds: dm.DataSourceRef,
    queries: Sequence[tuple[str, str | None]],
    unit: str,
    decimals: int,
    w: int = 12,
    h: int = 8,
    bars: bool = False,
    stacked: bool = False,
) -> timeseries.Panel:
    panel = timeseries.Panel()
    _base(board, panel, key, ds, queries, unit, decimals, w, h)
    panel.legend(
        cb.VizLegendOptions()
        .display_mode(cm.LegendDisplayMode.TABLE)
        .placement(cm.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["mean", "max", "lastNotNull"])
    )
    panel.tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING))
    panel.line_width(1).fill_opacity(10).span_nulls(False)
    if bars:
        panel.draw_style(cm.GraphDrawStyle.BARS).fill_opacity(80)
    if stacked:
        panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    panel.thresholds(_steps((None, GREEN)))
    return panel


def _draw_thresholds(panel: Any, thresholds: db.ThresholdsConfig, dashed: bool = True) -> None:
    """Show the panel's thresholds as lines on the graph (the limits operators must see)."""
    panel.thresholds(thresholds)
    mode = cm.GraphThresholdsStyleMode.DASHED if dashed else cm.GraphThresholdsStyleMode.LINE_AND_AREA
    panel.thresholds_style(cb.GraphThresholdsStyleConfig().mode(mode))


def _alert_annotation(board: _Board, ds_site_filter: str = SITE) -> Annotation:
    q = (
        f'SELECT "message", "rule", "severity", "value", "threshold" FROM "{sc.ALERTS}" '
        f"WHERE {ds_site_filter} AND \"state\" = '{sc.FIRING}' AND $timeFilter"
    )
    return Annotation(board.t("anno.alerts"), METERING, q).columns(text="message", tags="rule,severity").icon_color(RED)


def _site_variable(board: _Board, plant: Plant, ds: dm.DataSourceRef, measurement: str) -> db.QueryVariable:
    site = plant.site.id
    return (
        db.QueryVariable("site")
        .label(board.t("var.site"))
        .datasource(ds)
        .query(f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "site"')
        .current(dm.VariableOption(selected=True, text=site, value=site))
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )


def _multi_variable(board: _Board, name: str, label: str, ds: dm.DataSourceRef, query: str) -> db.QueryVariable:
    return (
        db.QueryVariable(name)
        .label(board.t(label))
        .datasource(ds)
        .query(query)
        .multi(True)
        .include_all(True)
        .current(dm.VariableOption(selected=True, text="All", value="$__all"))
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )


def _dashboard(plant: Plant, lang: Lang, uid_part: str, title_key: str, extra_title: str = "") -> _Board:
    title = f"{plant.site.name} · {text(title_key, lang)}" + (f" · {extra_title}" if extra_title else "")
    suffix = "" if lang == "en" else f"-{lang}"
    builder = (
        db.Dashboard(title)
        .uid(f"pc-{plant.site.id}-{uid_part}{suffix}"[:40])
        .tags(["plantcarbon", plant.site.id, uid_part.split("-")[0]])
        .timezone(plant.site.timezone)
        .refresh("1m")
        .time("now-24h", "now")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .editable()
    )
    builder.link(
        db.DashboardLink("plantcarbon")
        .type(dm.DashboardLinkType.DASHBOARDS)
        .tags(["plantcarbon", plant.site.id])
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True)
    )
    return _Board(lang, builder)


# --- the dashboards ---------------------------------------------------------------------


def _main_electric(plant: Plant) -> list[str]:
    return [d.id for d in plant.devices if d.role == "main" and d.carrier == "electricity" and d.source is not None]


def _main(plant: Plant) -> list[str]:
    return [d.id for d in plant.devices if d.role == "main"]


MAIN = f"\"role\" = '{sc.ROLE_MAIN}'"
# Scope 1 rows carry no method; scope 2 rows come once per method. So "not market" is scope 1 +
# location-based scope 2, and "not location" is scope 1 + market-based scope 2.
LOCATION_TOTAL = f"\"method\" != '{sc.MARKET}'"
MARKET_TOTAL = f"\"method\" != '{sc.LOCATION}'"


def co2_today_query(plant: Plant) -> str:
    """The overview's CO2 today: scope 1 + location-based scope 2 of the main meters, in tonnes."""
    return (
        f'SELECT sum("co2_kg") / 1000 FROM "{sc.EMISSIONS}" WHERE {SITE} AND {MAIN} AND {LOCATION_TOTAL} '
        "AND $timeFilter"
    )


def breakdown_filter(plant: Plant) -> str:
    """Rows that split the site total without counting twice: no meter that has sub-meters
    (its sub-meters and its `<id>:unmetered` remainder stand for it), no virtual meters."""
    parents = sorted({d.parent for d in plant.devices if d.parent})
    not_virtual = f"\"role\" != '{sc.ROLE_VIRTUAL}'"
    return f'{not_virtual} AND "device" !~ {regex_of(parents)}' if parents else not_virtual


def site_demand_device(plant: Plant) -> str:
    """The demand rows' device tag for the site (the live demand service writes `_site`)."""
    return sc.SITE_TOTAL_DEVICE


def _demand_thresholds(plant: Plant) -> db.ThresholdsConfig | None:
    limit, prealarm = plant.contract.demand_limit_kw, plant.contract.prealarm_kw
    if limit is None:
        return None
    return _steps((None, GREEN), (prealarm, ORANGE), (limit, RED))


def overview(plant: Plant, lang: Lang) -> dm.Dashboard:
    b = _dashboard(plant, lang, "overview", "dash.overview")
    b.builder.with_variable(_site_variable(b, plant, RAW, "electricity"))
    b.builder.annotation(_alert_annotation(b))
    tz = plant.site.timezone
    mains_e = regex_of(_main_electric(plant) or _main(plant))
    main_energy = f"\"role\" = '{sc.ROLE_MAIN}'"
    b.row("row.now")
    b.add(
        _stat(
            b,
            "p.site_power",
            RAW,
            f'SELECT sum("p") FROM (SELECT last("p_kw") AS "p" FROM "electricity" WHERE {SITE} '
            f'AND "device" =~ {mains_e} AND $timeFilter GROUP BY "device")',
            "kwatt",
            0,
            time_from="5m",
        )
    )
    demand_steps = _demand_thresholds(plant)
    demand_now = gauge.Panel()
    _base(
        b,
        demand_now,
        "p.demand_now",
        METERING,
        [
            (
                f'SELECT last("demand_kw") FROM "{sc.DEMAND}" WHERE {SITE} '
                f"AND \"device\" = '{site_demand_device(plant)}' AND $timeFilter",
                None,
            )
        ],
        "kwatt",
        0,
        4,
        4,
    )
    demand_now.time_from("1h").reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    if demand_steps is not None and plant.contract.demand_limit_kw:
        demand_now.thresholds(demand_steps).min(0).max(plant.contract.demand_limit_kw * 1.1)
    b.add(demand_now)
    offline = stat.Panel()
    _base(
        b,
        offline,
        "p.devices_offline",
        RAW,
        [
            (
                # No time filter: the edge writes a status only when it changes, so a device's
                # state now is its last status ever, however long ago that was.
                f'SELECT count("last") FROM (SELECT last("online") FROM "{sc.DEVICE_STATUS}" WHERE {SITE} '
                'AND time <= now() GROUP BY "device") WHERE "last" = false',
                None,
            )
        ],
        "none",
        0,
        4,
        4,
    )
    offline.no_value("0").thresholds(_steps((None, GREEN), (1, RED)))
    offline.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"])).color_mode(cm.BigValueColorMode.BACKGROUND)
    b.add(offline)
    b.add(
        _stat(
            b,
            "p.energy_today",
            METERING,
            f'SELECT sum("amount") FROM "{sc.ENERGY}" WHERE {SITE} AND {main_energy} '
            "AND \"carrier\" = 'electricity' AND $timeFilter",
            "kwatth",
            0,
            time_from="now/d",
        )
    )
    b.add(
        _stat(
            b,
            "p.tce_today",
            METERING,
            f'SELECT sum("tce_kg") / 1000 FROM "{sc.ENERGY}" WHERE {SITE} AND {main_energy} AND $timeFilter',
            "suffix: tce",
            2,
            time_from="now/d",
        )
    )
    b.add(_stat(b, "p.co2_today", METERING, co2_today_query(plant), "masst", 2, time_from="now/d"))
    b.row("row.today")
    b.add(
        _stat(
            b,
            "p.cost_today",
            METERING,
            f'SELECT sum("cost") FROM "{sc.ENERGY}" WHERE {SITE} AND {main_energy} AND $timeFilter',
            "currency:¥",
            0,
            time_from="now/d",
            w=6,
        )
    )
    intensity = stat.Panel()
    _base(
        b,
        intensity,
        "p.intensity_today",
        METERING,
        [
            (co2_today_query(plant), "co2_t"),
            (f'SELECT sum("tce_kg") / 1000 FROM "{sc.ENERGY}" WHERE {SITE} AND {main_energy} AND $timeFilter', "tce"),
        ],
        "suffix: tCO2/tce",
        3,
        6,
        4,
    )
    intensity.time_from("now/d").reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("/^intensity$/"))
    # Grafana divides the two sums (they share the range's start as timestamp, so they join).
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
    b.add(intensity)
    top = bargauge.Panel()
    _base(
        b,
        top,
        "p.top_consumers",
        METERING,
        [
            (
                f'SELECT top("e", "device", 10) AS "tce" FROM (SELECT sum("tce_kg") / 1000 AS "e" FROM "{sc.ENERGY}" '
                f'WHERE {SITE} AND {breakdown_filter(plant)} AND $timeFilter GROUP BY "device")',
                None,
            )
        ],
        "suffix: tce",
        3,
        12,
        8,
        fmt="table",
    )
    top.time_from("now/d").orientation(cm.VizOrientation.HORIZONTAL).display_mode(cm.BarGaugeDisplayMode.GRADIENT)
    top.reduce_options(cb.ReduceDataOptions().values(True).calcs([]).fields("/^tce$/"))
    top.thresholds(_steps((None, GREEN)))
    b.add(top)
    power = _series(
        b,
        "p.site_power_trend",
        RAW,
        [
            (
                f'SELECT sum("p") FROM (SELECT mean("p_kw") AS "p" FROM "electricity" WHERE {SITE} '
                f'AND "device" =~ {mains_e} AND $timeFilter GROUP BY time($__interval), "device" fill(none)) '
                f"GROUP BY time($__interval) fill(null) tz('{tz}')",
                "site",
            )
        ],
        "kwatt",
        0,
        w=12,
    )
    b.add(power)
    demand = _series(
        b,
        "p.demand_vs_limit",
        METERING,
        [
            (
                f'SELECT max("demand_kw") AS "{b.t("s.demand")}", max("forecast_kw") AS "{b.t("s.forecast")}" '
                f'FROM "{sc.DEMAND}" WHERE {SITE} AND "device" = \'{site_demand_device(plant)}\' AND $timeFilter '
                f"GROUP BY time(15m) fill(null) tz('{tz}')",
                None,
            )
        ],
        "kwatt",
        0,
        w=24,
    )
    if demand_steps is not None:
        _draw_thresholds(demand, demand_steps)
    b.add(demand)
    return b.builder.build()


def equipment(plant: Plant, lang: Lang, kind: str, thresholds: Sequence[Threshold] = ()) -> dm.Dashboard | None:
    """One kind's dashboard; None when no device of that kind has a meter."""
    devices = [d for d in plant.devices if d.kind == kind and d.source is not None]
    if not devices:
        return None
    b = _dashboard(plant, lang, f"eq-{kind}", "dash.equipment", text(f"kind.{kind}", lang))
    carriers = sorted({d.carrier for d in devices})
    frm = quote_ident(carriers[0]) if len(carriers) == 1 else regex_of(carriers)
    kind_filter = f"\"kind\" = '{kind}'"
    b.builder.with_variable(_site_variable(b, plant, RAW, carriers[0]))
    b.builder.with_variable(
        _multi_variable(
            b, "area", "var.area", RAW, f'SHOW TAG VALUES FROM {frm} WITH KEY = "area" WHERE {SITE} AND {kind_filter}'
        )
    )
    b.builder.with_variable(
        _multi_variable(
            b,
            "device",
            "var.device",
            RAW,
            f'SHOW TAG VALUES FROM {frm} WITH KEY = "device" WHERE {SITE} AND {kind_filter} AND {AREA}',
        )
    )
    b.builder.annotation(_alert_annotation(b))
    where = f"{SITE} AND {kind_filter} AND {AREA} AND {DEVICE} AND $timeFilter"
    reported = {d.id: set(reported_quantities(d)) for d in devices}
    everything = set().union(*reported.values())

    # Load factor of consumers only: generators and storage have no "load" to speak of.
    consumers = [d for d in devices if d.rated_kw and kind_of(d.kind).consumes_only]
    # A transformer's load is apparent power (its rating is in kVA; the plant file's rated_kw is
    # taken as that figure); a motor's, pump's or fan's is active power against its rated output.
    in_kva = {d.id for d in consumers if kind_of(d.kind).rated_in == "kVA" and "s_kva" in reported[d.id]}
    rated = [(d, "s_kva" if d.id in in_kva else "p_kw") for d in consumers]
    # One query per (quantity, rating): a kind with 90 motors of 4 sizes runs 4 queries, not 90.
    groups: dict[tuple[str, float], list[str]] = {}
    for d, q in rated:
        if q in reported[d.id] and d.rated_kw:
            groups.setdefault((q, d.rated_kw), []).append(d.id)
    current_row = ""
    if groups:
        b.row("row.load")
        current_row = "row.load"
        load = _series(
            b,
            "p.load_factor",
            RAW,
            [
                (
                    f'SELECT mean("{q}") / {kw} * 100 FROM {frm} WHERE "device" =~ {regex_of(ids)} AND {where} '
                    'GROUP BY time($__interval), "device" fill(null)',
                    "$tag_device",
                )
                for (q, kw), ids in sorted(groups.items())
            ],
            "percent",
            1,
            w=24,
        )
        # Transformers and motors run best below ~80 % of rating; above 100 % they overheat.
        _draw_thresholds(load, _steps((None, GREEN), (80, ORANGE), (100, RED)))
        b.add(load)
    for spec in QUANTITY_PANELS:
        present = [q for q in spec.quantities if q in everything]
        if not present:
            continue
        if spec.row != current_row:
            b.row(spec.row)
            current_row = spec.row
        if len(present) == 1:
            q = present[0]
            queries: list[tuple[str, str | None]] = [
                (
                    f'SELECT mean("{q}") FROM {frm} WHERE {where} GROUP BY time($__interval), "device" fill(null)',
                    "$tag_device",
                )
            ]
        else:
            cols = ", ".join(f'mean("{q}") AS "{q}"' for q in present)
            queries = [
                (
                    f'SELECT {cols} FROM {frm} WHERE {where} GROUP BY time($__interval), "device" fill(null)',
                    "$tag_device $col",
                )
            ]
        if spec.key == "p.running":
            panel: Any = statetimeline.Panel()
            _base(b, panel, spec.key, RAW, [(q.replace("mean(", "last("), a) for q, a in queries], "none", 0, 24, 6)
            panel.mappings(
                [
                    dm.ValueMap(
                        options={
                            "1": dm.ValueMappingResult(text=b.t("s.running"), color=GREEN, index=0),
                            "0": dm.ValueMappingResult(text=b.t("s.stopped"), color="gray", index=1),
                        }
                    )
                ]
            )
            b.add(panel)
            continue
        panel = _series(b, spec.key, RAW, queries, spec.unit, spec.decimals)
        mine = [t for t in thresholds if t.quantity in present and t.device in reported]
        for t in mine:
            colour = RED if t.severity == "critical" else ORANGE
            steps = (
                _steps((None, GREEN), (t.value, colour))
                if t.condition == "above"
                else _steps((None, colour), (t.value, GREEN))
            )
            panel.override_by_name(
                t.device if len(present) == 1 else f"{t.device} {t.quantity}",
                [
                    dm.DynamicConfigValue(id_val="thresholds", value=steps.build()),
                    dm.DynamicConfigValue(id_val="custom.thresholdsStyle", value={"mode": "dashed"}),
                ],
            )
        b.add(panel)
    b.row("row.energy")
    daily = _series(
        b,
        "p.device_energy",
        METERING,
        [
            (
                f'SELECT sum("amount") FROM "{sc.ENERGY}" WHERE {SITE} AND {DEVICE} AND $timeFilter '
                f'GROUP BY time(1d), "device", "unit" fill(none) tz(\'{plant.site.timezone}\')',
                "$tag_device ($tag_unit)",
            )
        ],
        "short",
        1,
        w=24,
        bars=True,
    )
    b.add(daily)
    return b.builder.build()


def carbon(plant: Plant, lang: Lang) -> dm.Dashboard:
    b = _dashboard(plant, lang, "carbon", "dash.carbon")
    b.builder.time("now/M", "now")
    b.builder.with_variable(_site_variable(b, plant, METERING, sc.EMISSIONS))
    b.builder.annotation(_alert_annotation(b))
    tz = plant.site.timezone
    base = f'SELECT sum("co2_kg") / 1000 FROM "{sc.EMISSIONS}" WHERE {SITE} AND {MAIN} AND $timeFilter'
    loc, mkt = f"\"method\" = '{sc.LOCATION}'", f"\"method\" = '{sc.MARKET}'"
    s1, s2 = f"\"scope\" = '{sc.SCOPE_1}'", f"\"scope\" = '{sc.SCOPE_2}'"
    b.row("row.scope")
    b.add(_stat(b, "p.scope1", METERING, f"{base} AND {s1}", "masst", 2, w=4))
    b.add(_stat(b, "p.scope2_location", METERING, f"{base} AND {s2} AND {loc}", "masst", 2, w=5))
    b.add(_stat(b, "p.scope2_market", METERING, f"{base} AND {s2} AND {mkt}", "masst", 2, w=5))
    b.add(_stat(b, "p.total_location", METERING, f"{base} AND {LOCATION_TOTAL}", "masst", 2, w=5))
    b.add(_stat(b, "p.total_market", METERING, f"{base} AND {MARKET_TOTAL}", "masst", 2, w=5))
    b.row("row.breakdown")
    vs = _series(
        b,
        "p.location_vs_market",
        METERING,
        [(f"{base} AND {s2} GROUP BY time(1d), \"method\" fill(none) tz('{tz}')", "$tag_method")],
        "masst",
        2,
        w=24,
        bars=True,
    )
    b.add(vs)
    by_carrier = piechart.Panel()
    _base(
        b,
        by_carrier,
        "p.by_carrier",
        METERING,
        [(f'{base} AND {LOCATION_TOTAL} GROUP BY "carrier"', "$tag_carrier")],
        "masst",
        2,
        8,
        8,
    )
    by_carrier.reduce_options(cb.ReduceDataOptions().calcs(["sum"]).values(False))
    by_carrier.pie_type(PieChartType.DONUT)
    b.add(by_carrier)
    by_area = bargauge.Panel()
    _base(
        b,
        by_area,
        "p.by_area",
        METERING,
        [
            (
                f'SELECT sum("co2_kg") / 1000 FROM "{sc.EMISSIONS}" WHERE {SITE} AND {breakdown_filter(plant)} '
                f"AND {LOCATION_TOTAL} AND $timeFilter "
                'GROUP BY "area"',
                "$tag_area",
            )
        ],
        "masst",
        2,
        8,
        8,
    )
    by_area.orientation(cm.VizOrientation.HORIZONTAL).reduce_options(cb.ReduceDataOptions().calcs(["sum"]))
    b.add(by_area)
    factors = table.Panel()
    _base(
        b,
        factors,
        "p.factors",
        METERING,
        [
            (
                f'SELECT last("factor") AS "factor" FROM "{sc.EMISSIONS}" WHERE {SITE} AND $timeFilter '
                'GROUP BY "carrier", "scope", "method"',
                None,
            )
        ],
        "none",
        None,
        8,
        8,
        fmt="table",
    )
    factors.with_transformation(dm.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}}))
    b.add(factors)
    monthly = barchart.Panel()
    _base(
        b,
        monthly,
        "p.monthly",
        METERING,
        [(f"{base} AND {LOCATION_TOTAL} GROUP BY time(1d) fill(0) tz('{tz}')", "co2")],
        "masst",
        1,
        24,
        8,
    )
    monthly.time_from("now/y")
    # InfluxQL cannot group by calendar month: Grafana labels each day YYYY-MM and sums per label.
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
    b.add(monthly)
    return b.builder.build()


def demand(plant: Plant, lang: Lang) -> dm.Dashboard:
    b = _dashboard(plant, lang, "demand", "dash.demand")
    b.builder.with_variable(_site_variable(b, plant, METERING, sc.DEMAND))
    b.builder.with_variable(
        _multi_variable(
            b, "event", "var.event", METERING, f'SHOW TAG VALUES FROM "{sc.DR}" WITH KEY = "event" WHERE {SITE}'
        )
    )
    b.builder.annotation(_alert_annotation(b))
    tz = plant.site.timezone
    site_demand = f"{SITE} AND \"device\" = '{site_demand_device(plant)}' AND $timeFilter"
    b.row("row.demand")
    steps = _demand_thresholds(plant)
    d = _series(
        b,
        "p.demand_vs_limit",
        METERING,
        [
            (
                f'SELECT max("demand_kw") AS "{b.t("s.demand")}", max("sliding_kw") AS "{b.t("s.sliding")}", '
                f'max("forecast_kw") AS "{b.t("s.forecast")}", last("limit_kw") AS "{b.t("s.limit")}" '
                f'FROM "{sc.DEMAND}" WHERE {site_demand} '
                f"GROUP BY time(15m) fill(null) tz('{tz}')",
                None,
            )
        ],
        "kwatt",
        0,
        w=18,
    )
    if steps is not None:
        _draw_thresholds(d, steps)
    b.add(d)
    b.add(
        _stat(
            b,
            "p.month_max_demand",
            METERING,
            f'SELECT max("demand_kw") FROM "{sc.DEMAND}" WHERE {site_demand}',
            "kwatt",
            0,
            thresholds=steps,
            time_from="now/M",
            w=6,
        )
    )
    b.row("row.tou")
    mains = f"{SITE} AND \"role\" = '{sc.ROLE_MAIN}' AND \"carrier\" = 'electricity' AND $timeFilter"
    tou = _series(
        b,
        "p.tou_energy",
        METERING,
        [
            (
                f'SELECT sum("amount") FROM "{sc.ENERGY}" WHERE {mains} '
                f"GROUP BY time(1h), \"tou\" fill(none) tz('{tz}')",
                "$tag_tou",
            )
        ],
        "kwatth",
        0,
        w=16,
        bars=True,
        stacked=True,
    )
    for band, colour in TOU_COLOURS.items():
        tou.override_by_name(
            band, [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})]
        )
    b.add(tou)
    cost = piechart.Panel()
    _base(
        b,
        cost,
        "p.tou_cost",
        METERING,
        [(f'SELECT sum("cost") FROM "{sc.ENERGY}" WHERE {mains} GROUP BY "tou"', "$tag_tou")],
        "currency:¥",
        0,
        8,
        8,
    )
    cost.reduce_options(cb.ReduceDataOptions().calcs(["sum"]))
    for band, colour in TOU_COLOURS.items():
        cost.override_by_name(
            band, [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})]
        )
    b.add(cost)
    b.row("row.dr")
    dr_where = f'{SITE} AND "event" =~ /^$event$/ AND $timeFilter'
    base_vs = _series(
        b,
        "p.dr_baseline",
        METERING,
        [
            (
                f'SELECT mean("baseline_kw") AS "{b.t("s.baseline")}", mean("actual_kw") AS "{b.t("s.actual")}" '
                f'FROM "{sc.DR}" WHERE {dr_where} GROUP BY time($__interval), "event" fill(none)',
                "$tag_event $col",
            )
        ],
        "kwatt",
        0,
        w=18,
    )
    base_vs.override_by_regexp(
        f".*{b.t('s.baseline')}$",
        [dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]})],
    )
    b.add(base_vs)
    b.add(
        _stat(
            b,
            "p.dr_reduction",
            METERING,
            f'SELECT mean("reduction_kw") FROM "{sc.DR}" WHERE {dr_where}',
            "kwatt",
            0,
            thresholds=_steps((None, RED), (0, GREEN)),
            w=6,
        )
    )
    return b.builder.build()


def quality(plant: Plant, lang: Lang) -> dm.Dashboard:
    b = _dashboard(plant, lang, "quality", "dash.quality")
    b.builder.with_variable(_site_variable(b, plant, RAW, sc.INGEST_QUALITY))
    b.builder.with_variable(
        _multi_variable(
            b,
            "device",
            "var.device",
            RAW,
            f'SHOW TAG VALUES FROM "{sc.INGEST_QUALITY}" WITH KEY = "device" WHERE {SITE}',
        )
    )
    b.builder.annotation(_alert_annotation(b))
    where = f"{SITE} AND {DEVICE} AND $timeFilter"
    complete_steps = _steps((None, RED), (90, ORANGE), (98, GREEN))
    b.row("row.completeness")
    by_device = bargauge.Panel()
    _base(
        b,
        by_device,
        "p.completeness",
        RAW,
        [
            (
                # Each ingest instance counts what it saw: an interval's completeness is their sum.
                f'SELECT mean("c") AS "completeness_pct" FROM (SELECT sum("completeness_pct") AS "c" '
                f'FROM "{sc.INGEST_QUALITY}" WHERE {where} GROUP BY time(15m), "device") '
                'GROUP BY "device"',
                "$tag_device",
            )
        ],
        "percent",
        1,
        8,
        8,
    )
    by_device.orientation(cm.VizOrientation.HORIZONTAL).display_mode(cm.BarGaugeDisplayMode.LCD)
    by_device.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"])).min(0).max(100).thresholds(complete_steps)
    b.add(by_device)
    trend = _series(
        b,
        "p.completeness_trend",
        RAW,
        [
            (
                f'SELECT sum("completeness_pct") AS "completeness_pct" FROM "{sc.INGEST_QUALITY}" WHERE {where} '
                'GROUP BY time(15m), "device" fill(null)',
                "$tag_device",
            )
        ],
        "percent",
        1,
        w=16,
    )
    trend.min(0).max(100)
    _draw_thresholds(trend, complete_steps)
    b.add(trend)
    b.row("row.status")
    status = table.Panel()
    _base(
        b,
        status,
        "p.status_table",
        RAW,
        [
            (
                # The time of each device's last status change ("since"); no time filter, as above.
                f'SELECT last("online") AS "online" FROM "{sc.DEVICE_STATUS}" WHERE {SITE} AND {DEVICE} '
                'AND time <= now() GROUP BY "device"',
                None,
            )
        ],
        "none",
        None,
        10,
        8,
        fmt="table",
    )
    status.mappings(
        [
            dm.ValueMap(
                options={
                    "true": dm.ValueMappingResult(text=b.t("s.online"), color=GREEN, index=0),
                    "false": dm.ValueMappingResult(text=b.t("s.offline"), color=RED, index=1),
                }
            )
        ]
    )
    status.override_by_name("Time", [dm.DynamicConfigValue(id_val="unit", value="dateTimeFromNow")])
    status.with_transformation(
        dm.DataTransformerConfig(id_val="organize", options={"renameByName": {"Time": b.t("s.since")}})
    )
    b.add(status)
    online = statetimeline.Panel()
    _base(
        b,
        online,
        "p.online",
        RAW,
        [
            (
                f'SELECT last("online") FROM "{sc.DEVICE_STATUS}" WHERE {where} '
                'GROUP BY time($__interval), "device" fill(previous)',
                "$tag_device",
            )
        ],
        "none",
        None,
        14,
        8,
    )
    online.mappings(
        [
            dm.ValueMap(
                options={
                    "true": dm.ValueMappingResult(text=b.t("s.online"), color=GREEN, index=0),
                    "false": dm.ValueMappingResult(text=b.t("s.offline"), color=RED, index=1),
                }
            )
        ]
    )
    b.add(online)
    b.row("row.errors")
    gaps = _series(
        b,
        "p.seq_gaps",
        RAW,
        [
            (
                f'SELECT sum("seq_gaps") AS "gaps", sum("duplicates") AS "duplicates" FROM "{sc.INGEST_QUALITY}" '
                f'WHERE {where} GROUP BY time(1h), "device" fill(none)',
                "$tag_device $col",
            )
        ],
        "short",
        0,
        w=12,
        bars=True,
    )
    b.add(gaps)
    dlq = _series(
        b,
        "p.dead_letters",
        RAW,
        [
            (
                f'SELECT sum("count") FROM "{sc.DEAD_LETTERS}" WHERE $timeFilter '
                'GROUP BY time(1h), "reason" fill(none)',
                "$tag_reason",
            )
        ],
        "short",
        0,
        w=12,
        bars=True,
        stacked=True,
    )
    b.add(dlq)
    return b.builder.build()


def alerts(plant: Plant, lang: Lang) -> dm.Dashboard:
    b = _dashboard(plant, lang, "alerts", "dash.alerts")
    b.builder.with_variable(_site_variable(b, plant, METERING, sc.ALERTS))
    b.builder.with_variable(
        _multi_variable(
            b, "rule", "var.rule", METERING, f'SHOW TAG VALUES FROM "{sc.ALERTS}" WITH KEY = "rule" WHERE {SITE}'
        )
    )
    b.builder.annotation(_alert_annotation(b))
    where = f'{SITE} AND "rule" =~ /^$rule$/ AND $timeFilter'
    state_map = dm.ValueMap(
        options={
            s: dm.ValueMappingResult(text=b.t(f"s.{s}"), color=c, index=i)
            for i, (s, c) in enumerate(zip(sc.ALERT_STATES, (RED, ORANGE, GREEN), strict=True))
        }
    )
    active = table.Panel()
    _base(
        b,
        active,
        "p.alerts_active",
        METERING,
        [
            (
                f'SELECT last("state") AS "state", last("value") AS "value", last("threshold") AS "threshold", '
                f'last("message") AS "message" FROM "{sc.ALERTS}" WHERE {where} GROUP BY "rule", "severity"',
                None,
            )
        ],
        "none",
        2,
        16,
        8,
        fmt="table",
    )
    active.mappings([state_map])
    active.with_transformation(dm.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}}))
    b.add(active)
    by_sev = bargauge.Panel()
    _base(
        b,
        by_sev,
        "p.alerts_by_severity",
        METERING,
        [
            (
                f'SELECT count("value") FROM "{sc.ALERTS}" WHERE {where} '
                f'AND "state" = \'{sc.FIRING}\' GROUP BY "severity"',
                "$tag_severity",
            )
        ],
        "none",
        0,
        8,
        8,
    )
    by_sev.reduce_options(cb.ReduceDataOptions().calcs(["sum"])).thresholds(_steps((None, ORANGE)))
    by_sev.override_by_name(
        "critical", [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": RED})]
    )
    b.add(by_sev)
    value = _series(
        b,
        "p.alert_value",
        METERING,
        [
            (
                f'SELECT mean("value") AS "value", last("threshold") AS "threshold" FROM "{sc.ALERTS}" WHERE {where} '
                'GROUP BY time($__interval), "rule" fill(previous)',
                "$tag_rule $col",
            )
        ],
        "short",
        2,
        w=24,
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
    _base(
        b,
        history,
        "p.alert_history",
        METERING,
        [
            (
                f'SELECT "rule", "severity", "state", "value", "threshold", "message" FROM "{sc.ALERTS}" WHERE {where} '
                "ORDER BY time DESC LIMIT 500",
                None,
            )
        ],
        "none",
        2,
        24,
        10,
        fmt="table",
    )
    history.mappings([state_map])
    b.add(history)
    return b.builder.build()


def metered_kinds(plant: Plant) -> list[str]:
    kinds: list[str] = []
    for d in plant.devices:
        if d.source is not None and d.kind not in kinds:
            kinds.append(d.kind)
    return kinds


def build_dashboards(plant: Plant, lang: Lang = "en", thresholds: Sequence[Threshold] = ()) -> list[dm.Dashboard]:
    """Every dashboard of the plant, in a stable order (overview first)."""
    out = [overview(plant, lang)]
    for kind in metered_kinds(plant):
        eq = equipment(plant, lang, kind, thresholds)
        if eq is not None:
            out.append(eq)
    out += [carbon(plant, lang), demand(plant, lang), quality(plant, lang), alerts(plant, lang)]
    return out
