"""Tests of aion.timeseries and aion.compat.kairos."""
