"""InfluxQL text the boards share: variable filters, site totals, scope 2 methods, breakdown rows."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dashboards import schema as sc
from dashboards.plantfile import sub_meter_parents
from plantcarbon_core.plant import Plant


def regex_of(values: Iterable[str]) -> str:
    """An InfluxQL regex literal matching exactly these values: /^(a|b)$/."""
    alts = "|".join(re.escape(v).replace("/", r"\/") for v in values)
    return f"/^({alts})$/"


# The dashboard variables, as filters.
SITE = '"site" =~ /^$site$/'
AREA = '"area" =~ /^$area$/'
DEVICE = '"device" =~ /^$device$/'

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
    parents = sub_meter_parents(plant)
    not_virtual = f"\"role\" != '{sc.ROLE_VIRTUAL}'"
    return f'{not_virtual} AND "device" !~ {regex_of(parents)}' if parents else not_virtual
