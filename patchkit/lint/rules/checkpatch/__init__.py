"""The tree's own checkpatch.pl as a rule: each report it gives becomes a ``checkpatch/<TYPE>`` finding."""
