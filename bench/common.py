"""What every benchmark does first: a private clone of the prepared default tree at its base."""

from __future__ import annotations

import subprocess
from pathlib import Path

from patchkit import basetree
from patchkit.gitrepo import KernelTree
from patchkit.series.model import Series


def git(tree: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(tree), *args], input=stdin, capture_output=True, check=True).stdout


def private_clone(prepared: Path, clone: Path) -> Path:
    """Clone ``prepared`` (sharing its objects) to ``clone``, on branch main at tag patchkit-base."""
    git(clone.parent, "clone", "-q", "--shared", "--no-checkout", str(prepared), str(clone))
    git(clone, "checkout", "-q", "-B", "main", "refs/tags/patchkit-base")
    return clone


def default_tree_clone(series: Series, scratch: Path) -> KernelTree:
    """The series' default tree, prepared if needed, as a private clone under ``scratch``."""
    prepared = basetree.prepare_base(series)
    return KernelTree(private_clone(prepared.path, scratch / "linux"))
