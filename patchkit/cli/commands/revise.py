"""revise: record the current revision as posted and start the next one."""

from __future__ import annotations

import click

from patchkit.cli.commands import notify
from patchkit.cli.options import ReviseOptions
from patchkit.cli.target import changing_series
from patchkit.mail.revision import revise
from patchkit.series.load import SERIES_FILE


def run(options: ReviseOptions) -> int:
    with changing_series(options.series) as series:  # read under the lock: another process may have changed it
        revised = revise(series)
    for note in revised.notes:
        notify(note)
    old = revised.record
    click.echo(f"{series.directory}: v{old.revision} recorded in {old.snapshot} (cover {old.cover_message_id})")
    click.echo(
        f"now v{revised.series.revision}: say what changed in {series.directory / SERIES_FILE} "
        f"(changelog, revision {revised.series.revision}; format refuses it empty), then apply and format"
    )
    return 0
