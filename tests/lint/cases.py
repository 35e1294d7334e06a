"""Run one rule case (from rules/<name>.cases.yaml) and return what the rule reported."""

from __future__ import annotations

import difflib
from typing import Any

from patchkit.lint import hygiene
from patchkit.lint.checkpatch import parse_output
from patchkit.lint.engine import check_series_suppressions, lint_files
from patchkit.lint.tdxrules import removed_symbol_users, removed_symbols
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
        before, after = case["before"], case["after"]
        removed = removed_symbols(unified(before, after))
        lines = [
            (path, number, line)
            for path, text in sorted(after.items())
            for number, line in enumerate(text.splitlines(), start=1)
        ]
        return [h.message for h in removed_symbol_users(removed, lines, 1) if h.rule == rule]
    if "patch" in case:
        p = case["patch"]
        patch = Patch(
            number=1, subject=p["subject"], author=Person(p["author"]["name"], p["author"]["email"]),
            date="2026-01-01T00:00:00+00:00", body=p.get("body", ""), trailers=tuple(p.get("trailers", ())),
            diff="0001.diff",
        )  # fmt: skip
        return [h.message for h in hygiene.check_patch(patch, p.get("diff", "")) if h.rule == rule]
    if "checkpatch_output" in case:
        return [
            f"{h.rule} {h.severity}" + (f" {h.path}:{h.line}" if h.path else "")
            for h in parse_output(case["checkpatch_output"])
        ]
    if "suppress" in case:
        sups = tuple(Suppression(s["rule"], s["reason"]) for s in case["suppress"])
        return [h.message for h in check_series_suppressions(sups) if h.rule == rule]
    raise AssertionError(f"case {case.get('name')!r} has no files, before/after, patch, checkpatch_output or suppress")
