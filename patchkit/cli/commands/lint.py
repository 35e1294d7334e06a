"""lint: the TDX rules, patch hygiene and checkpatch over every state of the applied series."""

from __future__ import annotations

import click

from patchkit.apply.record import require_record, to_match_the_data
from patchkit.cli.options import LintCommandOptions
from patchkit.cli.target import open_target
from patchkit.errors import ExitCode, TreeError
from patchkit.github.locate import Locator
from patchkit.lint.engine import lint_series
from patchkit.lint.output import render, sarif_category
from patchkit.util import atomic
from patchkit.util.store import VerdictCache


def run(options: LintCommandOptions) -> int:
    target = open_target(options.series, options.tree)
    series, tree = target.series, target.tree
    record = require_record(tree, series.name)
    # A cheap staleness check (verify does the full one): the branch is where apply left it and the
    # data has the same patches. A content edit since apply needs 'patchkit status' to be seen.
    tip = tree.rev_parse(f"refs/heads/{record.branch}")
    if tip != record.tip or [p.subject for p in series.mailed_patches] != [p.subject for p in record.patches]:
        raise TreeError(
            f"{tree.path}: branch {record.branch} no longer matches the series data or the apply record; "
            f"{to_match_the_data(tree, record, series.directory)}"
        )
    cache = VerdictCache(enabled=not options.fresh, warn=lambda text: click.echo(text, err=True))
    report = lint_series(tree, series, record, checkpatch=options.checkpatch, cache=cache)
    subjects = {p.number: p.subject for p in record.patches}
    # SARIF and annotations point at the series files (diff lines, series.yaml) in the series' repository.
    locator = Locator(series) if options.fmt in ("sarif", "github") else None
    text = render(report, options.fmt, subjects, locator=locator, category=sarif_category(series.name))
    if options.output is not None:
        atomic.write_text(options.output, text)
        counts = report.counts()
        click.echo(
            f"lint: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info "
            f"({counts['pre-existing']} pre-existing, {counts['suppressed']} suppressed); written to {options.output}"
            + (f" ({report.cached})" if report.cached else ""),
            err=options.fmt != "text",
        )
    else:
        click.echo(text, nl=False)
    return int(ExitCode.FINDINGS) if report.fails_at(options.fail_on) else 0
