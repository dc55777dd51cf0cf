"""Shared kernel of plantcarbon: plant model, quantities, wire contract, InfluxDB helpers, settings."""
