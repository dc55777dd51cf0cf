"""Alert engine: threshold rules evaluated on readings as they arrive, with notifications."""
