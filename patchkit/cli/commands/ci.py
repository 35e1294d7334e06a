"""ci matrix and ci merge: scale verify out over CI jobs and join their reports into one verdict."""

from __future__ import annotations

import json
from pathlib import Path

import click

from patchkit.cli.commands import verdict_exit
from patchkit.cli.options import CiMatrixOptions, CiMergeOptions
from patchkit.cli.target import open_series
from patchkit.errors import DataError, ExitCode, UsageError
from patchkit.github import actions
from patchkit.series.load import all_series, load_series
from patchkit.util import atomic
from patchkit.verify.matrix import job_matrix, read_matrix
from patchkit.verify.merge import WHOLE_SERIES, by_series, find_reports
from patchkit.verify.merge import merge as merge_reports
from patchkit.verify.report import Verdict, VerifyReport, markdown, read_report, text_table


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
    against = f"the jobs of {options.expect}" if options.expect is not None else WHOLE_SERIES
    grouped = by_series(reports)
    planned = list(dict.fromkeys(job.series for job in jobs)) if jobs is not None else list(grouped)
    for series, of_series in grouped.items():
        if series not in planned:
            raise DataError(f"{of_series[0][0]}: series {series!r} is not in {options.expect} "
                            f"(its series: {', '.join(planned)})")  # fmt: skip
    if options.output is not None and len(planned) > 1:
        raise UsageError(f"reports of {len(planned)} series ({', '.join(planned)}): --output writes one merged "
                         "report; use --output-dir DIR (DIR/SERIES/report.json)")  # fmt: skip
    verdicts: list[tuple[str, Verdict]] = []
    for series in planned:
        if len(planned) > 1:
            click.echo(f"== series {series}")
        if series not in grouped:
            verdicts.append((series, no_report(series, [j.name for j in jobs or () if j.series == series])))
            continue
        output = options.output
        if options.output_dir is not None:
            output = options.output_dir / series / "report.json"
        verdicts.append((series, show_merged(merge_reports(grouped[series], jobs, against), output)))
    code, text = worst(verdicts)
    return verdict_exit(code, f"{text.removeprefix('FAILED: ')} (merged)")


def no_report(series: str, jobs: list[str]) -> Verdict:
    """A series of the matrix no job reported on at all: every part of it is uncovered."""
    verdict = Verdict(int(ExitCode.FINDINGS), f"FAILED: no report of series {series} (jobs: {', '.join(jobs)})")
    click.echo(f"verify (merged): {verdict.text}")
    actions.add_step_summary(f"### patchkit verify: {series}\n\n❌ **{verdict.text}** (exit {verdict.code})\n")
    return verdict


def show_merged(merged: VerifyReport, output: Path | None) -> Verdict:
    """Print one series' merged table and verdict, write its report, add it to the job summary."""
    names = merged.merged_from or ()
    click.echo(f"merged: {len(names)} report(s): {', '.join(names)}")
    click.echo(f"branch:  {merged.branch.name}: {merged.branch.detail}")
    lint = merged.lint_summary
    click.echo(f"lint:    {lint.summary if lint is not None and lint.ran else 'not run by any of the reports'}")
    if merged.states:
        click.echo("")
        for line in text_table(merged):
            click.echo(line)
        click.echo("")
    if merged.missing_text:
        click.echo(f"not covered by any report: {merged.missing_text}")
    if output is not None:
        atomic.write_text(output, json.dumps(merged.to_json(), indent=2) + "\n")
    actions.add_step_summary(markdown(merged))
    where = f"; report in {output}" if output is not None else ""
    click.echo(f"verify (merged): {merged.verdict.text}{where}")
    return merged.verdict


_PRECEDENCE = (ExitCode.BUILD, ExitCode.BOOT, ExitCode.FINDINGS)  # verify's own order


def worst(verdicts: list[tuple[str, Verdict]]) -> Verdict:
    """The verdict of several series: the first by verify's precedence (a build failure, a boot failure, any
    other), naming its series when there are several; passed when all passed."""
    for code in _PRECEDENCE:
        failing = [(series, v) for series, v in verdicts if v.code == code]
        if failing:
            series, verdict = failing[0]
            if len(verdicts) == 1:
                return verdict
            return Verdict(verdict.code, f"{verdict.text} (series {series}; {len(failing)} of {len(verdicts)} failed)")
    return Verdict(int(ExitCode.OK), "passed")
