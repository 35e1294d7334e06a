from __future__ import annotations

from pathlib import Path

import click

from patchkit.applied import require_record
from patchkit.errors import BuildError
from patchkit.kbuild.walk import BuildReport, build_states, select_configs
from patchkit.kbuild.worktree import WorkTree
from patchkit.progress import Progress
from patchkit.results import new_results_dir, write_report
from patchkit.target import open_target
from patchkit.verdicts import VerdictCache


def run(
    series_arg: str | None,
    tree_arg: Path | None,
    config_names: tuple[str, ...],
    keep_going: bool,
    jobs: int | None,
    results_arg: Path | None,
    fresh: bool = False,
) -> int:
    target = open_target(series_arg, tree_arg)
    series, tree = target.series, target.tree
    record = require_record(tree, series.name)
    configs = select_configs(series, config_names)
    results = new_results_dir(series.name, results_arg)
    click.echo(f"results: {results}")
    work = WorkTree(tree, series.name)
    with work.locked(), Progress() as progress:
        cache = VerdictCache(enabled=not fresh, warn=progress.note)
        report = build_states(
            tree, series, record, configs, results, keep_going=keep_going, jobs=jobs, progress=progress, work=work,
            cache=cache,
        )  # fmt: skip
    write_report(results, {"series": series.name, "build": report.to_json_data()})
    return finish(report, results)


def finish(report: BuildReport, results: Path) -> int:
    failure = report.first_failure
    built = sum(1 for r in report.results if r.status == "ok")
    warnings = sum(len(r.new_warnings) for r in report.results)
    click.echo(f"{built} of {len(report.results)} builds passed, {warnings} new warning(s); results in {results}")
    if failure is not None:
        subject = f" ({failure.state.subject})" if failure.state.subject else ""
        raise BuildError(
            f"{failure.state.label}{subject} is the first that does not build (config {failure.config}): "
            f"{failure.error}; log: {failure.log}"
        )
    return 0
