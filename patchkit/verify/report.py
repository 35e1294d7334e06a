"""verify's report as data: the summary table, the verdict and the exit code, computed from ``report.json``.

A single run and a set of partial runs (``verify --config NAME --states A..B`` on several machines) write
the same shape; :func:`merge` joins partial reports into the report one run over everything gives, so the
table and the exit code come from the same functions either way.

The keys used here (besides ``series``, ``revision``, ``branch``, ``lint``, ``build``, ``boot``)::

    "states":  [{"index": 0, "label": "base", "subject": "", "patch": null, "commit": "..."}, ...]
    "configs": [{"name": "guest", "boot": true}, ...]            # every config of the series
    "scope":   {"lint": true, "build": true, "boot": true,       # what this run covered
                "configs": ["guest"], "states": [0, 11], "keep_going": false}
    "lint_summary": {"ran": true, "failed": false, "summary": "...", "per_patch": {"3": "1 error"}}
    "depends": [{"dependency": "20260101-x-0123456789ab v2", "change_id": "...", "revision": 2,
                 "status": "present", "failed": false, "detail": "..."}]  # patchkit.prerequisites
    "verdict": "passed", "exit_code": 0
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from patchkit.errors import DataError, ExitCode
from patchkit.util import inputfile

Report = dict[str, Any]
MAX_REPORT_BYTES = 64 * 1024 * 1024  # a report of every state of a 1000-patch series is a few MB


def _states(report: Report) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = report.get("states", [])
    return states


def _index_of(report: Report) -> dict[str, int]:
    return {s["label"]: int(s["index"]) for s in _states(report)}


def _scope(report: Report) -> dict[str, Any]:
    scope: dict[str, Any] = report.get("scope", {})
    return scope


def _build_results(report: Report) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = (report.get("build") or {}).get("results", [])
    return results


def _boots(report: Report) -> list[dict[str, Any]]:
    boots: list[dict[str, Any]] = (report.get("boot") or {}).get("boots", [])
    return boots


def built_configs(report: Report) -> list[str]:
    configs: list[str] = (report.get("build") or {}).get("configs", [])
    return configs


def boot_configs(report: Report) -> list[str]:
    """Configs with a boot column: booting ran and the config boots."""
    if not (_scope(report).get("boot") and report.get("build")):
        return []
    boots = {c["name"] for c in report.get("configs", []) if c.get("boot", True)}
    return [c for c in built_configs(report) if c in boots]


_CACHED_MARK = " (c)"


def table(report: Report) -> tuple[list[str], list[list[str]]]:
    """Headers and one row per state: state, lint, build per config, boot per config, subject."""
    configs = built_configs(report)
    booting = boot_configs(report)
    lint = report.get("lint_summary") or {"ran": False}
    builds = {(r["config"], r["state"]): r for r in _build_results(report)}
    boots = {(b["config"], b["state"]): b for b in _boots(report)}
    headers = ["state", "lint", *(f"build:{c}" for c in configs), *(f"boot:{c}" for c in booting), "subject"]
    rows: list[list[str]] = []
    for state in _states(report):
        label = state["label"]
        row = [label]
        if not lint.get("ran"):
            row.append("-")
        elif state.get("patch") is None:
            row.append("")
        else:
            row.append(lint.get("per_patch", {}).get(str(state["patch"]), "ok"))
        for config in configs:
            result = builds.get((config, label))
            if result is None:
                row.append("-")
            elif result["status"] == "ok":
                warnings = len(result.get("new_warnings", []))
                row.append((f"ok +{warnings}w" if warnings else "ok") + _CACHED_MARK * bool(result.get("cached")))
            else:
                row.append("FAIL" + _CACHED_MARK * bool(result.get("cached")))
        for config in booting:
            boot = boots.get((config, label))
            cell = "" if boot is None else ("ok" if boot["ok"] else "FAIL")
            row.append(cell + _CACHED_MARK * bool(boot and boot.get("cached")))
        row.append(str(state.get("subject", ""))[:60])
        rows.append(row)
    return headers, rows


def text_table(report: Report) -> list[str]:
    headers, rows = table(report)
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))] if rows else []
    if not rows:
        return ["  ".join(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if any(_CACHED_MARK in cell for row in rows for cell in row):
        lines.append(f"({_CACHED_MARK.strip()}: verdict from the cache; when and where it was computed: report.json)")
    return lines


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md_cell(text: str) -> str:
    """Text shown as itself in a Markdown table cell (subjects hold ``__tdcall()`` and such)."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;").replace(">", "&gt;")


