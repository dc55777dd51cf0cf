"""Tests of metering/demand/."""
