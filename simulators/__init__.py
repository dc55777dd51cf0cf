"""Simulated meters and plants: the demo's and CI's data source and ground truth."""
