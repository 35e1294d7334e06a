"""ci matrix and ci merge: scale verify out over CI jobs and join their reports into one verdict."""

from __future__ import annotations

import json
from pathlib import Path

import click

from patchkit.cli.commands import verdict_exit
from patchkit.cli.options import CiMatrixOptions, CiMergeOptions
from patchkit.cli.target import open_series
from patchkit.errors import UsageError
from patchkit.github import actions
from patchkit.series.load import all_series, load_series
from patchkit.util import atomic
from patchkit.verify.matrix import job_matrix, read_matrix
from patchkit.verify.merge import SeriesMerge, combined_verdict, find_reports, merge_all
from patchkit.verify.report import markdown, read_report, text_table


def matrix(options: CiMatrixOptions) -> int:
    """Print the job matrix as one line of JSON (``echo "matrix=$(patchkit ci matrix)" >> $GITHUB_OUTPUT``).

    Without SERIES, every series under ./series/ (a repository's workflow runs them all).
    """
    if options.series is not None:
        chosen = [open_series(options.series)]
    else:
        chosen = [load_series(directory) for directory in all_series(Path.cwd())]
    click.echo(json.dumps(job_matrix(chosen, options.split, options.lint), separators=(",", ":")))
    return 0


def merge(options: CiMergeOptions) -> int:
    """Join partial verify reports: per series, print the table and verdict, write the merged report; exit like
    verify (several series: a build failure anywhere first, then a boot failure, then any other failure)."""
    if options.output is not None and options.output_dir is not None:
        raise UsageError("--output and --output-dir: give one (--output-dir for reports of several series)")
    reports = [(str(path), read_report(path)) for path in find_reports(options.reports)]
    jobs = read_matrix(options.expect) if options.expect is not None else None
    merges = merge_all(reports, jobs, str(options.expect))
    if options.output is not None and len(merges) > 1:
        names = ", ".join(m.series for m in merges)
        raise UsageError(f"reports of {len(merges)} series ({names}): --output writes one merged report; "
                         "use --output-dir DIR (DIR/SERIES/report.json)")  # fmt: skip
    for merged in merges:
        if len(merges) > 1:
            click.echo(f"== series {merged.series}")
        output = options.output
        if options.output_dir is not None:
            output = options.output_dir / merged.series / "report.json"
        show_merged(merged, output)
    verdict = combined_verdict(merges)
    return verdict_exit(verdict.code, f"{verdict.text.removeprefix('FAILED: ')} (merged)")


def show_merged(merged: SeriesMerge, output: Path | None) -> None:
    """Print one series' merged table and verdict, write its report, add it to the job summary."""
    report = merged.report
    if report is None:  # a series of the matrix no job reported on: nothing to show but that
        verdict = merged.verdict
        click.echo(f"verify (merged): {verdict.text}")
        actions.add_step_summary(
            f"### patchkit verify: {merged.series}\n\n❌ **{verdict.text}** (exit {verdict.code})\n"
        )
        return
    names = report.merged_from or ()
    click.echo(f"merged: {len(names)} report(s): {', '.join(names)}")
    click.echo(f"branch:  {report.branch.name}: {report.branch.detail}")
    lint = report.lint_summary
    click.echo(f"lint:    {lint.summary if lint is not None and lint.ran else 'not run by any of the reports'}")
    if report.states:
        click.echo("")
        for line in text_table(report):
            click.echo(line)
        click.echo("")
    if report.missing_text:
        click.echo(f"not covered by any report: {report.missing_text}")
    if output is not None:
        atomic.write_text(output, json.dumps(report.to_json(), indent=2) + "\n")
    actions.add_step_summary(markdown(report))
    where = f"; report in {output}" if output is not None else ""
    click.echo(f"verify (merged): {report.verdict.text}{where}")
