"""Find what a command works on: the series (data) and the kernel tree (git)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from patchkit.cli.commands import notify
from patchkit.series.load import find_series, load_series
from patchkit.series.lock import series_lock
from patchkit.series.model import Series
from patchkit.tree import basetree
from patchkit.tree.repo import KernelTree
from patchkit.util.progress import Progress


@dataclass(frozen=True)
class Target:
    series: Series
    tree: KernelTree


def open_series(series_arg: str | None, *, check_files: bool = True) -> Series:
    """SERIES as the command line names it (a directory, a name under ./series/, or the only one there)."""
    return load_series(find_series(Path.cwd(), series_arg), check_files=check_files)


@contextlib.contextmanager
def changing_series(series_arg: str | None) -> Iterator[Series]:
    """The series, loaded under its lock, held until the block ends: what every read-modify-write of
    ``series.yaml`` (trailers, revise, import into it, rebase, send) works on, so no change is lost."""
    directory = find_series(Path.cwd(), series_arg)
    with series_lock(directory, notify=notify):
        yield load_series(directory)


def open_tree(series: Series, tree_arg: Path | None) -> KernelTree:
    """The tree named by --tree, else the default tree (prepared on first use)."""
    if tree_arg is not None:
        return KernelTree(tree_arg)
    with Progress() as progress:
        prepared = basetree.prepare_base(series, progress)
    return KernelTree(prepared.path)


def open_target(series_arg: str | None, tree_arg: Path | None) -> Target:
    series = open_series(series_arg)
    return Target(series=series, tree=open_tree(series, tree_arg))
