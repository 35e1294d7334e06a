from __future__ import annotations

from pathlib import Path

import click

from patchkit import doctor
from patchkit.applied import require_record
from patchkit.boot.run import BootRun
from patchkit.commands.build import finish as finish_build
from patchkit.errors import BootError, DataError
from patchkit.kbuild.walk import build_states, select_configs, series_states
from patchkit.kbuild.worktree import WorkTree
from patchkit.progress import Progress
from patchkit.results import new_results_dir, write_report
from patchkit.target import open_target
from patchkit.verdicts import VerdictCache


def run(
    series_arg: str | None,
    tree_arg: Path | None,
    config_names: tuple[str, ...],
    each: bool,
    timeout: float,
    accel: str,
    cmdline: str,
    jobs: int | None,
    results_arg: Path | None,
    fresh: bool = False,
) -> int:
    doctor.require(doctor.BOOT)
    target = open_target(series_arg, tree_arg)
    series, tree = target.series, target.tree
    record = require_record(tree, series.name)
    configs = [c for c in select_configs(series, config_names) if c.boot.enabled]
    if not configs:
        raise DataError(f"{series.directory}/series.yaml: no config has boot enabled")
    states = series_states(series, record)
    wanted = states if each else [states[-1]]
    results = new_results_dir(series.name, results_arg)
    click.echo(f"results: {results}")
    work = WorkTree(tree, series.name)
    with work.locked(), Progress() as progress:
        cache = VerdictCache(enabled=not fresh, warn=progress.note)
        # Booting is what was asked for: cached builds are reused (their kept images), boots always run.
        booter = BootRun(
            configs=configs, results=results, boot_states={s.index for s in wanted}, end_state=states[-1].index,
            accel_request=accel, timeout=timeout, progress=progress, extra_cmdline=cmdline, cache=cache, reboot=True,
        )  # fmt: skip
        report = build_states(
            tree, series, record, configs, results, states=wanted, keep_going=each, jobs=jobs,
            progress=progress, work=work, after_state=booter.after_state, cache=cache,
        )  # fmt: skip
    write_report(results, {"series": series.name, "build": report.to_json_data(), "boot": booter.to_json_data()})
    failure = booter.first_failure
    if report.first_failure is not None:
        finish_build(report, results)
    passed = sum(1 for b in booter.boots if b.ok)
    click.echo(f"{passed} of {len(booter.boots)} boots passed; results in {results}")
    if failure is not None:
        raise BootError(
            f"config {failure.config} at {failure.state} did not boot: {failure.reason}; console: {failure.console}"
        )
    return 0
