"""ci matrix and ci merge: scale verify out over CI jobs and join their reports into one verdict."""

from __future__ import annotations

import json

import click

from patchkit.cli.commands import verdict_exit
from patchkit.cli.options import CiMatrixOptions, CiMergeOptions
from patchkit.cli.target import open_series
from patchkit.github import actions
from patchkit.util import atomic
from patchkit.verify.matrix import job_matrix
from patchkit.verify.merge import find_reports
from patchkit.verify.merge import merge as merge_reports
from patchkit.verify.report import markdown, read_report, text_table


def matrix(options: CiMatrixOptions) -> int:
    """Print the job matrix as one line of JSON (``echo "matrix=$(patchkit ci matrix)" >> $GITHUB_OUTPUT``)."""
    series = open_series(options.series)
    click.echo(json.dumps(job_matrix(series, options.split, options.lint), separators=(",", ":")))
    return 0


def merge(options: CiMergeOptions) -> int:
    """Join partial verify reports: print the table and verdict, write the merged report, exit like verify."""
    names = find_reports(options.reports)
    reports = [(str(path), read_report(path)) for path in names]
    merged = merge_reports(reports)
    click.echo(f"merged: {len(reports)} report(s): {', '.join(name for name, _ in reports)}")
    click.echo(f"branch:  {merged.branch.name}: {merged.branch.detail}")
    lint = merged.lint_summary
    click.echo(f"lint:    {lint.summary if lint is not None and lint.ran else 'not run by any of the reports'}")
    if merged.states:
        click.echo("")
        for line in text_table(merged):
            click.echo(line)
        click.echo("")
    if options.output is not None:
        atomic.write_text(options.output, json.dumps(merged.to_json(), indent=2) + "\n")
    actions.add_step_summary(markdown(merged))
    where = f"; report in {options.output}" if options.output is not None else ""
    verdict = merged.verdict
    click.echo(f"verify (merged): {verdict.text}{where}")
    return verdict_exit(verdict.code, f"{verdict.text.removeprefix('FAILED: ')} (merged)")
