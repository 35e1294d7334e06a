"""boot: build the series' end (or every state) and boot it in QEMU for each config that boots."""

from __future__ import annotations

import click

from patchkit.apply.record import require_record
from patchkit.apply.states import series_states
from patchkit.cli.options import BootCommandOptions
from patchkit.cli.target import open_target
from patchkit.errors import DataError
from patchkit.kbuild.walk import select_configs
from patchkit.util import tools
from patchkit.verify.plan import BootPlan, BuildPlan
from patchkit.verify.results import new_results_dir, write_report
from patchkit.verify.stages import boot_error, boot_summary, build_error, build_summary, run_stages


def run(options: BootCommandOptions) -> int:
    tools.require(tools.BOOT)
    target = open_target(options.series, options.tree)
    series, tree = target.series, target.tree
    record = require_record(tree, series.name)
    configs = [c for c in select_configs(series, options.config_names) if c.boot.enabled]
    if not configs:
        raise DataError(f"{series.directory}/series.yaml: no config has boot enabled")
    states = series_states(record)
    wanted = states if options.each else [states[-1]]
    results = new_results_dir(series.name, options.results_dir)
    click.echo(f"results: {results}")
    build = BuildPlan(configs, wanted, keep_going=options.each, jobs=options.jobs, fresh=options.fresh)
    # Booting is what was asked for: cached builds are reused (their kept images), boots always run.
    boot = BootPlan(
        frozenset(s.index for s in wanted), states[-1].index, accel=options.accel, timeout=options.timeout,
        cmdline=options.cmdline, reboot=True,
    )  # fmt: skip
    outcome = run_stages(tree, series, record, results, build=build, boot=boot)
    assert outcome.build is not None and outcome.boot is not None
    write_report(
        results,
        {
            "series": series.name,
            "build": outcome.build.to_json_data(results),
            "boot": outcome.boot.to_json_data(results),
        },
    )
    failed_build = build_error(outcome.build)
    if failed_build is not None:
        click.echo(build_summary(outcome.build, results))
        raise failed_build
    click.echo(boot_summary(outcome.boot, results))
    failed_boot = boot_error(outcome.boot)
    if failed_boot is not None:
        raise failed_boot
    return 0
