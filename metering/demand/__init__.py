"""Demand: 15-minute block and sliding demand, month maxima, live forecast and pre-alarm, demand charge."""

from metering.demand.calc import (
    Forecast,
    block_demand,
    forecast_block,
    live_forecast,
    month_max,
    prealarm_events,
    sliding_demand,
)
from metering.demand.charge import DemandCharge, demand_charge

__all__ = [
    "DemandCharge",
    "Forecast",
    "block_demand",
    "demand_charge",
    "forecast_block",
    "live_forecast",
    "month_max",
    "prealarm_events",
    "sliding_demand",
]