def markdown(report: Report, title: str | None = None) -> str:
    """The table and verdict as GitHub-flavoured Markdown, for ``$GITHUB_STEP_SUMMARY``."""
    code, verdict_text = verdict(report)
    heading = title or f"patchkit verify: {report.get('series', '?')} v{report.get('revision', '?')}"
    mark = "✅" if code == 0 else "❌"
    out = [f"### {_md_cell(heading)}", "", f"{mark} **{_md_cell(verdict_text)}** (exit {code})", ""]
    branch = report.get("branch") or {}
    if branch:
        out += [f"branch `{branch.get('name', '')}`: {_md_cell(str(branch.get('detail', '')))}", ""]
    headers, rows = table(report)
    if rows:
        out.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
        out.append("|" + "|".join("---" for _ in headers) + "|")
        for row in rows:
            cells = [f"**{_md_cell(c)}**" if c == "FAIL" else _md_cell(c) for c in row]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    lint = report.get("lint_summary") or {}
    if lint.get("ran"):
        out += [f"lint: {_md_cell(str(lint.get('summary', '')))}", ""]
    dependencies = depends_summary(report)
    if dependencies is not None:
        out += [f"depends: {_md_cell(dependencies)}", ""]
    return "\n".join(out) + "\n"


def _order_key(report: Report, configs: list[str]) -> Any:
    index = _index_of(report)

    def key(item: dict[str, Any]) -> tuple[int, int]:
        config = item["config"]
        return (index.get(item["state"], 1 << 30), configs.index(config) if config in configs else len(configs))

    return key


def first_build_failure(report: Report) -> dict[str, Any] | None:
    failed = [r for r in _build_results(report) if r["status"] != "ok"]
    return min(failed, key=_order_key(report, built_configs(report))) if failed else None


def first_boot_failure(report: Report) -> dict[str, Any] | None:
    failed = [b for b in _boots(report) if not b["ok"]]
    return min(failed, key=_order_key(report, built_configs(report))) if failed else None


def depends_summary(report: Report) -> str | None:
    """The ``depends:`` line: FAILED, cannot check or ok, then each dependency's finding (None: none declared)."""
    checks: list[dict[str, Any]] = report.get("depends") or []
    if not checks:
        return None
    failed = any(c.get("failed") for c in checks)
    head = "FAILED" if failed else "ok" if all(c.get("status") == "present" for c in checks) else "cannot check"
    return f"{head} (" + "; ".join(f"{c.get('dependency', '?')}: {c.get('detail', '')}" for c in checks) + ")"


def verdict(report: Report) -> tuple[int, str]:
    """The exit code and the one-line verdict: 5 build, else 6 boot, else 1 branch, lint or depends, else 0."""
    branch = report.get("branch") or {}
    if not branch.get("matches", False):
        return int(ExitCode.FINDINGS), "FAILED (branch)"
    failure = first_build_failure(report)
    if failure is not None:
        return int(ExitCode.BUILD), f"FAILED: {failure['state']} does not build (config {failure['config']})"
    bad = first_boot_failure(report)
    if bad is not None:
        return int(ExitCode.BOOT), f"FAILED: config {bad['config']} at {bad['state']} did not boot ({bad['reason']})"
    lint = report.get("lint_summary") or {}
    if lint.get("failed"):
        return int(ExitCode.FINDINGS), f"FAILED: lint ({lint.get('summary', '')})"
    missing = next((c for c in report.get("depends") or [] if c.get("failed")), None)
    if missing is not None:
        return int(ExitCode.FINDINGS), f"FAILED: depends ({missing.get('dependency')}: {missing.get('detail')})"
    return int(ExitCode.OK), "passed"


def load(path: Path) -> Report:
    """A report.json, or a directory holding one."""
    target = path / "report.json" if path.is_dir() else path
    data = inputfile.read_json(
        target, MAX_REPORT_BYTES, missing="no such report (verify writes report.json into its results directory)"
    )
    if not isinstance(data, dict) or "series" not in data or "branch" not in data:
        raise DataError(f"{target}: not a verify report (no 'series' or 'branch')")
    return data


