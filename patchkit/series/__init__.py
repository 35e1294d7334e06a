"""The series as data: the model, the strict loader and dumper, its schema, history, locks and patch-ids."""
