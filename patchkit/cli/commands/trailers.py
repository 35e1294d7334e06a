"""trailers: take Reviewed-by/Acked-by/Tested-by/Reported-by/Suggested-by from replies into the data."""

from __future__ import annotations

import click

from patchkit.cli.requests import TrailersRequest
from patchkit.cli.target import open_series
from patchkit.mail.trailers import collect
from patchkit.series.dump import series_yaml
from patchkit.series.load import SERIES_FILE
from patchkit.util import atomic


def run(request: TrailersRequest) -> int:
    series = open_series(request.series)
    outcome = collect(series, request.mbox, sloppy=request.sloppy)
    for line in outcome.added:
        click.echo(f"added: {line}")
    for line in outcome.skipped:
        click.echo(f"skipped: {line}")
    if outcome.added and not request.dry_run:
        atomic.write_text(series.directory / SERIES_FILE, series_yaml(outcome.series))
    what = "would be added (--dry-run)" if request.dry_run else "added"
    summary = f"{len(outcome.added)} trailer(s) {what}, {len(outcome.skipped)} skipped"
    if outcome.added and not request.dry_run:
        summary += f"; written to {series.directory / SERIES_FILE}: apply again to carry them onto the branch"
    click.echo(summary)
    return 0
