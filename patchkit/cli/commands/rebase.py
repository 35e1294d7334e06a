"""rebase: move the series deliberately onto another version of its base package."""

from __future__ import annotations

import click

from patchkit.apply.rebase import carry, describe_drift, drift_between, rebased_series
from patchkit.cli.options import RebaseOptions
from patchkit.cli.target import changing_series
from patchkit.series.dump import write_series
from patchkit.series.model import Series
from patchkit.tree import basetree
from patchkit.util.progress import Progress


def run(options: RebaseOptions) -> int:
    with changing_series(options.series) as series:  # held to the last write: nothing another command writes is lost
        return _rebase(options, series)


def _rebase(options: RebaseOptions, series: Series) -> int:
    with Progress() as progress:
        old = basetree.prepare_base(series, progress)
        new = basetree.prepare(series.base.package, options.onto, progress=progress)
    click.echo(f"from:    {old.package} {old.package_version} (kernel {old.version}, tree {old.base_tree[:12]})")
    click.echo(f"onto:    {new.package} {new.package_version} (kernel {new.version}, tree {new.base_tree[:12]})")
    if new.base_tree == old.base_tree:
        if series.base == new.base():
            click.echo(f"{series.directory}: already based on {new.package} {new.package_version}; nothing to do")
            return 0
        # Same content under another name (e.g. a file written before package_version existed).
        write_series(rebased_series(series, new), {})
        click.echo(f"{series.directory}: base recorded as {new.package} {new.package_version} (same tree)")
        return 0
    for line in describe_drift(drift_between(series, old, new)):
        click.echo(line)
    carried = carry(series, old, new)  # raises, naming the patch, before anything is written
    diffs = {c.patch.diff: c.diff for c in carried if c.changed}
    write_series(rebased_series(series, new), diffs)
    for item in carried:
        what = "diff rewritten (its context moved)" if item.changed else "unchanged"
        overlay = " (overlay)" if item.patch.overlay else ""
        click.echo(f"  {item.patch.number:2d} {what}: {item.patch.subject}{overlay}")
    click.echo(
        f"{series.directory}: rebased onto {new.package} {new.package_version}; {len(diffs)} diff(s) rewritten, "
        f"changelog for v{series.revision + 1} noted; apply it with 'patchkit apply'"
    )
    return 0
