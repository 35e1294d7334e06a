"""verify: data, branch, lint, build and boot in one run, one summary table, one exit code.

Exit code: 5 when a build failed, else 6 when a boot failed, else 1 when the
branch does not match the data or lint found errors, else 0. Invalid data
stops at once with 3 (raised while loading).

``--config NAME`` and ``--states A..B`` make a partial run (one job of a CI matrix); its report.json
says what it covered, and ``patchkit ci merge`` joins such reports into the table and exit code a
single run gives. The run itself is :func:`patchkit.verify.stages.run_stages`; what is shown and the exit
code follow from its :class:`patchkit.verify.plan.VerifyResult` alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from patchkit.apply.states import check_applied
from patchkit.cli.commands import verdict_exit
from patchkit.cli.requests import VerifyRequest
from patchkit.cli.target import open_target
from patchkit.github import actions
from patchkit.github.locate import Locator
from patchkit.kbuild.walk import BuildReport, select_configs
from patchkit.series.model import Series
from patchkit.util import atomic, tools
from patchkit.verify import build_findings as build_sarif
from patchkit.verify import plan as verifying
from patchkit.verify import report as verify_report
from patchkit.verify.plan import VerifyResult
from patchkit.verify.record import record_verify, verdicts_of
from patchkit.verify.results import new_results_dir, write_report
from patchkit.verify.stages import LintOutcome, LintPlan, run_stages


def run(request: VerifyRequest) -> int:
    target = open_target(request.series, request.tree)
    series, tree = target.series, target.tree
    configs = select_configs(series, request.config_names) if request.build else []
    if request.build:
        tools.require(tools.BUILD + (tools.BOOT if request.boot else ()))
    results = new_results_dir(series.name, request.results_dir)
    click.echo(f"results: {results}")
    overlays = len(series.overlay_patches)
    click.echo(
        f"data:    ok ({len(series.mailed_patches)} patches, {overlays} overlay, "
        f"{len(series.configs)} config(s): {', '.join(c.name for c in series.configs) or 'none'})"
    )
    applied = check_applied(tree, series)
    click.echo(f"branch:  {applied.branch.branch}: {applied.branch.detail}")
    result = VerifyResult(
        series.name, series.revision, results, applied.branch, [(c.name, c.boot.enabled) for c in series.configs]
    )
    record = applied.record
    if record is None:
        click.echo("lint, build and boot skipped: the branch does not match the data (run 'patchkit apply --force')")
        return finish(result)  # exit 1: a branch that does not match the data is a finding

    result.states = applied.states
    lint_plan = (
        LintPlan(request.checkpatch, request.source_root, request.fail_on, request.fresh) if request.lint else None
    )
    planned = verifying.plan(
        result.states, configs, lint=lint_plan, build=request.build, boot=request.boot,
        states_range=request.states_range, keep_going=request.keep_going, jobs=request.jobs, fresh=request.fresh,
        accel=request.accel, timeout=request.timeout, reboot=request.reboot,
    )  # fmt: skip
    result.scope = planned.scope
    if planned.lint is None:
        show_lint(verifying.LINT_SKIPPED)
    result.stages = run_stages(
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
        result.stages.lint = verifying.LINT_SKIPPED
    if result.stages.build is not None:
        span = planned.scope.states if request.states_range else None
        build_findings(series, result.stages.build, results, span, request.source_root)

    click.echo("")
    for line in verifying.table(result):
        click.echo(line)
    click.echo("")
    for line in verifying.explanation(result.stages):
        click.echo(line)
    code = finish(result)
    if not request.config_names and not request.states_range:
        # Only a whole run vouches for a revision: what 'patchkit send' checks before mailing it.
        lint, verdicts = verdicts_of(series, result.report())
        record_verify(tree, series, record, lint=lint, configs=verdicts, passed=code == 0)
    return verdict_exit(code, f"{verifying.verdict(result)[1].removeprefix('FAILED: ')} (results in {results})")


def show_lint(outcome: LintOutcome) -> None:
    if outcome.annotations:
        click.echo(outcome.annotations, nl=False)  # annotations on the workflow run
    click.echo(f"lint:    {outcome.note}" + (f"; {outcome.where}" if outcome.where else ""))


def finish(result: VerifyResult) -> int:
    """Verdict and exit code from the result; report.json; the job summary on GitHub Actions."""
    report = result.report()
    code, verdict = verify_report.verdict(report)
    report["verdict"] = verdict
    report["exit_code"] = code
    write_report(result.results, report)
    actions.add_step_summary(verify_report.markdown(report))
    click.echo(f"verify: {verdict}; results in {result.results}")
    return code


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
