"""trailers: take Reviewed-by/Acked-by/Tested-by/Reported-by/Suggested-by from replies into the data.

The data is read, changed and written under the series lock, so a trailers run at the same time as
another (or as ``revise`` or ``send``) waits for it and then adds to what it wrote: nothing is lost.
"""

from __future__ import annotations

import click

from patchkit.cli.options import TrailersOptions
from patchkit.cli.target import changing_series
from patchkit.mail.trailers import collect
from patchkit.series.dump import series_yaml
from patchkit.series.load import SERIES_FILE
from patchkit.util import atomic
from patchkit.util.signals import deferred_interrupts


def run(options: TrailersOptions) -> int:
    with changing_series(options.series) as series:
        outcome = collect(series, options.mbox, sloppy=options.sloppy)
        if outcome.added and not options.dry_run:
            with deferred_interrupts():
                atomic.write_text(series.directory / SERIES_FILE, series_yaml(outcome.series))
    for line in outcome.added:
        click.echo(f"added: {line}")
    for line in outcome.skipped:
        click.echo(f"skipped: {line}")
    what = "would be added (--dry-run)" if options.dry_run else "added"
    summary = f"{len(outcome.added)} trailer(s) {what}, {len(outcome.skipped)} skipped"
    if outcome.added and not options.dry_run:
        summary += f"; written to {series.directory / SERIES_FILE}: apply again to carry them onto the branch"
    click.echo(summary)
    return 0
