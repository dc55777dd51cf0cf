"""Tests of metering/dr/."""
