"""The stage runner build, boot and verify share: lint, then build every wanted state, booting as it goes.

The caller says what to run (a plan per stage) and gets a typed result back;
printing the result and turning it into an exit code is the commands' part.
Build and boot run in the series' work tree, under its lock, with the verdict
cache (builds and boots whose inputs were judged before are not run again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from patchkit.apply.record import AppliedSeries
from patchkit.apply.states import State
from patchkit.boot.qemu import BootResult
from patchkit.boot.run import BootReport, BootRun
from patchkit.errors import BootError, BuildError
from patchkit.github import actions
from patchkit.github.locate import Locator
from patchkit.kbuild.walk import BuildReport, StateBuild, build_states
from patchkit.kbuild.worktree import WorkTree
from patchkit.lint.engine import lint_series
from patchkit.lint.output import render, sarif_category
from patchkit.series.model import Series
from patchkit.tree.repo import KernelTree
from patchkit.util import atomic, paths
from patchkit.util.progress import Progress
from patchkit.util.store import VerdictCache
from patchkit.verify.plan import BootPlan, BuildPlan, LintPlan
from patchkit.verify.report import (
    BootCell,
    BootSection,
    BuildCell,
    BuildSection,
    LintSummary,
    Scope,
    VerifyReport,
)


@dataclass(frozen=True)
class LintOutcome:
    ran: bool
    note: str = ""  # why it did not run, or the one-line summary
    failed: bool = False
    per_patch: dict[int, str] = field(default_factory=dict)  # patch number -> cell text
    data: dict[str, Any] | None = None
    where: str = ""  # the text report's path
    annotations: str = ""  # GitHub workflow commands, when running there

    def summary(self) -> LintSummary:
        """What the report keeps of it (the findings themselves are ``data``)."""
        return LintSummary(self.ran, self.failed, self.note, dict(self.per_patch))


LINT_SKIPPED = LintOutcome(False, "skipped (--no-lint)")


@dataclass
class StagesResult:
    lint: LintOutcome = field(default_factory=lambda: LintOutcome(False, "not run"))
    build: BuildReport | None = None
    boot: BootReport | None = None


def report_of(base: VerifyReport, states: list[State], scope: Scope, stages: StagesResult) -> VerifyReport:
    """The report of a run: ``base`` (series, branch, configs) with the states, what ran, and what it found."""
    build = boot = None
    root = Path(base.results) if base.results is not None else Path.cwd()  # the paths in it: relative to it
    if stages.build is not None:
        results = tuple(_build_cell(r, root) for r in stages.build.results)
        build = BuildSection(tuple(stages.build.configs), results, stages.build.ccache)
    if stages.boot is not None:
        accel = stages.boot.accel
        boots = tuple(_boot_cell(b, root) for b in stages.boot.boots)
        boot = BootSection(boots, accel.accel if accel else None, accel.why if accel else None)
    return replace(
        base, states=tuple(states), scope=scope, lint_summary=stages.lint.summary(), lint=stages.lint.data,
        build=build, boot=boot,
    )  # fmt: skip


def _build_cell(build: StateBuild, results: Path) -> BuildCell:
    return BuildCell(
        build.config, build.state.label, build.state.commit, build.status, build.seconds,
        paths.relative_within(build.log, results), tuple(w.describe() for w in build.new_warnings), build.error,
        build.excerpt, build.reconfigured, build.cached or None,
    )  # fmt: skip


def _boot_cell(boot: BootResult, results: Path) -> BootCell:
    return BootCell(
        boot.config, boot.state, boot.ok, boot.reason, paths.relative_within(boot.console, results), boot.accel,
        boot.excerpt, boot.seconds, boot.cmdline, boot.cached or None,
    )  # fmt: skip


def run_stages(
    tree: KernelTree,
    series: Series,
    record: AppliedSeries,
    results: Path,
    *,
    lint: LintPlan | None = None,
    build: BuildPlan | None = None,
    boot: BootPlan | None = None,
    on_lint: Callable[[LintOutcome], None] = lambda _outcome: None,
    warn: Callable[[str], None] = lambda _text: None,
) -> StagesResult:
    """Run the planned stages (a boot plan needs a build plan: boots happen between builds)."""
    outcome = StagesResult()
    if lint is not None:
        outcome.lint = lint_stage(tree, series, record, results, lint, warn=warn)
        on_lint(outcome.lint)
    if build is None:
        return outcome
    work = WorkTree(tree, series.name)
    with work.locked(), Progress() as progress:
        cache = VerdictCache(enabled=not build.fresh, warn=progress.note)
        booter = None
        if boot is not None:
            booter = BootRun(
                configs=build.configs, results=results, boot_states=set(boot.states), end_state=boot.end_state,
                accel_request=boot.accel, timeout=boot.timeout, progress=progress, extra_cmdline=boot.cmdline,
                cache=cache, reboot=boot.reboot,
            )  # fmt: skip
        outcome.build = build_states(
            tree, series, record, build.configs, results, states=build.states, keep_going=build.keep_going,
            jobs=build.jobs, progress=progress, work=work, cache=cache,
            after_state=booter.after_state if booter is not None else None,
        )  # fmt: skip
    outcome.boot = booter.report if booter is not None else None
    return outcome


def lint_stage(
    tree: KernelTree,
    series: Series,
    record: AppliedSeries,
    results: Path,
    plan: LintPlan | None = None,
    *,
    warn: Callable[[str], None] = lambda _text: None,
) -> LintOutcome:
    """Lint every state; text, JSON and SARIF reports go beside the other results (SARIF for code scanning).

    SARIF and the GitHub annotations point at the series files (diff lines, series.yaml lines) relative to
    ``plan.source_root``, so code scanning and pull-request annotations can show them.
    """
    plan = plan or LintPlan()
    cache = VerdictCache(enabled=not plan.fresh, warn=warn)  # warn: e.g. a corrupt entry ignored
    report = lint_series(tree, series, record, checkpatch=plan.checkpatch, cache=cache)
    subjects = {p.number: p.subject for p in record.patches}
    locator = Locator(series, plan.source_root)
    atomic.write_text(results / "lint.txt", render(report, "text", subjects))
    atomic.write_text(results / "lint.json", render(report, "json"))
    atomic.write_text(
        results / "lint.sarif", render(report, "sarif", locator=locator, category=sarif_category(series.name))
    )
    annotations = render(report, "github", locator=locator) if actions.in_actions() else ""
    # Only patches with findings get a cell of their own; the table shows "ok" for the others.
    cells = {n: cell for n, cell in report.summary_by_patch(len(record.patches)).items() if cell != "clean"}
    counts = report.counts()
    failed = report.fails_at(plan.fail_on)
    note = (
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info over "
        f"{len(report.states)} states ({counts['pre-existing']} pre-existing, {counts['suppressed']} suppressed)"
        + (" (FAILED)" if failed else "")
        + ("" if report.checkpatch_ran else " (checkpatch not run)")
        + (f" ({report.cached})" if report.cached else "")
    )
    return LintOutcome(
        True, note, failed, cells, report.to_json_data(), str(results / "lint.txt"), annotations=annotations
    )


def build_summary(report: BuildReport, results: Path) -> str:
    built = sum(1 for r in report.results if r.status == "ok")
    warnings = sum(len(r.new_warnings) for r in report.results)
    return f"{built} of {len(report.results)} builds passed, {warnings} new warning(s); results in {results}"


def build_error(report: BuildReport) -> BuildError | None:
    """The error naming the first state that does not build, when one does not."""
    failure = report.first_failure
    if failure is None:
        return None
    subject = f" ({failure.state.subject})" if failure.state.subject else ""
    return BuildError(
        f"{failure.state.label}{subject} is the first that does not build (config {failure.config}): "
        f"{failure.error}; log: {failure.log}"
    )


def boot_summary(report: BootReport, results: Path) -> str:
    passed = sum(1 for b in report.boots if b.ok)
    return f"{passed} of {len(report.boots)} boots passed; results in {results}"


def boot_error(report: BootReport) -> BootError | None:
    failure = report.first_failure
    if failure is None:
        return None
    return BootError(
        f"config {failure.config} at {failure.state} did not boot: {failure.reason}; console: {failure.console}"
    )
