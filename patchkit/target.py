"""Find what a command works on: the series (data) and the kernel tree (git)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patchkit import basetree
from patchkit.gitrepo import KernelTree
from patchkit.progress import Progress
from patchkit.series.load import find_series, load_series
from patchkit.series.model import Series


@dataclass(frozen=True)
class Target:
    series: Series
    tree: KernelTree
    is_default_tree: bool


def open_series(series_arg: str | None) -> Series:
    return load_series(find_series(Path.cwd(), series_arg))


def open_tree(series: Series, tree_arg: Path | None) -> tuple[KernelTree, bool]:
    """The tree named by --tree, else the default tree (prepared on first use)."""
    if tree_arg is not None:
        return KernelTree(tree_arg), False
    with Progress() as progress:
        prepared = basetree.prepare_base(series, progress)
    return KernelTree(prepared.path), True


def open_target(series_arg: str | None, tree_arg: Path | None) -> Target:
    series = open_series(series_arg)
    tree, is_default = open_tree(series, tree_arg)
    return Target(series=series, tree=tree, is_default_tree=is_default)
