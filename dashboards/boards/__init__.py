"""One module per dashboard: overview, equipment (one per metered kind), carbon, demand, quality, alerts."""
