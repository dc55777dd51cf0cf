"""Shared core of plantcarbon: plant model, quantities, wire contract, InfluxDB helpers, settings."""
