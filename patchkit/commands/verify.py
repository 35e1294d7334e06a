"""verify: data, branch, lint, build and boot in one run, one summary table, one exit code.

Exit code: 5 when a build failed, else 6 when a boot failed, else 1 when the
branch does not match the data or lint found errors, else 0. Invalid data
stops at once with 3 (raised while loading).

``--config NAME`` and ``--states A..B`` make a partial run (one job of a CI matrix); its report.json
says what it covered, and ``patchkit ci merge`` joins such reports into the table and exit code a
single run gives. The table and the verdict are computed from the report data
(:mod:`patchkit.verify_report`) either way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from patchkit import atomic, doctor, verify_report
from patchkit.applied import AppliedSeries, read_record
from patchkit.boot.run import BootRun
from patchkit.build.walk import BuildReport, State, build_states, select_configs, series_states
from patchkit.build.worktree import WorkTree
from patchkit.ci import build_findings as build_sarif
from patchkit.ci import github
from patchkit.ci.locate import Locator
from patchkit.errors import UsageError
from patchkit.gitrepo import KernelTree
from patchkit.lint import lint_series
from patchkit.lint.output import render, sarif_category
from patchkit.mail.verified import record_verify
from patchkit.matching import compare_branch
from patchkit.progress import Progress
from patchkit.results import new_results_dir, write_report
from patchkit.series.model import Series
from patchkit.target import open_target
from patchkit.verdicts import VerdictCache

FAIL_LINT_AT = "error"  # default of --fail-on: warnings and info are shown, not failing


@dataclass
class LintOutcome:
    ran: bool
    note: str = ""  # why it did not run, or the one-line summary
    failed: bool = False
    per_patch: dict[int, str] = field(default_factory=dict)  # patch number -> cell text
    data: dict[str, Any] | None = None
    where: str = ""  # the text report's path

    def to_json_data(self) -> dict[str, Any]:
        return {"ran": self.ran, "failed": self.failed, "summary": self.note,
                "per_patch": {str(n): cell for n, cell in sorted(self.per_patch.items())}}  # fmt: skip


def parse_states(text: str, states: list[State]) -> tuple[int, int]:
    """``A..B`` (or one state) as first and last state index; a state is base, a patch number, overlay or end."""
    last = states[-1].index
    names = {"base": 0, "end": last, **({"overlay": last} if states[-1].label == "overlay" else {})}

    def one(token: str) -> int:
        token = token.strip().lower()
        if token in names:
            return names[token]
        if token.isdigit() and int(token) <= last:
            return int(token)
        raise UsageError(f"--states: '{token}' is not a state of this series (base, 1..{last}, overlay or end)")

    m = re.fullmatch(r"\s*([^.]+?)\s*(?:\.\.\s*([^.]+?)\s*)?", text)
    if m is None:
        raise UsageError(f"--states: '{text}' is not A..B")
    first = one(m.group(1))
    end = one(m.group(2)) if m.group(2) is not None else first
    if end < first:
        raise UsageError(f"--states: '{text}' ends before it starts")
    return first, end


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
    config_names: tuple[str, ...] = (),
    states_range: str | None = None,
    checkpatch: bool = True,
    source_root: Path | None = None,
    fail_on: str = FAIL_LINT_AT,
    fresh: bool = False,
    reboot: bool = False,
) -> int:
    target = open_target(series_arg, tree_arg)
    series, tree = target.series, target.tree
    configs = select_configs(series, config_names) if build else []
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
        "configs": [{"name": c.name, "boot": c.boot.enabled} for c in series.configs],
    }
    if record is None:
        click.echo("lint, build and boot skipped: the branch does not match the data (run 'patchkit apply --force')")
        return finish(report, results)

    states = series_states(series, record)
    first, last = parse_states(states_range, states) if states_range else (0, states[-1].index)
    report["states"] = [
        {"index": s.index, "label": s.label, "subject": s.subject, "patch": s.patch_number, "commit": s.commit}
        for s in states
    ]
    report["scope"] = {
        "lint": lint, "build": build, "boot": boot and build, "configs": [c.name for c in configs],
        "states": [first, last], "keep_going": keep_going,
    }  # fmt: skip
    lint_outcome = (
        run_lint(
            tree,
            series,
            record,
            results,
            checkpatch=checkpatch,
            source_root=source_root,
            fail_on=fail_on,
            cache=VerdictCache(enabled=not fresh, warn=lambda text: click.echo(text, err=True)),
        )
        if lint
        else LintOutcome(False, "skipped (--no-lint)")
    )
    click.echo(f"lint:    {lint_outcome.note}" + (f"; {lint_outcome.where}" if lint_outcome.where else ""))
    report["lint_summary"] = lint_outcome.to_json_data()
    if lint_outcome.data is not None:
        report["lint"] = lint_outcome.data

    build_report: BuildReport | None = None
    booter: BootRun | None = None
    if build:
        # A range starts from the state before it (warm from ccache), so each patch of the range is an
        # incremental build and its new warnings are blamed as in a full run. That warm-up build is in this
        # run's table and report (a failure there fails this run too); 'ci merge' takes only the range.
        wanted = [s for s in states if max(first - 1, 0) <= s.index <= last]
        work = WorkTree(tree, series.name)
        with work.locked(), Progress() as progress:
            cache = VerdictCache(enabled=not fresh, warn=progress.note)
            booter = BootRun(
                configs=configs, results=results,
                boot_states={states[-1].index} if boot and last == states[-1].index else set(),
                end_state=states[-1].index, accel_request=accel, timeout=timeout, progress=progress,
                cache=cache, reboot=reboot,
            )  # fmt: skip
            build_report = build_states(
                tree, series, record, configs, results, states=wanted, keep_going=keep_going, jobs=jobs,
                progress=progress, work=work, after_state=booter.after_state, cache=cache,
            )  # fmt: skip
        report["build"] = build_report.to_json_data()
        report["boot"] = booter.to_json_data()
        span = (first, last) if states_range else None
        build_findings(series, build_report, results, span, source_root)

    click.echo("")
    for line in verify_report.text_table(report):
        click.echo(line)
    click.echo("")
    explain(build_report, booter)
    code = finish(report, results)
    if not config_names and not states_range:
        # Only a whole run vouches for a revision: what 'patchkit send' checks before mailing it.
        record_verify(tree, series, record, code, {"lint": lint, "build": build, "boot": build and boot})
    return code


def finish(report: dict[str, Any], results: Path) -> int:
    """Verdict and exit code from the report data; report.json; the job summary on GitHub Actions."""
    code, verdict = verify_report.verdict(report)
    report["verdict"] = verdict
    report["exit_code"] = code
    write_report(results, report)
    github.add_step_summary(verify_report.markdown(report))
    click.echo(f"verify: {verdict}; results in {results}")
    return code


def run_lint(
    tree: KernelTree,
    series: Series,
    record: AppliedSeries,
    results: Path,
    *,
    checkpatch: bool = True,
    source_root: Path | None = None,
    fail_on: str = FAIL_LINT_AT,
    cache: VerdictCache | None = None,
) -> LintOutcome:
    """Lint every state; text, JSON and SARIF reports go beside the other results (SARIF for code scanning).

    SARIF and the GitHub annotations point at the series files (diff lines, series.yaml lines) relative to
    ``source_root``, so code scanning and pull-request annotations can show them.
    """
    report = lint_series(tree, series, record, checkpatch=checkpatch, cache=cache)
    subjects = {p.number: p.subject for p in record.patches}
    locator = Locator(series, source_root)
    atomic.write_text(results / "lint.txt", render(report, "text", subjects))
    atomic.write_text(results / "lint.json", render(report, "json"))
    atomic.write_text(
        results / "lint.sarif", render(report, "sarif", locator=locator, category=sarif_category(series.name))
    )
    if github.in_actions():
        click.echo(render(report, "github", locator=locator), nl=False)  # annotations on the workflow run
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
        + ("" if report.checkpatch_ran else " (checkpatch not run)")
        + (f" ({report.cached})" if report.cached else "")
    )
    return LintOutcome(True, note, failed, cells, report.to_json_data(), str(results / "lint.txt"))


def build_findings(
    series: Series, build: BuildReport, results: Path, span: tuple[int, int] | None, source_root: Path | None
) -> None:
    """New compiler warnings as SARIF per fragment (``build-<config>.sarif``) and, on GitHub, annotations."""
    locator = Locator(series, source_root)
    for config in build.configs:
        builds = [r for r in build.results if r.config == config]
        sarif = build_sarif.to_sarif(locator, config, builds, build_sarif.category(series.name, config, span))
        atomic.write_text(results / f"build-{config}.sarif", json.dumps(sarif, indent=2, ensure_ascii=False) + "\n")
        if github.in_actions():
            click.echo(build_sarif.to_github(locator, config, builds), nl=False)


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
