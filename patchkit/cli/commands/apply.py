"""apply: put the series on a tree as branch patchkit/<name>/v<N>, all or nothing."""

from __future__ import annotations

import time

import click

from patchkit.apply.engine import apply_series
from patchkit.cli.commands import notify
from patchkit.cli.options import ApplyOptions
from patchkit.cli.target import open_target


def run(options: ApplyOptions) -> int:
    started = time.monotonic()
    target = open_target(options.series, options.tree)
    result = apply_series(
        target.tree,
        target.series,
        force=options.force,
        base=options.base,
        notify=notify,
    )
    record = result.record
    for patch in record.patches:
        click.echo(f"  {patch.number:2d} {patch.commit[:12]} {patch.subject}")
    for patch in record.overlays:
        click.echo(f"  {patch.number:2d} {patch.commit[:12]} {patch.subject} (overlay, not on the branch)")
    moved = f" (moved from {result.moved_from[:12]})" if result.moved_from else ""
    click.echo(
        f"{target.tree.path}: {record.branch} at {record.tip[:12]}{moved}: "
        f"{len(record.patches)} patches on base {record.base[:12]} in {time.monotonic() - started:.1f}s"
    )
    return 0
