"""Demand response: events (CLI, MQTT, API), baselines, tracking and verification reports."""
