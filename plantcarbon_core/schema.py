"""The storage contract in one place: bucket datasources, measurement, tag and field names, and the tag values.

docs/design.md fixes measurements, tags and fields; the tag *values* below are the conventions
the writers (ingest, metering) and the readers (API queries, dashboards, demo) share. Writers
and readers import these names, so a rename is one line here (docs/dashboards.md lists them too).
"""

from __future__ import annotations

# Datasources: one per bucket, because Grafana's InfluxQL mode takes one database per datasource.
RAW_DS_UID = "plantcarbon-raw"
METERING_DS_UID = "plantcarbon-metering"

# raw bucket
DEVICE_STATUS = "device_status"  # fields: online (bool), written when it changes; poll_ms, errors optional
INGEST_QUALITY = "ingest_quality"  # fields: samples, expected, completeness_pct, seq_gaps, duplicates
DEAD_LETTERS = "dead_letters"  # tags: component, reason, ingest; field: count (per 15 min)

# metering bucket
ENERGY = "energy"  # fields: ENERGY_FIELDS
EMISSIONS = "emissions"  # fields: co2_kg, co2e_kg, factor, gwp, ncv
DEMAND = "demand"  # fields: DEMAND_FIELDS
DR = "dr"  # fields: baseline_kw, actual_kw, reduction_kw
ALERTS = "alerts"  # fields: state, value, threshold, message
DIRECT = "direct"  # direct (scope 1 process and combustion) emissions per unit and month
CBAM = "cbam"  # CBAM embedded-emission parts per unit, product (clinker, cement) and local day

# Tag keys of the metering measurements, in the order the writers put them.
ENERGY_TAGS = ("site", "area", "device", "carrier", "role", "tou")
EMISSION_TAGS = ("site", "area", "device", "carrier", "role", "scope", "method")
DEMAND_TAGS = ("site", "device")

# Field keys.
ENERGY_FIELDS = ("amount", "completeness", "cost", "status", "tce_kg", "unit")
DEMAND_FIELDS = ("demand_kw", "sliding_kw", "forecast_kw", "limit_kw", "shed_kw", "prealarm")

# Tag values.
ROLE_MAIN = "main"  # energy/emissions.role of meters that count toward the site total
ROLE_VIRTUAL = "virtual"  # rows of virtual meters (formulas): never part of a breakdown
SCOPE_1, SCOPE_2 = "1", "2"  # emissions.scope
LOCATION, MARKET = "location", "market"  # emissions.method of scope 2; scope 1 rows have no method tag
SITE_TOTAL_DEVICE = "_site"  # demand.device of the site rows (Σ main meters; the only rows with limit_kw)
FIRING = "firing"  # alerts.state when a rule fires (then acknowledged, resolved)
ALERT_STATES = ("firing", "acknowledged", "resolved")
TOU_BANDS = ("sharp", "peak", "flat", "valley", "deep_valley")  # energy.tou
