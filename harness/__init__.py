"""Real services on loopback for tests, benchmarks and the demo: Mosquitto, InfluxDB 2.7, pymodbus.

This is the one place that knows how to install, build, start and stop them.
"""
