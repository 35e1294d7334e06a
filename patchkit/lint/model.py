"""Findings and the lint report, with the stable JSON schema ``patchkit verify`` and CI read.

Machine-readable: ``patchkit/lint/report-schema.json`` (JSON Schema, tested). In short
(``schema_version`` 1; fields are only ever added, never renamed or removed)::

    {
      "schema_version": 1,
      "series": "tdx",                      # series name
      "states": ["base", "patch 1", ...],   # the tree states evaluated, in order
      "worst_severity": "error" | "warning" | "info" | null,   # among failing findings
      "counts": {"error": n, "warning": n, "info": n,          # failing findings per severity
                 "pre-existing": n, "suppressed": n},
      "findings": [
        {
          "rule": "tdx/offset-per-field",   # rule id (checkpatch reports: "checkpatch/<TYPE>")
          "severity": "error" | "warning" | "info",
          "path": "arch/x86/kernel/asm-offsets.c",   # tree path, or the series.yaml path for message rules
          "line": 72,                       # 1-based line in that state's file (0: the whole file)
          "patch": 5 | null,                # patch that introduced it; null: present at the base
          "state": "patch 5",               # the state the path/line refer to ("base" or "patch N")
          "status": "new" | "pre-existing" | "suppressed",
          "failing": true | false,          # new and not suppressed
          "message": "...",
          "suppression": null | {"source": "line" | "series", "reason": "..."},
          "commit": "<sha of the state>" | null,
          "reachable_from": 9 | null        # the patch whose state first shows it, when an older patch
                                            # wrote the defect (then "patch" is that older patch)
        }, ...
      ]
    }
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from patchkit.lint.severity import SEVERITIES, SEVERITY_RANK, Severity, as_severity

SCHEMA_VERSION = 1

Status = Literal["new", "pre-existing", "suppressed"]


@dataclass(frozen=True)
class Hit:
    """What a rule reports, before the engine places it in a state and blames a patch."""

    rule: str
    path: str | None  # a tree path; None: the patch's entry in series.yaml
    line: int
    message: str
    identity: str | None = None  # what matches it across states, when not the message itself
    # the lines (path, line) of this state whose code makes the defect: blame looks at which patch wrote
    # them when the finding first shows in a later state (a macro reached through a new caller)
    evidence: tuple[tuple[str, int], ...] = ()
    severity: Severity | None = None  # None: the rule's own (checkpatch gives each report its level)


@dataclass(frozen=True)
class SuppressionNote:
    source: Literal["line", "series"]
    reason: str


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    path: str
    line: int
    message: str
    patch: int | None = None  # None: pre-existing at the base
    state: str = "base"  # "base" or "patch N": the state path/line refer to
    status: Status = "new"
    suppression: SuppressionNote | None = None
    commit: str | None = None
    identity: str | None = None  # overrides the message in key() when a rule sets it
    reachable_from: int | None = None  # the patch from which on it shows, when older than ``patch``

    @property
    def failing(self) -> bool:
        return self.status == "new"

    @property
    def pre_existing(self) -> bool:
        return self.status == "pre-existing"

    @property
    def suppressed(self) -> bool:
        return self.status == "suppressed"

    def key(self) -> tuple[str, str, str]:
        """Identity across states: rule, path and the message without line numbers."""
        return (self.rule, self.path, self.identity or normalize_message(self.message))

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)

    @classmethod
    def from_json_data(cls, f: dict[str, Any]) -> Finding:
        """The inverse of :meth:`to_json_data` (plus ``identity``, which the JSON report leaves out)."""
        note = f["suppression"]
        return cls(
            rule=str(f["rule"]), severity=as_severity(f["severity"]), path=str(f["path"]), line=int(f["line"]),
            message=str(f["message"]), patch=f["patch"], state=str(f["state"]), status=f["status"],
            suppression=None if note is None else SuppressionNote(note["source"], note["reason"]),
            commit=f["commit"], identity=f.get("identity"), reachable_from=f["reachable_from"],
        )  # fmt: skip

    def to_json_data(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "patch": self.patch,
            "state": self.state,
            "status": self.status,
            "failing": self.failing,
            "message": self.message,
            "suppression": (
                None
                if self.suppression is None
                else {"source": self.suppression.source, "reason": self.suppression.reason}
            ),
            "commit": self.commit,
            "reachable_from": self.reachable_from,
        }


_LINE_REF = re.compile(r"\b(line|lines)\s+\d+(-\d+)?\b|:\d+\b")
_SPACES = re.compile(r"\s+")


def normalize_message(message: str) -> str:
    return _SPACES.sub(" ", _LINE_REF.sub(r"\1 N", message)).strip()


@dataclass
class LintReport:
    series: str
    states: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    checkpatch_ran: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    cached: str | None = None  # "cached, computed <when> on <host>" when the report came from the cache

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.findings if f.failing]

    @property
    def worst_severity(self) -> Severity | None:
        ranks = [SEVERITY_RANK[f.severity] for f in self.failing]
        if not ranks:
            return None
        best = max(ranks)
        return next(name for name, rank in SEVERITY_RANK.items() if rank == best)

    def fails_at(self, threshold: str) -> bool:
        """Whether failing findings at or above ``threshold`` (a severity's name) exist."""
        limit = SEVERITY_RANK[as_severity(threshold)]
        return any(SEVERITY_RANK[f.severity] >= limit for f in self.failing)

    def counts(self) -> dict[str, int]:
        counter: Counter[str] = Counter()
        for f in self.findings:
            counter[f.severity if f.failing else f.status] += 1
        return {name: counter.get(name, 0) for name in (*SEVERITIES, "pre-existing", "suppressed")}

    def by_patch(self) -> dict[int | None, list[Finding]]:
        groups: dict[int | None, list[Finding]] = {}
        for f in self.findings:
            groups.setdefault(f.patch, []).append(f)
        return groups

    def summary_by_patch(self, patches: int | None = None) -> dict[int, str]:
        """A short cell per patch for summary tables: "clean", or "1 error, 2 warnings" (failing only)."""
        count = len(self.states) - 1 if patches is None else patches
        cells: dict[int, str] = {}
        for number in range(1, count + 1):
            failing = [f for f in self.failing if f.patch == number]
            parts = [
                f"{n} {sev}{'s' if n != 1 else ''}"
                for sev in SEVERITIES
                if (n := sum(1 for f in failing if f.severity == sev))
            ]
            cells[number] = ", ".join(parts) if parts else "clean"
        return cells

    def to_json_data(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "series": self.series,
            "states": list(self.states),
            "worst_severity": self.worst_severity,
            "counts": self.counts(),
            "findings": [f.to_json_data() for f in self.findings],
        }
