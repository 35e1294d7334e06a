"""Building the series: kconfig, per-state incremental builds, warnings and errors."""
