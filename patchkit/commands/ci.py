"""ci matrix and ci merge: scale verify out over CI jobs and join their reports into one verdict."""

from __future__ import annotations

import json
from pathlib import Path

import click

from patchkit import atomic, verify_report
from patchkit.ci import github
from patchkit.ci.matrix import job_matrix
from patchkit.target import open_series


def matrix(series_arg: str | None, split: int, lint: bool) -> int:
    """Print the job matrix as one line of JSON (``echo "matrix=$(patchkit ci matrix)" >> $GITHUB_OUTPUT``)."""
    series = open_series(series_arg)
    click.echo(json.dumps(job_matrix(series, split, lint), separators=(",", ":")))
    return 0


def merge(paths: tuple[Path, ...], output: Path | None) -> int:
    """Join partial verify reports: print the table and verdict, write the merged report, exit like verify."""
    found = verify_report.find_reports(paths)
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
    if output is not None:
        atomic.write_text(output, json.dumps(merged, indent=2) + "\n")
    github.add_step_summary(verify_report.markdown(merged))
    click.echo(f"verify (merged): {merged['verdict']}" + (f"; report in {output}" if output is not None else ""))
    code: int = merged["exit_code"]
    return code
