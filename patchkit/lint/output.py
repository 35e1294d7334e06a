"""Rendering a LintReport: text grouped by patch, JSON, SARIF 2.1.0, GitHub workflow annotations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from patchkit import __version__
from patchkit.lint import definitions, registry
from patchkit.lint.definitions import RuleError
from patchkit.lint.model import Finding, LintReport
from patchkit.lint.severity import SEVERITIES

if TYPE_CHECKING:
    from patchkit.github.locate import Location, Locator

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def render(
    report: LintReport,
    fmt: str,
    subjects: dict[int, str] | None = None,
    *,
    locator: Locator | None = None,
    category: str | None = None,
) -> str:
    """``locator`` maps SARIF and GitHub locations onto the series files; ``category`` names the SARIF run."""
    if fmt == "json":
        return json.dumps(report.to_json_data(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report, locator, category), indent=2, ensure_ascii=False) + "\n"
    if fmt == "github":
        return to_github(report, locator)
    return to_text(report, subjects or {})


def sarif_category(series: str, tool: str = "lint") -> str:
    """The SARIF ``runAutomationDetails.id`` for one series and tool (``build/guest`` for a fragment's build)."""
    return f"patchkit/{series}/{tool}/"


def _located(locator: Locator, f: Finding) -> Location:
    """Where the finding shows in the series files: the locator gets plain values, and for a finding on
    series.yaml the part of the patch's entry its rule says it concerns."""
    part: str | None = None
    if locator.is_series_file(f.path):
        try:
            part = registry.code(f.rule).entry_part(f.rule)
        except RuleError:  # a rule a cached report names that this version no longer has
            part = None
    return locator.place(f.path, f.line, f.patch, part, f.message)


def _in_tree(f: Finding) -> str:
    """Where the finding is in the kernel tree and which state, for messages that point elsewhere."""
    where = _where(f.path, f.line)
    return f"{where} at {f.state}" if f.patch is not None or f.state != "base" else f"{where} at the base"


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
            for sev in SEVERITIES
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
        f"worst: {worst}"
        + ("" if report.checkpatch_ran else " (checkpatch not run)")
        + (f" ({report.cached})" if report.cached else "")
    )
    return "\n".join(out) + "\n"


def to_sarif(report: LintReport, locator: Locator | None = None, category: str | None = None) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}

    def rule_index(rule_id: str) -> int:
        if rule_id not in index:
            definition = definitions.definition(rule_id)
            entry: dict[str, Any] = {
                "id": rule_id,
                "shortDescription": {"text": definition.message},
                "defaultConfiguration": {"level": _SARIF_LEVEL[definition.severity]},
                "fullDescription": {"text": definition.rationale},
                "help": {"text": f"{definition.rationale}\n\nBad:\n{definition.bad}\nGood:\n{definition.good}"},
            }
            index[rule_id] = len(rules)
            rules.append(entry)
        return index[rule_id]

    results: list[dict[str, Any]] = []
    for f in report.findings:
        path, line, text = f.path, f.line, f.message
        logical: list[dict[str, Any]] = []
        if locator is not None:
            mapped = _located(locator, f)
            path, line = mapped.path, mapped.line
            if not locator.is_series_file(f.path):
                text = f"{f.message} ({_in_tree(f)})"
                logical = [{"name": f.path, "fullyQualifiedName": f"{f.state}:{_where(f.path, f.line)}",
                            "kind": "resource"}]  # fmt: skip
        location: dict[str, Any] = {"artifactLocation": {"uri": path}}
        if line > 0:
            location["region"] = {"startLine": line}
        entry: dict[str, Any] = {"physicalLocation": location}
        if logical:
            entry["logicalLocations"] = logical
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": rule_index(f.rule),
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": text},
            "locations": [entry],
            "baselineState": "unchanged" if f.pre_existing else "new",
            "partialFingerprints": {"patchkitKey/v1": "|".join(f.key())},
            "properties": {"patch": f.patch, "state": f.state, "status": f.status, "path": f.path, "line": f.line},
        }
        if locator is not None and f.pre_existing:  # on the series files: not the series' doing, not an alert
            result["suppressions"] = [{"kind": "external", "justification": "present at the base, before the series"}]
        if f.suppression is not None:
            result["suppressions"] = [
                {"kind": "inSource" if f.suppression.source == "line" else "external",
                 "justification": f.suppression.reason}
            ]  # fmt: skip
        results.append(result)
    run: dict[str, Any] = {
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
    if category:
        run["automationDetails"] = {"id": category}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(report: LintReport, locator: Locator | None = None) -> str:
    """``::error file=...,line=...,title=...::message`` for each failing finding."""
    command = {"error": "error", "warning": "warning", "info": "notice"}
    lines = []
    for f in report.failing:
        path, line, text = f.path, f.line, f.message
        if locator is not None:
            mapped = _located(locator, f)
            path, line = mapped.path, mapped.line
            if not locator.is_series_file(f.path):
                text = f"{f.message} ({_in_tree(f)})"
        props = [f"file={escape_property(path)}"]
        if line:
            props.append(f"line={line}")
        title = f"{f.rule} (patch {f.patch})" if f.patch else f.rule
        props.append(f"title={escape_property(title)}")
        lines.append(f"::{command[f.severity]} {','.join(props)}::{escape_data(text)}")
    return "\n".join(lines) + ("\n" if lines else "")
