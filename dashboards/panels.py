"""Shared panel plumbing: a board being built, its panels from keyword specs, thresholds, variables, annotations.

Every query is raw InfluxQL (`dashboards.influxql`) against one of two datasources, raw and
metering (`dashboards.schema`), so the database names never appear in a query and the same
dashboards serve any bucket names.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from grafana_foundation_sdk.builders import barchart, piechart, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import schema as sc
from dashboards.i18n import Lang, text
from dashboards.influxql import Annotation, InfluxQL
from dashboards.queries import SITE
from dashboards.thresholds import IntensityBenchmark
from plantcarbon_core.plant import Plant

RAW = dm.DataSourceRef(type_val="influxdb", uid=sc.RAW_DS_UID)
METERING = dm.DataSourceRef(type_val="influxdb", uid=sc.METERING_DS_UID)

GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"

Format = Literal["time_series", "table"]


@dataclass(frozen=True)
class Query:
    """One panel target: InfluxQL text and the legend alias Grafana gives its series (None: its own)."""

    text: str
    alias: str | None = None


@dataclass
class Board:
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

    def place(
        self,
        panel: Any,
        *,
        title: str,
        ds: dm.DataSourceRef,
        queries: Sequence[Query],
        unit: str,
        decimals: int | None,
        width: int,
        height: int,
        fmt: Format = "time_series",
    ) -> Any:
        """Give a panel its id, title (i18n key), unit, size and targets; return it for more options."""
        panel.id(next(self.ids)).title(self.t(title)).unit(unit).span(width).height(height)
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

    def stat(
        self,
        *,
        title: str,
        ds: dm.DataSourceRef,
        query: str,
        unit: str,
        decimals: int,
        thresholds: db.ThresholdsConfig | None = None,
        time_from: str | None = None,
        width: int = 4,
        alias: str | None = None,
    ) -> stat.Panel:
        """A single figure (the last value of one query; one per series when it groups), coloured by its thresholds."""
        panel = stat.Panel()
        self.place(
            panel,
            title=title,
            ds=ds,
            queries=[Query(query, alias)],
            unit=unit,
            decimals=decimals,
            width=width,
            height=4,
        )
        panel.reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        panel.graph_mode(cm.BigValueGraphMode.NONE).color_mode(cm.BigValueColorMode.VALUE)
        panel.thresholds(thresholds or steps((None, BLUE)))
        if time_from:
            panel.time_from(time_from).hide_time_override(False)
        return panel

    def series(
        self,
        *,
        title: str,
        ds: dm.DataSourceRef,
        queries: Sequence[Query],
        unit: str,
        decimals: int,
        width: int = 12,
        height: int = 8,
        bars: bool = False,
        stacked: bool = False,
    ) -> timeseries.Panel:
        """A time series with a table legend (mean, max, last) and a shared tooltip."""
        panel = timeseries.Panel()
        self.place(panel, title=title, ds=ds, queries=queries, unit=unit, decimals=decimals, width=width, height=height)
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
        panel.thresholds(steps((None, GREEN)))
        return panel


def _targets(panel: Any, ds: dm.DataSourceRef, queries: Sequence[Query], fmt: Format) -> None:
    panel.datasource(ds)
    for i, q in enumerate(queries):
        target = InfluxQL(q.text).ref_id(chr(ord("A") + i)).datasource(ds).format(fmt)
        if q.alias:
            target.alias(q.alias)
        panel.with_target(target)


def steps(*levels: tuple[float | None, str]) -> db.ThresholdsConfig:
    """Absolute thresholds: (value, colour) from the base (None) up."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in levels])
    )


def draw_thresholds(panel: Any, thresholds: db.ThresholdsConfig, dashed: bool = True) -> None:
    """Show the panel's thresholds as lines on the graph (the limits operators must see)."""
    panel.thresholds(thresholds)
    mode = cm.GraphThresholdsStyleMode.DASHED if dashed else cm.GraphThresholdsStyleMode.LINE_AND_AREA
    panel.thresholds_style(cb.GraphThresholdsStyleConfig().mode(mode))


def fixed_colour(colour: str) -> list[dm.DynamicConfigValue]:
    """A field override that paints a series one colour."""
    return [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})]


def demand_thresholds(plant: Plant) -> db.ThresholdsConfig | None:
    """Green, orange from the contract's pre-alarm demand, red from its limit; None without a limit."""
    limit, prealarm = plant.contract.demand_limit_kw, plant.contract.prealarm_kw
    if limit is None:
        return None
    return steps((None, GREEN), (prealarm, ORANGE), (limit, RED))


def alert_annotation(board: Board, site_filter: str = SITE) -> Annotation:
    """Firing alerts as annotations on every time panel of the board."""
    q = (
        f'SELECT "message", "rule", "severity", "value", "threshold" FROM "{sc.ALERTS}" '
        f"WHERE {site_filter} AND \"state\" = '{sc.FIRING}' AND $timeFilter"
    )
    return Annotation(board.t("anno.alerts"), METERING, q).columns(text="message", tags="rule,severity").icon_color(RED)


def site_variable(board: Board, plant: Plant, ds: dm.DataSourceRef, measurement: str) -> db.QueryVariable:
    """The `site` variable, set to the plant's site (a Grafana may show several plants)."""
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


def multi_variable(board: Board, name: str, label: str, ds: dm.DataSourceRef, query: str) -> db.QueryVariable:
    """A multi-value variable (all selected at first) whose values a query lists."""
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


def new_board(plant: Plant, lang: Lang, uid_part: str, title_key: str, extra_title: str = "") -> Board:
    """An empty dashboard of the plant: uid, title, tags, the plant's time zone, links to its siblings."""
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
    return Board(lang, builder)


def benchmark_steps(benchmark: IntensityBenchmark | None) -> db.ThresholdsConfig:
    """Green up to the sector benchmark, red above; one colour when none is given (no line drawn)."""
    return steps((None, GREEN), (benchmark.value, RED)) if benchmark else steps((None, BLUE))


def benchmark_note(board: Board, benchmark: IntensityBenchmark | None) -> str:
    """The panel description: the benchmark's value and source, `[unconfirmed]`, or that none is published."""
    if benchmark is None:
        return board.t("d.no_benchmark")
    note = board.t("d.benchmark").format(value=f"{benchmark.value:g}", source=benchmark.source)
    return note + ("" if benchmark.confirmed else board.t("d.unconfirmed"))
