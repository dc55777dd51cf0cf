"""Build the Grafana dashboards of one plant from its plant file, with grafana-foundation-sdk.

`build_dashboards(plant, lang)` returns the SDK `Dashboard` models: plant overview, one
equipment dashboard per metered device kind, carbon accounting, demand and DR, data quality
and alerts — one module each in `dashboards/boards/`, built from the shared panel helpers of
`dashboards/panels.py` and the query text of `dashboards/queries.py`.

What comes from the plant file (`dashboards/plantfile.py`): the site id and time zone (days and
months are local), which meters are main (site totals never add sub-meters), which device
kinds exist and which quantities each device reports (its meter profile or MQTT field map),
rated power (load factor), and the contract demand limit and pre-alarm margin (drawn as
thresholds). Alert thresholds that energy managers set are drawn on matching panels when given
(`Threshold` rows, e.g. from `--thresholds FILE`).
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.models import dashboard as dm

from dashboards.boards.alerts import alerts
from dashboards.boards.carbon import carbon
from dashboards.boards.demand import demand
from dashboards.boards.equipment import equipment
from dashboards.boards.overview import overview
from dashboards.boards.quality import quality
from dashboards.i18n import Lang
from dashboards.plantfile import metered_kinds, reported_quantities, site_demand_device
from dashboards.thresholds import IntensityBenchmark, Threshold, ThresholdFile
from plantcarbon_core.plant import Plant

# Names other parts import from here (the module the dashboards were built in before the split).
__all__ = [
    "Threshold",
    "ThresholdFile",
    "build_dashboards",
    "reported_quantities",
    "site_demand_device",
]


def build_dashboards(
    plant: Plant,
    lang: Lang = "en",
    thresholds: Sequence[Threshold] = (),
    benchmark: IntensityBenchmark | None = None,
) -> list[dm.Dashboard]:
    """Every dashboard of the plant, in a stable order (overview first); `benchmark` is the
    intensity benchmark drawn on the overview and carbon dashboards of a plant with emission units."""
    out = [overview(plant, lang, benchmark)]
    for kind in metered_kinds(plant):
        eq = equipment(plant, lang, kind, thresholds)
        if eq is not None:
            out.append(eq)
    out += [carbon(plant, lang, benchmark), demand(plant, lang), quality(plant, lang), alerts(plant, lang)]
    return out
