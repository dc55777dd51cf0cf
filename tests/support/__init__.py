"""Helpers shared by the tests: MQTT collector and publisher, waiting, golden cases."""
