"""The engine's own rules: suppressions that cover nothing or name no rule, constructs a pack could not read."""
