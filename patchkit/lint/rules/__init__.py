"""The rule packs: one folder each, one rule per file (``<name>.py``, ``<name>.yaml``, ``<name>.cases.yaml``)."""
