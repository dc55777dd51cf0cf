"""Edge agent: reads meters over Modbus and MQTT and publishes reading batches to the broker."""
