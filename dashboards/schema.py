"""What the dashboards read: measurement names and the tag values they filter on.

docs/design.md fixes measurements, tags and fields; the tag *values* below are the conventions
the dashboards assume where design.md leaves them open. They live here, in one place, so a
producer that settles on other values changes one line (docs/dashboards.md lists them too).
"""

from __future__ import annotations

# Datasources: one per bucket, because Grafana's InfluxQL mode takes one database per datasource.
RAW_DS_UID = "plantcarbon-raw"
METERING_DS_UID = "plantcarbon-metering"

# raw bucket
DEVICE_STATUS = "device_status"  # fields: online (bool), written when it changes; poll_ms, errors optional
INGEST_QUALITY = "ingest_quality"  # fields: samples, expected, completeness_pct, seq_gaps, duplicates
DEAD_LETTERS = "dead_letters"  # tags: component, reason; field: count (per 15 min)

# metering bucket
ENERGY = "energy"  # fields: amount, unit, tce_kg, cost
EMISSIONS = "emissions"  # fields: co2_kg, co2e_kg, factor
DEMAND = "demand"  # fields: demand_kw (fixed block), sliding_kw, forecast_kw, limit_kw
DR = "dr"  # fields: baseline_kw, actual_kw, reduction_kw
ALERTS = "alerts"  # fields: state, value, threshold, message
DIRECT = "direct"  # per unit, source, material and local day: co2_t, activity_t, method, complete (metering/direct)

# Tag values.
ROLE_MAIN = "main"  # energy/emissions.role of meters that count toward the site total
ROLE_VIRTUAL = "virtual"  # rows of virtual meters (formulas): never part of a breakdown
SCOPE_1, SCOPE_2 = "1", "2"  # emissions.scope
LOCATION, MARKET = "location", "market"  # emissions.method of scope 2; scope 1 rows have no method tag
SITE_TOTAL_DEVICE = "_site"  # demand.device of the site rows (Σ main meters; the only rows with limit_kw)
FIRING = "firing"  # alerts.state when a rule fires (then acknowledged, resolved)
ALERT_STATES = ("firing", "acknowledged", "resolved")
TOU_BANDS = ("sharp", "peak", "flat", "valley", "deep_valley")  # energy.tou
# direct.source: `product` rows carry the unit's total direct CO2 (fuel + process) and its clinker
# tonnes; the others split it (biogenic is a memo item, never part of the total).
DIRECT_PRODUCT = "product"
DIRECT_SOURCES = ("fuel", "biogenic", "process_clinker", "process_dust", "process_toc")
