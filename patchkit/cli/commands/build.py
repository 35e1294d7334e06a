"""build: every state of the applied series under every kconfig fragment, incrementally."""

from __future__ import annotations

from pathlib import Path

import click

from patchkit.apply.record import require_record
from patchkit.apply.states import series_states
from patchkit.cli.options import BuildCommandOptions
from patchkit.cli.target import open_target
from patchkit.kbuild.walk import BuildReport, select_configs
from patchkit.verify.plan import BuildPlan
from patchkit.verify.results import new_results_dir, write_report
from patchkit.verify.stages import build_error, build_summary, run_stages


def run(options: BuildCommandOptions) -> int:
    target = open_target(options.series, options.tree)
    series, tree = target.series, target.tree
    record = require_record(tree, series.name)
    plan = BuildPlan(
        select_configs(series, options.config_names), series_states(record), keep_going=options.keep_going,
        jobs=options.jobs, fresh=options.fresh,
    )  # fmt: skip
    results = new_results_dir(series.name, options.results_dir)
    click.echo(f"results: {results}")
    report = run_stages(tree, series, record, results, build=plan).build
    assert report is not None
    write_report(results, {"series": series.name, "build": report.to_json_data(results)})
    return finish(report, results)


def finish(report: BuildReport, results: Path) -> int:
    """The summary line; raise BuildError naming the first state that does not build."""
    click.echo(build_summary(report, results))
    error = build_error(report)
    if error is not None:
        raise error
    return 0
