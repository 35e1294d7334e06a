"""revise: record the current revision as posted and start the next one."""

from __future__ import annotations

import click

from patchkit.cli.options import ReviseOptions
from patchkit.cli.target import open_series
from patchkit.mail.revision import revise
from patchkit.series.load import SERIES_FILE


def run(options: ReviseOptions) -> int:
    series = open_series(options.series)
    revised = revise(series)
    old = revised.revision_record(revised.revision - 1)
    assert old is not None
    click.echo(f"{series.directory}: v{old.revision} recorded in {old.snapshot} (cover {old.cover_message_id})")
    click.echo(
        f"now v{revised.revision}: say what changed in {series.directory / SERIES_FILE} "
        f"(changelog, revision {revised.revision}; format refuses it empty), then apply and format"
    )
    return 0
