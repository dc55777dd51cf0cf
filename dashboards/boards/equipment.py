"""One equipment dashboard per metered device kind: load factor, one panel per reported quantity group, daily energy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import statetimeline
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import schema as sc
from dashboards.i18n import Lang, text
from dashboards.panels import (
    GREEN,
    METERING,
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
from dashboards.plantfile import QUANTITY_PANELS, QuantityPanel, reported_quantities
from dashboards.queries import AREA, DEVICE, SITE, regex_of
from dashboards.thresholds import Threshold
from plantcarbon_core.influx import quote_ident
from plantcarbon_core.kinds import kind as kind_of
from plantcarbon_core.plant import Device, Plant


def equipment(plant: Plant, lang: Lang, kind: str, thresholds: Sequence[Threshold] = ()) -> dm.Dashboard | None:
    """One kind's dashboard; None when no device of that kind has a meter."""
    devices = [d for d in plant.devices if d.kind == kind and d.source is not None]
    if not devices:
        return None
    b = new_board(plant, lang, f"eq-{kind}", "dash.equipment", text(f"kind.{kind}", lang))
    carriers = sorted({d.carrier for d in devices})
    frm = quote_ident(carriers[0]) if len(carriers) == 1 else regex_of(carriers)
    kind_filter = f"\"kind\" = '{kind}'"
    b.builder.with_variable(site_variable(b, plant, RAW, carriers[0]))
    b.builder.with_variable(
        multi_variable(
            b, "area", "var.area", RAW, f'SHOW TAG VALUES FROM {frm} WITH KEY = "area" WHERE {SITE} AND {kind_filter}'
        )
    )
    b.builder.with_variable(
        multi_variable(
            b,
            "device",
            "var.device",
            RAW,
            f'SHOW TAG VALUES FROM {frm} WITH KEY = "device" WHERE {SITE} AND {kind_filter} AND {AREA}',
        )
    )
    b.builder.annotation(alert_annotation(b))
    where = f"{SITE} AND {kind_filter} AND {AREA} AND {DEVICE} AND $timeFilter"
    reported = {d.id: set(reported_quantities(d)) for d in devices}
    everything = set().union(*reported.values())
    current_row = ""
    groups = _rating_groups(devices, reported)
    if groups:
        b.row("row.load")
        current_row = "row.load"
        load = b.series(
            title="p.load_factor",
            ds=RAW,
            queries=[
                Query(
                    f'SELECT mean("{q}") / {kw} * 100 FROM {frm} WHERE "device" =~ {regex_of(ids)} AND {where} '
                    'GROUP BY time($__interval), "device" fill(null)',
                    "$tag_device",
                )
                for (q, kw), ids in sorted(groups.items())
            ],
            unit="percent",
            decimals=1,
            width=24,
        )
        # Transformers and motors run best below ~80 % of rating; above 100 % they overheat.
        draw_thresholds(load, steps((None, GREEN), (80, ORANGE), (100, RED)))
        b.add(load)
    for spec in QUANTITY_PANELS:
        present = [q for q in spec.quantities if q in everything]
        if not present:
            continue
        if spec.row != current_row:
            b.row(spec.row)
            current_row = spec.row
        b.add(_quantity_panel(b, spec, present, frm, where, [t for t in thresholds if t.device in reported]))
    b.row("row.energy")
    b.add(
        b.series(
            title="p.device_energy",
            ds=METERING,
            queries=[
                Query(
                    f'SELECT sum("amount") FROM "{sc.ENERGY}" WHERE {SITE} AND {DEVICE} AND $timeFilter '
                    f'GROUP BY time(1d), "device", "unit" fill(none) tz(\'{plant.site.timezone}\')',
                    "$tag_device ($tag_unit)",
                )
            ],
            unit="short",
            decimals=1,
            width=24,
            bars=True,
        )
    )
    return b.builder.build()


def _rating_groups(devices: list[Device], reported: dict[str, set[str]]) -> dict[tuple[str, float], list[str]]:
    """Consumers with a rating, grouped by (quantity loaded, rating): one load-factor query per group.

    Load factor of consumers only (the kind table): generators and storage have no "load" to
    speak of. A kind rated in kVA (a transformer) loads on apparent power (the plant file's
    rated_kw is taken as that figure); a motor's, pump's or fan's is active power against its
    rated output.
    A kind with 90 motors of 4 sizes runs 4 queries, not 90.
    """
    consumers = [d for d in devices if d.rated_kw and kind_of(d.kind).consumes_only]
    in_kva = {d.id for d in consumers if kind_of(d.kind).rated_in == "kVA" and "s_kva" in reported[d.id]}
    rated = [(d, "s_kva" if d.id in in_kva else "p_kw") for d in consumers]
    groups: dict[tuple[str, float], list[str]] = {}
    for d, q in rated:
        if q in reported[d.id] and d.rated_kw:
            groups.setdefault((q, d.rated_kw), []).append(d.id)
    return groups


def _quantity_panel(
    b: Board, spec: QuantityPanel, present: list[str], frm: str, where: str, thresholds: Sequence[Threshold]
) -> Any:
    """One group of quantities of every device of the kind; energy managers' thresholds drawn per series."""
    if len(present) == 1:
        q = present[0]
        queries = [
            Query(
                f'SELECT mean("{q}") FROM {frm} WHERE {where} GROUP BY time($__interval), "device" fill(null)',
                "$tag_device",
            )
        ]
    else:
        cols = ", ".join(f'mean("{q}") AS "{q}"' for q in present)
        queries = [
            Query(
                f'SELECT {cols} FROM {frm} WHERE {where} GROUP BY time($__interval), "device" fill(null)',
                "$tag_device $col",
            )
        ]
    if spec.key == "p.running":
        running = statetimeline.Panel()
        b.place(
            running,
            title=spec.key,
            ds=RAW,
            queries=[Query(q.text.replace("mean(", "last("), q.alias) for q in queries],
            unit="none",
            decimals=0,
            width=24,
            height=6,
        )
        running.mappings(
            [
                dm.ValueMap(
                    options={
                        "1": dm.ValueMappingResult(text=b.t("s.running"), color=GREEN, index=0),
                        "0": dm.ValueMappingResult(text=b.t("s.stopped"), color="gray", index=1),
                    }
                )
            ]
        )
        return running
    panel = b.series(title=spec.key, ds=RAW, queries=queries, unit=spec.unit, decimals=spec.decimals)
    for t in thresholds:
        if t.quantity not in present:
            continue
        colour = RED if t.severity == "critical" else ORANGE
        levels = (
            steps((None, GREEN), (t.value, colour))
            if t.condition == "above"
            else steps((None, colour), (t.value, GREEN))
        )
        panel.override_by_name(
            t.device if len(present) == 1 else f"{t.device} {t.quantity}",
            [
                dm.DynamicConfigValue(id_val="thresholds", value=levels.build()),
                dm.DynamicConfigValue(id_val="custom.thresholdsStyle", value={"mode": "dashed"}),
            ],
        )
    return panel
