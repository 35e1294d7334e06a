"""New compiler warnings as findings on the series files: SARIF per fragment and GitHub annotations.

A warning a patch introduced (build's ``new_warnings``) is placed like a lint finding: on the diff line
of the patch that added the line, else at the file's header in that patch's diff, else at the top of
the diff. Each fragment gets its own SARIF run category (``patchkit/<series>/build/<config>/``), so the
uploads of parallel jobs do not replace each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from patchkit import __version__
from patchkit.github.locate import Location, Locator
from patchkit.kbuild.diagnostics import CompilerWarning
from patchkit.kbuild.walk import StateBuild
from patchkit.lint.output import SARIF_SCHEMA, escape_data, escape_property, sarif_category


def rule_id(warning: CompilerWarning) -> str:
    return f"compiler/{warning.flag or 'warning'}"


def _place(locator: Locator, build: StateBuild, warning: CompilerWarning) -> Location:
    series = locator.series
    numbers = (
        [build.state.patch_number]
        if build.state.patch_number is not None
        else [p.number for p in reversed(series.overlay_patches)]
    )
    for number in numbers:
        found = locator.in_patch(number, warning.file, warning.line)
        if found is not None:
            return found
    patch = series.patches[numbers[0] - 1] if numbers else series.patches[-1]
    return Location(locator.relative(series.diff_path(patch)), 1)


def _warnings(builds: Iterable[StateBuild]) -> list[tuple[StateBuild, CompilerWarning]]:
    return [(b, w) for b in builds for w in b.new_warnings]


def category(series: str, config: str, span: tuple[int, int] | None = None) -> str:
    tool = f"build/{config}" + (f"/{span[0]}-{span[1]}" if span else "")
    return sarif_category(series, tool)


def to_sarif(locator: Locator, config: str, builds: Iterable[StateBuild], run_category: str) -> dict[str, Any]:
    """One SARIF run: the new warnings of one fragment's builds."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for build, warning in _warnings(builds):
        rid = rule_id(warning)
        if rid not in index:
            index[rid] = len(rules)
            text = f"compiler warning {warning.flag}" if warning.flag else "compiler warning"
            rules.append({"id": rid, "shortDescription": {"text": text}, "defaultConfiguration": {"level": "warning"}})
        where = _place(locator, build, warning)
        kernel = f"{warning.file}:{warning.line}" if warning.line else warning.file
        location: dict[str, Any] = {"artifactLocation": {"uri": where.path}}
        if where.line > 0:
            location["region"] = {"startLine": where.line}
        results.append({
            "ruleId": rid,
            "ruleIndex": index[rid],
            "level": "warning",
            "message": {"text": f"{warning.message} ({kernel} at {build.state.label}, config {config})"},
            "locations": [{
                "physicalLocation": location,
                "logicalLocations": [{"name": warning.file, "fullyQualifiedName": f"{build.state.label}:{kernel}",
                                      "kind": "resource"}],
            }],
            "partialFingerprints": {"patchkitKey/v1": "|".join((rid, config, *warning.key))},
            "properties": {"config": config, "state": build.state.label, "patch": build.state.patch_number,
                           "path": warning.file, "line": warning.line},
        })  # fmt: skip
    run = {
        "tool": {"driver": {"name": "patchkit-build", "version": __version__, "rules": rules}},
        "automationDetails": {"id": run_category},
        "results": results,
        "properties": {"series": locator.series.name, "config": config},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def to_github(locator: Locator, config: str, builds: Iterable[StateBuild]) -> str:
    """``::warning file=...,line=...`` for each new compiler warning."""
    lines = []
    for build, warning in _warnings(builds):
        where = _place(locator, build, warning)
        props = [f"file={escape_property(where.path)}"]
        if where.line:
            props.append(f"line={where.line}")
        props.append(f"title={escape_property(f'{rule_id(warning)} ({build.state.label}, config {config})')}")
        kernel = f"{warning.file}:{warning.line}" if warning.line else warning.file
        lines.append(f"::warning {','.join(props)}::{escape_data(f'{warning.message} ({kernel})')}")
    return "\n".join(lines) + ("\n" if lines else "")
