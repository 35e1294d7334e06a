"""lint: the TDX rules, patch hygiene and checkpatch over every state of the applied series."""

from __future__ import annotations

import click

from patchkit.apply.states import require_current
from patchkit.cli.requests import LintRequest
from patchkit.cli.target import open_target
from patchkit.errors import ExitCode
from patchkit.github.locate import Locator
from patchkit.lint.engine import lint_series
from patchkit.lint.output import render, sarif_category
from patchkit.util import atomic
from patchkit.util.store import VerdictCache


def run(request: LintRequest) -> int:
    target = open_target(request.series, request.tree)
    series, tree = target.series, target.tree
    record = require_current(tree, series, "linting")
    cache = VerdictCache(enabled=not request.fresh, warn=lambda text: click.echo(text, err=True))
    report = lint_series(tree, series, record, checkpatch=request.checkpatch, cache=cache)
    subjects = {p.number: p.subject for p in record.patches}
    # SARIF and annotations point at the series files (diff lines, series.yaml) in the series' repository.
    locator = Locator(series) if request.fmt in ("sarif", "github") else None
    text = render(report, request.fmt, subjects, locator=locator, category=sarif_category(series.name))
    if request.output is not None:
        atomic.write_text(request.output, text)
        counts = report.counts()
        click.echo(
            f"lint: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info "
            f"({counts['pre-existing']} pre-existing, {counts['suppressed']} suppressed); written to {request.output}"
            + (f" ({report.cached})" if report.cached else ""),
            err=request.fmt != "text",
        )
    else:
        click.echo(text, nl=False)
    return int(ExitCode.FINDINGS) if report.fails_at(request.fail_on) else 0
