"""Carry a series from its base onto another version of the base package, without touching anything.

Each patch is replayed the way ``git cherry-pick`` would (a three-way merge
with the patch's parent as merge base), using ``git merge-tree --write-tree``
so no work tree or index is involved. git 2.39 has no ``--merge-base``
option, so each step merges a throwaway commit holding the new state whose
parent is the patch's old parent: their merge base is then exactly that
parent. Every object this writes goes to a temporary object directory (the
two prepared trees are only read, through alternates), so a trial leaves no
trace in either repository.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace

from patchkit.apply.commits import make_commits
from patchkit.errors import ApplyError
from patchkit.series.model import ChangelogEntry, Patch, Series
from patchkit.tree.basetree import PreparedTree
from patchkit.tree.repo import KernelTree, patchkit_identity

# Flags that make diffs exactly as import writes them, so an unchanged patch compares equal byte for byte.
DIFF_FLAGS = ("diff-tree", "-p", "--no-renames", "--no-ext-diff", "--no-textconv")


class PatchConflict(ApplyError):
    """A patch does not go onto the new base; nothing was written."""

    def __init__(self, patch: Patch, files: list[str], onto: str) -> None:
        where = f": {', '.join(files)} conflict(s)" if files else ""
        super().__init__(
            f"patch {patch.number} ({patch.subject}) does not apply on {onto}{where} [{patch.diff}]; "
            "nothing was written"
        )
        self.patch = patch
        self.files = files


@dataclass(frozen=True)
class CarriedPatch:
    patch: Patch
    diff: bytes  # the patch as a diff against the new state before it
    changed: bool  # whether that differs from the series' diff file


@dataclass(frozen=True)
class BaseDrift:
    """What changed between two bases, and what of it the series touches."""

    changed_files: list[str]
    touched_files: list[str]


def diff_files(tree: KernelTree, old: str, new: str, env: Mapping[str, str] | None = None) -> list[str]:
    out = tree.git("diff-tree", "-r", "--no-renames", "--name-only", "-z", old, new, env=env)
    return [name for name in out.split("\0") if name]


def series_files(series: Series) -> set[str]:
    """Every path a patch of the series (overlays included) adds, changes or removes."""
    paths: set[str] = set()
    for patch in series.patches:
        for line in series.diff_bytes(patch).decode("utf-8", "replace").splitlines():
            if line.startswith(("--- a/", "+++ b/")):
                paths.add(line[6:])
    return paths


@contextmanager
def scratch_objects(new: PreparedTree, old: PreparedTree) -> Iterator[dict[str, str]]:
    """git environment that reads both prepared trees' objects and writes new ones to a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="patchkit-carry-") as scratch:
        readers = [str(new.path / ".git" / "objects"), str(old.path / ".git" / "objects")]
        yield {"GIT_OBJECT_DIRECTORY": scratch, "GIT_ALTERNATE_OBJECT_DIRECTORIES": ":".join(readers)}


def drift_between(series: Series, old: PreparedTree, new: PreparedTree) -> BaseDrift:
    with scratch_objects(new, old) as env:
        changed = diff_files(KernelTree(new.path), old.base_tree, new.base_tree, env)
    touched = series_files(series)
    return BaseDrift(changed, [name for name in changed if name in touched])


def carry(series: Series, old: PreparedTree, new: PreparedTree) -> list[CarriedPatch]:
    """Every patch of ``series`` (overlays included) replayed from ``old``'s base onto ``new``'s.

    Raises :class:`PatchConflict` naming the first patch that does not go on.
    """
    tree = KernelTree(new.path)
    onto = f"{new.package} {new.package_version}"
    carried: list[CarriedPatch] = []
    with scratch_objects(new, old) as env:
        old_commits = make_commits(tree, series, old.base_commit, series.patches, object_env=env)
        old_parent, new_state = old.base_commit, new.base_tree
        for patch, made in zip(series.patches, old_commits, strict=True):
            # A commit holding the new state, parented on the patch's old parent: see the module docstring.
            ours = tree.git(
                "commit-tree", new_state, "-p", old_parent, "-m", "patchkit carry", env={**env, **patchkit_identity()}
            ).strip()
            result = tree.run_git(
                ["merge-tree", "--write-tree", "--name-only", "--no-messages", ours, made.commit], env=env
            )
            lines = result.stdout.decode("utf-8", "replace").splitlines()
            if result.returncode == 1:
                raise PatchConflict(patch, sorted({line for line in lines[1:] if line}), onto)
            if result.returncode != 0 or not lines:
                detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
                raise ApplyError(f"patch {patch.number} ({patch.subject}): git merge-tree failed: {detail[0]}")
            new_tree = lines[0].strip()
            diff = tree.git_bytes(*DIFF_FLAGS, new_state, new_tree, env=env)
            original = series.diff_bytes(patch)
            carried.append(CarriedPatch(patch, diff, diff != original))
            old_parent, new_state = made.commit, new_tree
    return carried


def describe_drift(drift: BaseDrift, limit: int = 10) -> list[str]:
    """Lines for the user: how many files moved between the bases, and which of them the series touches."""
    lines = [f"the bases differ in {len(drift.changed_files)} file(s)"]
    shown = drift.changed_files[:limit]
    lines += [f"  {name}{'  (touched by the series)' if name in drift.touched_files else ''}" for name in shown]
    if len(drift.changed_files) > limit:
        lines.append(f"  ... and {len(drift.changed_files) - limit} more")
    hidden = [name for name in drift.touched_files if name not in shown]
    lines += [f"  {name}  (touched by the series)" for name in hidden]
    lines.append(
        f"the series touches {len(drift.touched_files)} of them"
        + (f": {', '.join(drift.touched_files)}" if drift.touched_files else "")
    )
    return lines


def rebased_series(series: Series, new: PreparedTree) -> Series:
    """The series data on ``new``'s base, with a changelog line for the next revision saying so."""
    note = f"- Rebased onto {new.package} {new.package_version} (kernel {new.version}; was {series.base.describe()})."
    entries = list(series.changelog)
    next_revision = series.revision + 1
    for index, entry in enumerate(entries):
        if entry.revision == next_revision:
            if note not in entry.changes:
                entries[index] = ChangelogEntry(next_revision, f"{entry.changes.rstrip()}\n{note}".strip())
            break
    else:
        entries.append(ChangelogEntry(next_revision, note))
    return replace(series, base=new.base(), changelog=tuple(entries))
