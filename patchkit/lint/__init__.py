"""Lint: the TDX consistency rules, patch hygiene and checkpatch over every state of a series.

``run_lint(tree, series, record, *, checkpatch=True) -> LintReport`` is what ``patchkit lint`` and
``patchkit verify`` call; see :mod:`patchkit.lint.model` for the report's JSON schema.
"""

from patchkit.lint.engine import run_lint
from patchkit.lint.model import SCHEMA_VERSION, Finding, LintReport

__all__ = ["SCHEMA_VERSION", "Finding", "LintReport", "run_lint"]
