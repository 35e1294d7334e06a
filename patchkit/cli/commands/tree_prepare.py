"""tree prepare: make the default tree of the series' exact base (or of a package version)."""

from __future__ import annotations

import time

import click

from patchkit.cli.options import TreePrepareOptions
from patchkit.cli.target import open_series
from patchkit.errors import UsageError
from patchkit.tree import basetree
from patchkit.util.progress import Progress


def run(options: TreePrepareOptions) -> int:
    started = time.monotonic()
    with Progress() as progress:
        if options.package is None:
            if options.package_version is not None:
                raise UsageError("--version goes with --package (a series names its own base)")
            series = open_series(options.series, check_files=False)  # only its base is needed
            prepared = basetree.prepare_base(series, progress)
        else:
            prepared = basetree.prepare(options.package, options.package_version, progress=progress)
    verb = "prepared" if prepared.created else "already prepared"
    click.echo(
        f"{prepared.path}: {verb} ({prepared.package} {prepared.package_version}, kernel {prepared.version}, "
        f"base {prepared.base_commit[:12]}, tree {prepared.base_tree[:12]}) in {time.monotonic() - started:.1f}s"
    )
    return 0
