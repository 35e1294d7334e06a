"""Rendering a LintReport: text grouped by patch, JSON, SARIF 2.1.0, GitHub workflow annotations."""

from __future__ import annotations

import json
from typing import Any

from patchkit import __version__
from patchkit.lint import registry
from patchkit.lint.model import LintReport

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def render(report: LintReport, fmt: str, subjects: dict[int, str] | None = None) -> str:
    if fmt == "json":
        return json.dumps(report.to_json_data(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "github":
        return to_github(report)
    return to_text(report, subjects or {})


def _where(path: str, line: int) -> str:
    return f"{path}:{line}" if line else path


def to_text(report: LintReport, subjects: dict[int, str]) -> str:
    out: list[str] = []
    total = len(report.states) - 1
    groups = report.by_patch()
    for patch in sorted(p for p in groups if p is not None):
        items = groups[patch]
        failing = [f for f in items if f.failing]
        subject = subjects.get(patch, "")
        summary = ", ".join(
            f"{n} {sev}{'s' if n != 1 else ''}"
            for sev in ("error", "warning", "info")
            if (n := sum(1 for f in failing if f.severity == sev))
        )
        out.append(f"patch {patch}/{total}: {subject}" + (f"  ({summary})" if summary else "  (clean)"))
        for f in items:
            mark = f.severity if f.failing else "suppressed"
            out.append(f"  {mark:<10} {f.rule:<36} {_where(f.path, f.line)}")
            out.append(f"             {f.message}")
            if f.suppression is not None:
                out.append(f"             ({f.suppression.source} suppression: {f.suppression.reason})")
    pre = groups.get(None, [])
    if pre:
        out.append(f"pre-existing at the base (not failing): {len(pre)}")
        for f in pre:
            out.append(f"  {f.severity:<10} {f.rule:<36} {_where(f.path, f.line)}")
            out.append(f"             {f.message}")
    counts = report.counts()
    worst = report.worst_severity or "none"
    out.append(
        f"lint: {len(report.states)} states, {counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['info']} info, {counts['pre-existing']} pre-existing, {counts['suppressed']} suppressed; "
        f"worst: {worst}" + ("" if report.checkpatch_ran else " (checkpatch not run)")
    )
    return "\n".join(out) + "\n"


def to_sarif(report: LintReport) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}

    def rule_index(rule_id: str, severity: str) -> int:
        if rule_id not in index:
            definition = registry.find(rule_id)
            entry: dict[str, Any] = {
                "id": rule_id,
                "shortDescription": {"text": definition.message if definition else rule_id},
                "defaultConfiguration": {"level": _SARIF_LEVEL[definition.severity if definition else severity]},
            }
            if definition is not None:
                entry["fullDescription"] = {"text": definition.rationale}
                entry["help"] = {"text": f"{definition.rationale}\n\nBad:\n{definition.bad}\nGood:\n{definition.good}"}
            index[rule_id] = len(rules)
            rules.append(entry)
        return index[rule_id]

    results: list[dict[str, Any]] = []
    for f in report.findings:
        location: dict[str, Any] = {"artifactLocation": {"uri": f.path}}
        if f.line > 0:
            location["region"] = {"startLine": f.line}
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": rule_index(f.rule, f.severity),
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [{"physicalLocation": location}],
            "baselineState": "unchanged" if f.pre_existing else "new",
            "partialFingerprints": {"patchkitKey/v1": "|".join(f.key())},
            "properties": {"patch": f.patch, "state": f.state, "status": f.status},
        }
        if f.suppression is not None:
            result["suppressions"] = [
                {"kind": "inSource" if f.suppression.source == "line" else "external",
                 "justification": f.suppression.reason}
            ]  # fmt: skip
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "patchkit-lint",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
                "properties": {"series": report.series, "states": report.states},
            }
        ],
    }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(report: LintReport) -> str:
    """``::error file=...,line=...,title=...::message`` for each failing finding."""
    command = {"error": "error", "warning": "warning", "info": "notice"}
    lines = []
    for f in report.failing:
        props = [f"file={_escape_property(f.path)}"]
        if f.line:
            props.append(f"line={f.line}")
        title = f"{f.rule} (patch {f.patch})" if f.patch else f.rule
        props.append(f"title={_escape_property(title)}")
        lines.append(f"::{command[f.severity]} {','.join(props)}::{_escape_data(f.message)}")
    return "\n".join(lines) + ("\n" if lines else "")
