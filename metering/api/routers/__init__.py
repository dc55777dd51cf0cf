"""One router module per resource of the metering API."""
