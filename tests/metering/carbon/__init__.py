"""Tests of metering/carbon/."""
