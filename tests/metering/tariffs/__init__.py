"""Tests of metering/tariffs/."""
