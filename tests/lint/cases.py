"""Run one rule case (from rules/<pack>/<name>.cases.yaml) and return what the rule reported."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from patchkit.lint import registry
from patchkit.lint.config import defaults
from patchkit.lint.engine import lint_files
from patchkit.lint.rule import HistoryRule, PatchChange, PatchRule
from patchkit.lint.rules.checkpatch.checkpatch import parse_output
from patchkit.lint.rules.core import missing_reason, unknown_rule
from patchkit.series.model import Patch, Person, Suppression


def unified(before: dict[str, str], after: dict[str, str]) -> str:
    out = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path, ""), after.get(path, "")
        if a == b:
            continue
        out.append(f"diff --git a/{path} b/{path}\n")
        out.extend(
            difflib.unified_diff(
                a.splitlines(keepends=True), b.splitlines(keepends=True),
                fromfile=f"a/{path}" if path in before else "/dev/null",
                tofile=f"b/{path}" if path in after else "/dev/null",
            )
        )  # fmt: skip
    return "".join(out)


def run_case(rule: str, case: dict[str, Any]) -> list[str]:
    """Messages the case produces for ``rule`` (checkpatch: "rule severity path:line")."""
    if "files" in case:
        return [h.message for h in lint_files(case["files"]) if h.rule == rule]
    if "before" in case:
        return _history(rule, case["before"], case["after"])
    if "patch" in case:
        p = case["patch"]
        patch = Patch(
            number=1, subject=p["subject"], author=Person(p["author"]["name"], p["author"]["email"]),
            date="2026-01-01T00:00:00+00:00", body=p.get("body", ""), trailers=tuple(p.get("trailers", ())),
            diff="0001.diff",
        )  # fmt: skip
        code = registry.code(rule)
        assert isinstance(code, PatchRule), f"{rule} is not a rule over a patch's data"
        return [h.message for h in code.run(patch, p.get("diff", ""), defaults()) if h.rule == rule]
    if "checkpatch_output" in case:
        return [
            f"{h.rule} {h.severity}" + (f" {h.path}:{h.line}" if h.path else "")
            for h in parse_output(case["checkpatch_output"])
        ]
    if "suppress" in case:
        sups = tuple(Suppression(s["rule"], s["reason"]) for s in case["suppress"])
        return [h.message for h in [*missing_reason.in_series(sups), *unknown_rule.in_series(sups)] if h.rule == rule]
    raise AssertionError(f"case {case.get('name')!r} has no files, before/after, patch, checkpatch_output or suppress")


def _history(rule: str, before: dict[str, str], after: dict[str, str]) -> list[str]:
    """A history rule on the patch from ``before`` to ``after`` (every file of ``after`` searched for uses)."""
    code = registry.code(rule)
    assert isinstance(code, HistoryRule), f"{rule} is not a rule over a patch's change"
    pack = next(p for p in registry.tree_packs() if code in registry.history_rules(p.name))
    settings = defaults()
    read = [(path, pack.extract(path, text.encode(), settings)) for path, text in sorted(after.items())]

    def uses(words: Sequence[str]) -> list[tuple[str, int, str]]:
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b")
        return [
            (path, number, line)
            for path, text in sorted(after.items())
            for number, line in enumerate(text.splitlines(), start=1)
            if words and pattern.search(line)
        ]

    change = PatchChange(1, unified(before, after), pack.state("case", read, settings), uses)
    return [h.message for h in code.run(change, settings) if h.rule == rule]
