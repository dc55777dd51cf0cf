"""Persistent state of the metering service: thresholds, API keys, alerts, audit log (DR events: metering.dr)."""
