"""Real services on loopback for tests, benchmarks and the demo: Mosquitto, InfluxDB 2.7, PostgreSQL, Chromium.

This is the one place that knows how to install, build, start and stop them. Dev and test
infrastructure: not in the runtime wheel, and it imports nothing of plantcarbon but the kernel.
The pymodbus servers are simulated meters: `simulators/modbus_server.py`.
"""
