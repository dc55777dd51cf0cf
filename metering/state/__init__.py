"""Persistent state of the metering service: thresholds, DR events, API keys, alerts and the audit log."""
