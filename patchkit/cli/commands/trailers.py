"""trailers: take Reviewed-by/Acked-by/Tested-by/Reported-by/Suggested-by from replies into the data."""

from __future__ import annotations

import click

from patchkit.cli.options import TrailersOptions
from patchkit.cli.target import open_series
from patchkit.mail.trailers import collect
from patchkit.series.dump import series_yaml
from patchkit.series.load import SERIES_FILE
from patchkit.util import atomic


def run(options: TrailersOptions) -> int:
    series = open_series(options.series)
    outcome = collect(series, options.mbox, sloppy=options.sloppy)
    for line in outcome.added:
        click.echo(f"added: {line}")
    for line in outcome.skipped:
        click.echo(f"skipped: {line}")
    if outcome.added and not options.dry_run:
        atomic.write_text(series.directory / SERIES_FILE, series_yaml(outcome.series))
    what = "would be added (--dry-run)" if options.dry_run else "added"
    summary = f"{len(outcome.added)} trailer(s) {what}, {len(outcome.skipped)} skipped"
    if outcome.added and not options.dry_run:
        summary += f"; written to {series.directory / SERIES_FILE}: apply again to carry them onto the branch"
    click.echo(summary)
    return 0
