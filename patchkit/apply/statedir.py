"""``$GIT_DIR/patchkit``: what patchkit keeps inside a tree, as git am keeps ``.git/rebase-apply``.

:class:`StateDir` is the one place that names the directory and each file in it; every reader and
writer goes through it (``tests/test_owners.py`` checks that no other module builds the path)::

    $GIT_DIR/patchkit/
      apply.lock                 the tree's apply lock: two applies take turns (apply.engine)
      apply-in-progress.json     an apply's intent while it switches branches (apply.recovery)
      <series>.json              which commit is which patch, as apply made them (apply.record)
      <series>.verify.json       what verify found for the applied revision; send's gate (verify.record)
      .<file>.<random>.tmp       a record or note being written; one left behind is a killed run's

It is the work tree's own git directory (``git rev-parse --git-dir``), so linked worktrees of one
repository each have their own. The private indexes apply makes its commits in are not here but in
the temporary directory (:mod:`patchkit.apply.commits`): checking a branch against the data must not
need write access to the tree.
"""

from __future__ import annotations

from pathlib import Path

from patchkit.tree.repo import KernelTree

NAME = "patchkit"
APPLY_LOCK = "apply.lock"
INTENT = "apply-in-progress.json"
_TEMPORARY = ".*.tmp"  # atomic.write_* and the intent note write ".<file>.<something>.tmp" beside the file


class StateDir:
    """``$GIT_DIR/patchkit`` of one tree."""

    def __init__(self, tree: KernelTree) -> None:
        self.path = tree.git_dir / NAME

    @property
    def apply_lock(self) -> Path:
        return self.path / APPLY_LOCK

    @property
    def intent(self) -> Path:
        return self.path / INTENT

    def apply_record(self, series_name: str) -> Path:
        return self.path / f"{_series(series_name)}.json"

    def verify_record(self, series_name: str) -> Path:
        return self.path / f"{_series(series_name)}.verify.json"

    def remove_temporaries(self) -> None:
        """Half-written records and notes of runs killed while writing them (call under the apply lock)."""
        if self.path.is_dir():
            for leftover in self.path.glob(_TEMPORARY):
                leftover.unlink(missing_ok=True)


def _series(name: str) -> str:
    if not name or name.startswith(".") or "/" in name or "\0" in name:
        raise ValueError(f"{name!r} cannot name a file in $GIT_DIR/{NAME}")  # the series loader refuses such names
    return name
