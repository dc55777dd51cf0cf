"""Ingest: moves reading batches from the MQTT broker into InfluxDB without loss."""
