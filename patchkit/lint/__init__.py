"""Lint: the TDX consistency rules, patch hygiene and checkpatch over every state of a series.

``lint_series(tree, series, record, *, checkpatch=True, cache=None) -> LintReport`` is what
``patchkit lint`` and ``patchkit verify`` call (``cache``: a :class:`~patchkit.verdicts.VerdictCache`
that answers for content already linted, see :mod:`patchkit.lint.cache`); see
:mod:`patchkit.lint.model` for the report's JSON schema.
"""

from patchkit.lint.engine import lint_series
from patchkit.lint.model import SCHEMA_VERSION, Finding, LintReport

__all__ = ["SCHEMA_VERSION", "Finding", "LintReport", "lint_series"]
