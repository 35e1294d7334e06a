"""verify: data, branch, lint, build and boot in one run, one summary table, one exit code.

Exit code: 5 when a build failed, else 6 when a boot failed, else 1 when the
branch does not match the data or lint found errors, else 0. Invalid data
stops at once with 3 (raised while loading).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from patchkit import atomic, doctor
from patchkit.applied import AppliedSeries, read_record
from patchkit.boot.run import BootRun
from patchkit.build.walk import BuildReport, State, build_states, select_configs, series_states
from patchkit.build.worktree import WorkTree
from patchkit.errors import ExitCode
from patchkit.gitrepo import KernelTree
from patchkit.lint import run_lint as lint_series
from patchkit.lint.output import render
from patchkit.matching import compare_branch
from patchkit.progress import Progress
from patchkit.results import new_results_dir, write_report
from patchkit.series.model import Series
from patchkit.target import open_target

FAIL_LINT_AT = "error"  # default of --fail-on: warnings and info are shown, not failing


@dataclass
class LintOutcome:
    ran: bool
    note: str = ""  # why it did not run, or the one-line summary
    failed: bool = False
    per_patch: dict[int, str] = field(default_factory=dict)  # patch number -> cell text
    data: dict[str, Any] | None = None


def run(
    series_arg: str | None,
    tree_arg: Path | None,
    *,
    lint: bool = True,
    build: bool = True,
    boot: bool = True,
    keep_going: bool = False,
    timeout: float = 60.0,
    accel: str = "auto",
    jobs: int | None = None,
    results_dir: Path | None = None,
    fail_on: str = FAIL_LINT_AT,
) -> int:
    target = open_target(series_arg, tree_arg)
    series, tree = target.series, target.tree
    configs = select_configs(series) if build else []
    if build:
        doctor.require(doctor.BUILD + (doctor.BOOT if boot else ()))
    results = new_results_dir(series.name, results_dir)
    click.echo(f"results: {results}")
    overlays = len(series.overlay_patches)
    click.echo(
        f"data:    ok ({len(series.mailed_patches)} patches, {overlays} overlay, "
        f"{len(series.configs)} config(s): {', '.join(c.name for c in series.configs) or 'none'})"
    )
    branch = compare_branch(tree, series)
    click.echo(f"branch:  {branch.branch}: {branch.detail}")
    record = read_record(tree, series.name) if branch.matches else None
    report: dict[str, Any] = {
        "series": series.name,
        "revision": series.revision,
        "results": str(results),
        "branch": {"name": branch.branch, "matches": branch.matches, "detail": branch.detail},
    }
    if record is None:
        click.echo("lint, build and boot skipped: the branch does not match the data (run 'patchkit apply --force')")
        write_report(results, report)
        click.echo(f"verify: FAILED (branch); results in {results}")
        return int(ExitCode.FINDINGS)

    lint_outcome = (
        run_lint(tree, series, record, results, fail_on) if lint else LintOutcome(False, "skipped (--no-lint)")
    )
    click.echo(f"lint:    {lint_outcome.note}")
    if lint_outcome.data is not None:
        report["lint"] = lint_outcome.data

    build_report: BuildReport | None = None
    booter: BootRun | None = None
    states = series_states(series, record)
    if build:
        work = WorkTree(tree, series.name)
        with work.locked(), Progress() as progress:
            booter = BootRun(
                configs=configs, results=results, boot_states={states[-1].index} if boot else set(),
                end_state=states[-1].index, accel_request=accel, timeout=timeout, progress=progress,
            )  # fmt: skip
            build_report = build_states(
                tree, series, record, configs, results, keep_going=keep_going, jobs=jobs,
                progress=progress, work=work, after_state=booter.after_state,
            )  # fmt: skip
        report["build"] = build_report.to_json_data()
        report["boot"] = booter.to_json_data()

    click.echo("")
    for line in summary_table(states, series, lint_outcome, build_report, booter, boot and build):
        click.echo(line)
    click.echo("")
    code, verdict = exit_code(lint_outcome, build_report, booter)
    report["verdict"] = verdict
    report["exit_code"] = code
    write_report(results, report)
    explain(build_report, booter)
    click.echo(f"verify: {verdict}; results in {results}")
    from patchkit.mail.verified import record_verify  # what 'patchkit send' checks

    record_verify(tree, series, record, code, {"lint": lint, "build": build, "boot": build and boot})
    return code


def run_lint(
    tree: KernelTree, series: Series, record: AppliedSeries, results: Path, fail_on: str = FAIL_LINT_AT
) -> LintOutcome:
    """Lint every state; the text, JSON and SARIF reports go beside the other results (SARIF for code scanning)."""
    report = lint_series(tree, series, record, checkpatch=True)
    subjects = {p.number: p.subject for p in record.patches}
    for fmt, name in (("text", "lint.txt"), ("json", "lint.json"), ("sarif", "lint.sarif")):
        atomic.write_text(results / name, render(report, fmt, subjects))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        click.echo(render(report, "github"), nl=False)  # annotations on the workflow run
    per_patch: dict[int, dict[str, int]] = {}
    for finding in report.failing:
        if finding.patch is not None:
            counts = per_patch.setdefault(finding.patch, {})
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
    cells = {number: ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) for number, counts in per_patch.items()}
    counts = report.counts()
    failed = report.fails_at(fail_on)
    note = (
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info over "
        f"{len(report.states)} states ({counts['pre-existing']} pre-existing, {counts['suppressed']} suppressed)"
        + (" (FAILED)" if failed else "")
        + f"; {results / 'lint.txt'}"
    )
    return LintOutcome(True, note, failed, cells, report.to_json_data())


def summary_table(
    states: list[State],
    series: Series,
    lint: LintOutcome,
    build: BuildReport | None,
    booter: BootRun | None,
    booting: bool,
) -> Iterable[str]:
    configs = build.configs if build is not None else []
    boot_configs = [c.name for c in series.configs if c.boot.enabled and c.name in configs] if booting else []
    headers = ["state", "lint", *(f"build:{c}" for c in configs), *(f"boot:{c}" for c in boot_configs), "subject"]
    rows: list[list[str]] = []
    for state in states:
        row = [state.label]
        if not lint.ran:
            row.append("-")
        elif state.patch_number is None:
            row.append("")
        else:
            row.append(lint.per_patch.get(state.patch_number, "ok"))
        for config in configs:
            result = build.result(config, state.index) if build is not None else None
            if result is None:
                row.append("-")
            elif result.status == "ok":
                row.append(f"ok +{len(result.new_warnings)}w" if result.new_warnings else "ok")
            else:
                row.append("FAIL")
        for config in boot_configs:
            boots = booter.boots if booter is not None else []
            boot = next((b for b in boots if b.config == config and b.state == state.label), None)
            row.append("" if boot is None else ("ok" if boot.ok else "FAIL"))
        row.append(state.subject[:60])
        rows.append(row)
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))]
    yield "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    for row in rows:
        yield "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()


def exit_code(lint: LintOutcome, build: BuildReport | None, booter: BootRun | None) -> tuple[int, str]:
    if build is not None and build.first_failure is not None:
        failure = build.first_failure
        return int(ExitCode.BUILD), f"FAILED: {failure.state.label} does not build (config {failure.config})"
    if booter is not None and booter.first_failure is not None:
        bad = booter.first_failure
        return int(ExitCode.BOOT), f"FAILED: config {bad.config} at {bad.state} did not boot ({bad.reason})"
    if lint.failed:
        return int(ExitCode.FINDINGS), f"FAILED: lint ({lint.note})"
    return int(ExitCode.OK), "passed"


def explain(build: BuildReport | None, booter: BootRun | None) -> None:
    """Repeat the first build and boot failure at the end, where the eye lands."""
    if build is not None and build.first_failure is not None:
        failure = build.first_failure
        subject = f" ({failure.state.subject})" if failure.state.subject else ""
        click.echo(f"first failing state: {failure.state.label}{subject}, config {failure.config}:")
        for line in failure.excerpt.splitlines():
            click.echo(f"  | {line}")
        click.echo(f"  log: {failure.log}")
    if booter is not None and booter.first_failure is not None:
        bad = booter.first_failure
        click.echo(f"boot failure: config {bad.config} at {bad.state}: {bad.reason}")
        for line in bad.excerpt.splitlines():
            click.echo(f"  | {line}")
        click.echo(f"  console: {bad.console}")
