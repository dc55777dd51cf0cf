"""The metering-device register, GB 17167 accuracy checks, the data-quality control plan, calibration alerts."""
