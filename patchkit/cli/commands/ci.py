"""ci matrix and ci merge: scale verify out over CI jobs and join their reports into one verdict."""

from __future__ import annotations

import json

import click

from patchkit.cli.commands import verdict_exit
from patchkit.cli.options import CiMatrixOptions, CiMergeOptions
from patchkit.cli.target import open_series
from patchkit.github import actions
from patchkit.util import atomic
from patchkit.verify import report as verify_report
from patchkit.verify.matrix import job_matrix


def matrix(options: CiMatrixOptions) -> int:
    """Print the job matrix as one line of JSON (``echo "matrix=$(patchkit ci matrix)" >> $GITHUB_OUTPUT``)."""
    series = open_series(options.series)
    click.echo(json.dumps(job_matrix(series, options.split, options.lint), separators=(",", ":")))
    return 0


def merge(options: CiMergeOptions) -> int:
    """Join partial verify reports: print the table and verdict, write the merged report, exit like verify."""
    found = verify_report.find_reports(options.reports)
    reports = [(str(path), verify_report.load(path)) for path in found]
    merged = verify_report.merge(reports)
    click.echo(f"merged: {len(reports)} report(s): {', '.join(name for name, _ in reports)}")
    branch = merged.get("branch") or {}
    click.echo(f"branch:  {branch.get('name', '?')}: {branch.get('detail', '')}")
    lint = merged.get("lint_summary") or {}
    click.echo(f"lint:    {lint.get('summary', '') if lint.get('ran') else 'not run by any of the reports'}")
    if "states" in merged:
        click.echo("")
        for line in verify_report.text_table(merged):
            click.echo(line)
        click.echo("")
    if options.output is not None:
        atomic.write_text(options.output, json.dumps(merged, indent=2) + "\n")
    actions.add_step_summary(verify_report.markdown(merged))
    where = f"; report in {options.output}" if options.output is not None else ""
    click.echo(f"verify (merged): {merged['verdict']}{where}")
    return verdict_exit(merged["exit_code"], f"{merged['verdict'].removeprefix('FAILED: ')} (merged)")