def find_reports(paths: Iterable[Path]) -> list[Path]:
    """Each path as given when it is a file; each report.json under a directory (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(  # symlinks are not followed: a link loop, or one out of the directory, is not searched
                Path(top) / "report.json" for top, _, names in os.walk(path) if "report.json" in names
            )
            if not inside:
                raise DataError(f"{path}: no report.json under this directory")
            found.extend(inside)
        else:
            found.append(path)
    return found


def _in_scope(report: Report, label: str, config: str | None) -> bool:
    scope = _scope(report)
    index = _index_of(report).get(label)
    span = scope.get("states")
    if index is None:
        return False
    if span is not None and not (span[0] <= index <= span[1]):
        return False
    return config is None or config in scope.get("configs", [])


def _span(scopes: list[dict[str, Any]]) -> list[int] | None:
    spans = [s["states"] for s in scopes if s.get("states")]
    return [min(a for a, _b in spans), max(b for _a, b in spans)] if spans else None


def merge(reports: list[tuple[str, Report]]) -> Report:
    """Join partial reports (name, data) into the report one run over everything would have written.

    Each partial contributes only what its scope says it ran (a range's warm-up build of the state before
    it is left out). Without --keep-going, a single run stops after the first state that fails to build,
    so results and boots after that state are dropped here too.
    """
    if not reports:
        raise DataError("no reports to merge")
    first_name, first = reports[0]
    for name, other in reports[1:]:
        for key in ("series", "revision"):
            if other.get(key) != first.get(key):
                raise DataError(
                    f"{name}: {key} {other.get(key)!r} differs from {first_name}'s {first.get(key)!r}; "
                    "only partial runs of the same series data merge"
                )
    applied = [(n, r) for n, r in reports if (r.get("branch") or {}).get("matches")]
    if len(applied) != len(reports):
        name, bad = next((n, r) for n, r in reports if not (r.get("branch") or {}).get("matches"))
        merged_branch = dict(bad["branch"])
        merged_branch["detail"] = f"{merged_branch.get('detail', '')} (in {name})"
        result: Report = {"series": first["series"], "revision": first.get("revision"), "branch": merged_branch,
                          "merged_from": [n for n, _ in reports]}  # fmt: skip
        result["exit_code"], result["verdict"] = verdict(result)
        return result
    states = [(s["index"], s["label"], s.get("commit")) for s in _states(first)]
    for name, other in reports[1:]:
        if [(s["index"], s["label"], s.get("commit")) for s in _states(other)] != states:
            raise DataError(f"{name}: its states (commits) differ from {first_name}'s; was the same data applied?")

    series_configs = [c["name"] for c in first.get("configs", [])]
    scopes = [_scope(r) for _, r in reports]
    lint_report = next((r for _, r in reports if _scope(r).get("lint")), None)
    builds: dict[tuple[str, str], dict[str, Any]] = {}
    boots: dict[tuple[str, str], dict[str, Any]] = {}
    configs_built: set[str] = set()
    ccache = False
    accels: list[str] = []
    for _, partial in reports:
        if not _scope(partial).get("build") or partial.get("build") is None:
            continue
        ccache = ccache or bool(partial["build"].get("ccache"))
        configs_built.update(_scope(partial).get("configs", []))
        for r in _build_results(partial):
            if _in_scope(partial, r["state"], r["config"]):
                builds.setdefault((r["config"], r["state"]), r)
        for b in _boots(partial):
            if _in_scope(partial, b["state"], b["config"]):
                boots.setdefault((b["config"], b["state"]), b)
        accel = (partial.get("boot") or {}).get("accel")
        if accel and accel not in accels:
            accels.append(accel)
    index = {label: i for i, label, _c in states}
    keep_going = any(s.get("keep_going") for s in scopes)
    failed_at = [index[r["state"]] for r in builds.values() if r["status"] != "ok"]
    if failed_at and not keep_going:
        stop = min(failed_at)
        builds = {k: v for k, v in builds.items() if index[k[1]] <= stop}
        boots = {k: v for k, v in boots.items() if index[k[1]] <= stop}
    order = [c for c in series_configs if c in configs_built]

    def state_key(item: tuple[tuple[str, str], dict[str, Any]]) -> tuple[int, int]:
        (config, label), _ = item
        return (index[label], order.index(config) if config in order else len(order))

    merged: Report = {
        "series": first["series"],
        "revision": first.get("revision"),
        "merged_from": [n for n, _ in reports],
        "branch": first["branch"],
        "states": _states(first),
        "configs": first.get("configs", []),
        "scope": {
            "lint": lint_report is not None,
            "build": bool(configs_built),
            "boot": any(s.get("boot") for s in scopes),
            "configs": order,
            "states": _span(scopes),
            "keep_going": keep_going,
        },
        "lint_summary": (lint_report or {}).get("lint_summary") or {"ran": False},
    }
    if lint_report is not None and "lint" in lint_report:
        merged["lint"] = lint_report["lint"]
    if "depends" in first:
        merged["depends"] = first["depends"]  # every part checks the same data against the same base
    if configs_built:
        merged["build"] = {"ccache": ccache, "configs": order,
                           "results": [v for _, v in sorted(builds.items(), key=state_key)]}  # fmt: skip
        merged["boot"] = {
            "accel": ", ".join(accels) or None,
            "boots": [v for _, v in sorted(boots.items(), key=state_key)],
        }
    merged["exit_code"], merged["verdict"] = verdict(merged)
    return merged
