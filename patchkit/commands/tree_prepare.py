from __future__ import annotations

import time
from pathlib import Path

import click

from patchkit import basetree
from patchkit.series.load import find_series, load_series


def run(series_arg: str | None, package: str | None) -> int:
    expected_tree = expected_version = None
    if package is None:
        series = load_series(find_series(Path.cwd(), series_arg), check_files=False)
        package, expected_tree, expected_version = series.base.package, series.base.tree, series.base.version
    started = time.monotonic()
    prepared = basetree.prepare(package, expected_tree=expected_tree, expected_version=expected_version)
    verb = "prepared" if prepared.created else "already prepared"
    click.echo(
        f"{prepared.path}: {verb} ({package}, base {prepared.base_commit[:12]}, "
        f"tree {prepared.base_tree[:12]}) in {time.monotonic() - started:.1f}s"
    )
    return 0
