"""Allowed values and run configuration, checked once: the floor every run, statistic and report reads."""
