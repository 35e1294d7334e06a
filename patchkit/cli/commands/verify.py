"""verify: data, branch, lint, build and boot in one run, one summary table, one exit code.

Exit code: 5 when a build failed, else 6 when a boot failed, else 1 when the
branch does not match the data, lint found errors or a ``depends:`` prerequisite
is not below the base (:mod:`patchkit.verify.prerequisites`), else 0. Invalid data
stops at once with 3 (raised while loading).

``--format json`` prints report.json on stdout (its schema: ``patchkit/verify/report-schema.json``) and
everything else verify shows (the table, progress, GitHub annotations) on stderr.

``--config NAME`` and ``--states A..B`` make a partial run (one job of a CI matrix); its report.json
says what it covered, and ``patchkit ci merge`` joins such reports into the table and exit code a
single run gives. The run itself is :func:`patchkit.verify.stages.run_stages`; what is shown and the exit
code follow from its :class:`patchkit.verify.report.VerifyReport` alone, built once per run.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from patchkit.apply.record import read_record
from patchkit.apply.states import check_applied, to_match_the_data
from patchkit.cli.commands import verdict_exit
from patchkit.cli.options import VerifyOptions
from patchkit.cli.target import open_target
from patchkit.github import actions
from patchkit.github.locate import Locator
from patchkit.kbuild.walk import BuildReport, select_configs
from patchkit.series.model import Series
from patchkit.util import atomic, tools
from patchkit.verify import build_findings as build_sarif
from patchkit.verify import prerequisites
from patchkit.verify.plan import LintPlan, plan
from patchkit.verify.record import record_verify, verdicts_of
from patchkit.verify.report import (
    BranchCheck,
    DependsCheck,
    SeriesConfig,
    VerifyReport,
    depends_summary,
    explanation,
    markdown,
    text_table,
)
from patchkit.verify.results import new_results_dir, write_report
from patchkit.verify.stages import LINT_SKIPPED, LintOutcome, report_of, run_stages


def run(options: VerifyOptions) -> int:
    """verify; with ``--format json`` everything it shows goes to stderr and stdout holds report.json alone."""
    if options.fmt == "json":
        with contextlib.redirect_stdout(sys.stderr):
            report, results = verify(options)
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        report, results = verify(options)
    return verdict_exit(report.verdict.code, f"{report.verdict.text.removeprefix('FAILED: ')} (results in {results})")


def verify(options: VerifyOptions) -> tuple[VerifyReport, Path]:
    """Run verify as ``options`` say, showing what it does; its report (written to report.json) and results."""
    target = open_target(options.series, options.tree)
    series, tree = target.series, target.tree
    configs = select_configs(series, options.config_names) if options.build else []
    if options.build:
        tools.require(tools.BUILD + (tools.BOOT if options.boot else ()))
    results = new_results_dir(series.name, options.results_dir)
    click.echo(f"results: {results}")
    overlays = len(series.overlay_patches)
    click.echo(
        f"data:    ok ({len(series.mailed_patches)} patches, {overlays} overlay, "
        f"{len(series.configs)} config(s): {', '.join(c.name for c in series.configs) or 'none'})"
    )
    applied = check_applied(tree, series)
    click.echo(f"branch:  {applied.branch.branch}: {applied.branch.detail}")
    report = VerifyReport(
        series.name, series.revision, BranchCheck.of(applied.branch),
        tuple(SeriesConfig(c.name, c.boot.enabled) for c in series.configs), results=str(results),
    )  # fmt: skip
    record = applied.record
    if record is None:
        advice = to_match_the_data(tree, read_record(tree, series.name), series.directory)
        click.echo(f"lint, build and boot skipped: the branch does not match the data; {advice}")
        finish(report, results)  # exit 1: a branch that does not match the data is a finding
        return report, results

    checks = prerequisites.check(tree, series, record.base)
    report = replace(report, depends=tuple(DependsCheck.of(check) for check in checks))
    summary = depends_summary(report)
    if summary is not None:
        click.echo(f"depends: {summary}")
    lint_plan = (
        LintPlan(options.checkpatch, options.source_root, options.fail_on, options.fresh) if options.lint else None
    )
    planned = plan(
        applied.states, configs, lint=lint_plan, build=options.build, boot=options.boot,
        states_range=options.states_range, keep_going=options.keep_going, jobs=options.jobs, fresh=options.fresh,
        accel=options.accel, timeout=options.timeout, reboot=options.reboot,
    )  # fmt: skip
    if planned.lint is None:
        show_lint(LINT_SKIPPED)
    stages = run_stages(
        tree,
        series,
        record,
        results,
        lint=planned.lint,
        build=planned.build,
        boot=planned.boot,
        on_lint=show_lint,
        warn=lambda text: click.echo(text, err=True),
    )
    if planned.lint is None:
        stages.lint = LINT_SKIPPED
    if stages.build is not None:
        span = planned.scope.states if options.states_range else None
        build_findings(series, stages.build, results, span, options.source_root)
    report = report_of(report, applied.states, planned.scope, stages)

    click.echo("")
    for line in text_table(report):
        click.echo(line)
    click.echo("")
    for line in explanation(report):
        click.echo(line)
    code = finish(report, results)
    if not options.config_names and not options.states_range:
        # Only a whole run vouches for a revision: what 'patchkit send' checks before mailing it.
        lint, verdicts = verdicts_of(series, report)
        record_verify(tree, series, record, lint=lint, configs=verdicts, passed=code == 0)
    return report, results


def show_lint(outcome: LintOutcome) -> None:
    if outcome.annotations:
        click.echo(outcome.annotations, nl=False)  # annotations on the workflow run
    click.echo(f"lint:    {outcome.note}" + (f"; {outcome.where}" if outcome.where else ""))


def finish(report: VerifyReport, results: Path) -> int:
    """report.json, the job summary on GitHub Actions and the verdict line; the exit code."""
    write_report(results, report.to_json())
    actions.add_step_summary(markdown(report))
    click.echo(f"verify: {report.verdict.text}; results in {results}")
    return report.verdict.code


def build_findings(
    series: Series, build: BuildReport, results: Path, span: tuple[int, int] | None, source_root: Path | None
) -> None:
    """New compiler warnings as SARIF per fragment (``build-<config>.sarif``) and, on GitHub, annotations."""
    locator = Locator(series, source_root)
    for config in build.configs:
        builds = [r for r in build.results if r.config == config]
        sarif = build_sarif.to_sarif(locator, config, builds, build_sarif.category(series.name, config, span))
        atomic.write_text(results / f"build-{config}.sarif", json.dumps(sarif, indent=2, ensure_ascii=False) + "\n")
        if actions.in_actions():
            click.echo(build_sarif.to_github(locator, config, builds), nl=False)
