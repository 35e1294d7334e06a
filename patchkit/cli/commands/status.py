"""status: the series, its base, the tree, and whether the branch still matches the data."""

from __future__ import annotations

import click

from patchkit.apply.states import compare_branch
from patchkit.cli.options import StatusOptions
from patchkit.cli.target import open_series
from patchkit.errors import ExitCode
from patchkit.tree import basetree, debian
from patchkit.tree.repo import KernelTree


def run(options: StatusOptions) -> int:
    series = open_series(options.series)
    mailed, overlays = len(series.mailed_patches), len(series.overlay_patches)
    click.echo(
        f"series:  {series.name} v{series.revision} in {series.directory} ({mailed} patches, {overlays} overlay)"
    )
    click.echo(f"base:    {series.base.describe()} (kernel {series.base.version}), tree {series.base.tree}")
    installed = debian.installed_version(series.base.package)
    if installed is not None and series.base.package_version and installed != series.base.package_version:
        click.echo(f"         installed {series.base.package} is {installed}: 'patchkit drift' says if it applies")
    if options.tree is None:
        version = series.base.package_version or installed or "?"
        path = basetree.tree_path(series.base.package, version)
        if not (path / ".git").is_dir():
            click.echo(f"tree:    {path} (default; not prepared yet: 'patchkit tree prepare')")
            return ExitCode.FINDINGS  # no branch, so it cannot match the data
        click.echo(f"tree:    {path} (default)")
    else:
        path = options.tree
        click.echo(f"tree:    {path}")
    tree = KernelTree(path)
    state = compare_branch(tree, series)
    where = " (checked out)" if state.checked_out else ""
    tip = f" at {state.tip[:12]}" if state.tip else ""
    click.echo(f"branch:  {state.branch}{tip}{where}")
    click.echo(f"state:   {state.detail}")
    # README: exit 1 is a failed check, and a branch that does not match the data is one.
    return ExitCode.OK if state.matches else ExitCode.FINDINGS
