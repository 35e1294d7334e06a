"""verify: its plan, the stage runner, the typed report and its schema, the results directory,
the record send checks, the CI matrix."""
