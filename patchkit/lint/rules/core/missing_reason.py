"""suppression/missing-reason: a suppression without a reason covers nothing, and says so (line and series)."""

from __future__ import annotations

from collections.abc import Sequence

from patchkit.lint.model import Hit
from patchkit.lint.rule import Rule
from patchkit.lint.suppressions import StateSuppressions, without_reason
from patchkit.series.model import Suppression

RULE = Rule("suppression/missing-reason", part="suppress")


def in_state(suppressions: StateSuppressions) -> list[Hit]:
    """Line suppressions without a reason in the files of one state."""
    return [
        RULE.hit(path, s.line, f"suppression of {s.rule} has no reason ('-- <why>'); it is ignored")
        for path, sups in sorted(suppressions.items())
        for s in without_reason(sups)
    ]


def in_series(suppress: Sequence[Suppression]) -> list[Hit]:
    """One patch's series suppressions without a reason (on its series.yaml entry)."""
    return [
        RULE.hit(None, 0, f"series suppression of {s.rule} has no reason; it is ignored")
        for s in without_reason(suppress)
    ]
