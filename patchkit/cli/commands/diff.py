"""diff: the range-diff between two revisions of a series (recorded snapshots or the current data)."""

from __future__ import annotations

import sys

import click

from patchkit.apply.revisions import parse_revision, range_diff
from patchkit.cli.options import DiffOptions
from patchkit.cli.target import open_series, open_tree
from patchkit.errors import UsageError


def run(options: DiffOptions) -> int:
    # [SERIES] vN vM: the series is optional in front, so the words are split here.
    if len(options.words) not in (2, 3):
        raise UsageError("diff takes [SERIES] vN vM: two revisions, e.g. 'patchkit diff v1 v2'")
    *named, old_text, new_text = options.words
    old, new = parse_revision(old_text), parse_revision(new_text)
    series = open_series(named[0] if named else None)
    tree = open_tree(series, options.tree)
    result = range_diff(tree, series, old, new, color=sys.stdout.isatty())
    click.echo(f"patchkit: range-diff of {result.old.label} against {result.new.label}", err=True)
    click.echo(result.text, nl=False)
    return 0
