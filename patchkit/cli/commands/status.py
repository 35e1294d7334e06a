"""status: the series, its base, the tree, and whether the branch still matches the data."""

from __future__ import annotations

import json

import click

from patchkit.apply.status import SeriesStatus, series_status
from patchkit.cli.options import StatusOptions
from patchkit.cli.target import open_series


def run(options: StatusOptions) -> int:
    found = series_status(open_series(options.series), options.tree)
    if options.fmt == "json":
        click.echo(json.dumps(found.to_json(), indent=2))
    else:
        show(found)
    # README: exit 1 is a failed check, and a branch that does not match the data (or none) is one.
    return found.exit_code


def show(found: SeriesStatus) -> None:
    series = found.series
    mailed, overlays = len(series.mailed_patches), len(series.overlay_patches)
    click.echo(
        f"series:  {series.name} v{series.revision} in {series.directory} ({mailed} patches, {overlays} overlay)"
    )
    click.echo(f"base:    {series.base.describe()} (kernel {series.base.version}), tree {series.base.tree}")
    installed = found.installed
    if installed is not None and series.base.package_version and installed != series.base.package_version:
        click.echo(f"         installed {series.base.package} is {installed}: 'patchkit drift' says if it applies")
    if not found.prepared:
        click.echo(f"tree:    {found.tree} (default; not prepared yet: 'patchkit tree prepare')")
        return
    click.echo(f"tree:    {found.tree}" + (" (default)" if found.default_tree else ""))
    state = found.branch
    assert state is not None  # a prepared tree has its branch checked
    where = " (checked out)" if state.checked_out else ""
    tip = f" at {state.tip[:12]}" if state.tip else ""
    click.echo(f"branch:  {state.branch}{tip}{where}")
    click.echo(f"state:   {state.detail}")
