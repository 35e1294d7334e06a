"""suppression/unknown-rule: a series suppression whose rule (or glob) names no rule suppresses nothing."""

from __future__ import annotations

from collections.abc import Sequence

from patchkit.lint import definitions
from patchkit.lint.model import Hit
from patchkit.lint.rule import Rule
from patchkit.lint.suppressions import unknown
from patchkit.series.model import Suppression

RULE = Rule("suppression/unknown-rule", part="suppress")


def in_series(suppress: Sequence[Suppression]) -> list[Hit]:
    """One patch's series suppressions (with a reason) that name no known rule."""
    return [
        RULE.hit(None, 0, f"series suppression names no known rule: {s.rule}")
        for s in unknown(suppress, definitions.known)
    ]
