"""Metering: interval energy, standard coal equivalent, CO2, demand, tariffs, alerts and the API."""
