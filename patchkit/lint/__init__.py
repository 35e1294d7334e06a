"""Lint: a generic engine over the states of an applied series, and the rules it runs."""
