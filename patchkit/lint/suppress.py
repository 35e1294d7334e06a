"""Line suppressions: ``/* patchkit: ignore <rule-id> -- <reason> */`` (C and assembly) or
``# patchkit: ignore <rule-id> -- <reason>`` (assembly comments).

A suppression covers findings of that rule on its own line and on the next line (so it can sit
alone on the line above). A reason is required: without one the suppression is ignored and is
itself reported as ``suppression/missing-reason``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

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


def find_suppressions(text: str) -> list[LineSuppression]:
    found: list[LineSuppression] = []
    for m in _SUPPRESSION.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        found.append(LineSuppression(line, m.group("rule"), (m.group("reason") or "").strip()))
    return found
