"""The metering REST API, its security and the control-room web page."""
