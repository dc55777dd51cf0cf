"""Grafana dashboards built from the plant file, as code."""
