"""checkpatch/*: each report of the tree's checkpatch.pl is a finding at checkpatch's level.

The reports of the tree's ``scripts/checkpatch.pl --strict --show-types``, one finding each, at
checkpatch's level (ERROR: error, WARNING: warning, CHECK: info). :mod:`patchkit.lint.checkpatch` runs it.
"""

from __future__ import annotations

import re

from patchkit.lint.model import Hit
from patchkit.lint.rule import Rule
from patchkit.lint.severity import Severity

# checkpatch reports without a file are about the mail: which part of the patch's entry they concern
_PARTS = (
    (re.compile(r"SIGN_OFF|SIGNOFF|AUTHOR|EMAIL|FROM_SIGN|CO_DEVELOPED|TRAILER|FIXES|REPORTED|CLOSES|LINK"),
     "trailers"),
    (re.compile(r"SUBJECT|TITLE"), "subject"),
    (re.compile(r"COMMIT|LOG|GIT_COMMIT_ID|TYPO_SPELLING|REPEATED_WORD|BODY"), "body"),
)  # fmt: skip


def part_of(rule_id: str) -> str | None:
    """The part of the patch's series.yaml entry a report of this type is about (None: the entry)."""
    kind = rule_id.removeprefix("checkpatch/")
    return next((name for pattern, name in _PARTS if pattern.search(kind)), None)


RULE = Rule("checkpatch/*", part=part_of)

LEVELS: dict[str, Severity] = {"ERROR": "error", "WARNING": "warning", "CHECK": "info"}
_HEAD = re.compile(r"^(?P<level>ERROR|WARNING|CHECK):(?P<type>[A-Z0-9_]+): (?P<msg>.*)$")
_WHERE = re.compile(r"^#(?P<n>\d+): FILE: (?P<path>[^:]+):(?P<line>\d+):")


def parse_output(text: str) -> list[Hit]:
    """Parse checkpatch's default output (``--show-types``): one hit per report, at its level; a report
    without a file is on the patch's entry in series.yaml (path None)."""
    reports: list[Hit] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _HEAD.match(line)
        if m is None:
            continue
        path, number = None, 0
        where = _WHERE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if where is not None:
            path, number = where.group("path"), int(where.group("line"))
        rule = f"checkpatch/{m.group('type')}"
        reports.append(Hit(rule, path, number, m.group("msg"), severity=LEVELS[m.group("level")]))
    return reports
