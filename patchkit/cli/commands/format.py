"""format: the applied series as mails, ready for `git send-email` or `patchkit send`."""

from __future__ import annotations

from pathlib import Path

import click

from patchkit.cli.options import FormatOptions
from patchkit.cli.target import open_target
from patchkit.mail.format import format_series


def run(options: FormatOptions) -> int:
    target = open_target(options.series, options.tree)
    series = target.series
    directory = options.output or Path("outgoing") / f"{series.name}-v{series.revision}"
    formatted = format_series(
        target.tree, series, directory, cc_maintainers=options.cc_maintainers, cc_trailers=options.cc_trailers,
        in_reply_to=options.in_reply_to, force=options.force, fail_on=options.fail_on, checkpatch=options.checkpatch,
    )  # fmt: skip
    for path in formatted.files:
        click.echo(str(path))
    for note in formatted.notes:
        click.echo(note)
    if formatted.range_diff_against:
        click.echo(f"range-diff against {formatted.range_diff_against} is in the cover letter")
    click.echo(f"{len(formatted.files) - 1} patches and a cover letter in {directory}; check, then send with:")
    click.echo(f"  git send-email --dry-run {directory}/*.patch")
    return 0
