"""Suppressions, in one place: how they are written, which findings they cover, and which are bad.

In the source, ``/* patchkit: ignore <rule-id> -- <reason> */`` (C and assembly) or
``# patchkit: ignore <rule-id> -- <reason>`` (an assembly comment) covers findings of that rule on
its own line and on the next (so it can sit alone on the line above). Per patch, ``suppress: [{rule,
reason}]`` in series.yaml covers that patch's findings of the rule (ids may be globs:
``checkpatch/*``). A reason is required: a suppression without one covers nothing, and is itself
reported (``suppression/missing-reason``); a series suppression that names no known rule is reported
too (``suppression/unknown-rule``). The rules that report them read :func:`without_reason` and
:func:`unknown`; the engine calls :func:`apply` once, after blame.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from patchkit.lint.model import Finding, SuppressionNote
from patchkit.series.model import Patch, Suppression

_SUPPRESSION = re.compile(
    r"patchkit:\s*ignore\s+(?P<rule>[A-Za-z0-9_./*-]+)(?:\s+--\s*(?P<reason>.*?))?\s*(?:\*/|$)", re.MULTILINE
)


@dataclass(frozen=True)
class LineSuppression:
    line: int
    rule: str
    reason: str

    def covers(self, rule: str, line: int) -> bool:
        return line in (self.line, self.line + 1) and fnmatch.fnmatchcase(rule, self.rule)


# path -> the line suppressions of that file, in one tree state
StateSuppressions = Mapping[str, Sequence[LineSuppression]]


def in_text(text: str) -> list[LineSuppression]:
    """Every line suppression written in one file's text."""
    found: list[LineSuppression] = []
    for m in _SUPPRESSION.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        found.append(LineSuppression(line, m.group("rule"), (m.group("reason") or "").strip()))
    return found


S = TypeVar("S", LineSuppression, Suppression)


def without_reason(suppressions: Sequence[S]) -> list[S]:
    """The suppressions that give no reason (they cover nothing)."""
    return [s for s in suppressions if not s.reason.strip()]


def unknown(suppressions: Sequence[Suppression], known: Callable[[str], bool]) -> list[Suppression]:
    """Series suppressions with a reason whose rule (or glob) names no rule ``known`` accepts."""
    return [s for s in suppressions if s.reason.strip() and not known(s.rule)]


def _series(patch: Patch, rule: str) -> Suppression | None:
    return next((s for s in patch.suppress if s.reason.strip() and fnmatch.fnmatchcase(rule, s.rule)), None)


def apply(findings: list[Finding], states: Sequence[StateSuppressions], mailed: Sequence[Patch]) -> list[Finding]:
    """New findings a line suppression (in the state the finding is shown in) or a series suppression of
    their patch covers, with a reason, become "suppressed"."""
    out: list[Finding] = []
    for f in findings:
        if f.status != "new" or f.patch is None:
            out.append(f)
            continue
        note: SuppressionNote | None = None
        shown_in = f.reachable_from or f.patch  # the state path and line refer to
        lines = states[shown_in].get(f.path, ()) if shown_in < len(states) else ()
        line_sup = next((s for s in lines if s.reason and s.covers(f.rule, f.line)), None)
        if line_sup is not None:
            note = SuppressionNote("line", line_sup.reason)
        else:
            series_sup = _series(mailed[f.patch - 1], f.rule)
            if series_sup is not None:
                note = SuppressionNote("series", series_sup.reason)
        out.append(f if note is None else f.with_(status="suppressed", suppression=note))
    return out
