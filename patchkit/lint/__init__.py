"""Lint: a generic engine over the states of an applied series, and the rules it runs."""

OUTPUT_FORMATS = ("text", "json", "sarif", "github")  # what a lint report can be rendered as
