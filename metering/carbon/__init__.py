"""The carbon engine: readings → 15-min intervals → energy rows → tce and CO2, with the factor registry (pure)."""
