"""verify's check of ``depends:``: is each series this one needs below its base?

Each dependency (:mod:`patchkit.series.depends`) is checked against the base commit the series is applied on:

- A series beside this one in the project (found by its change-id): its diffs, of the revision needed (the
  current data, or the snapshot ``revise`` kept), must be in the base's content. They are undone one by
  one, last first, with ``git apply --cached -R`` in a private index holding only the paths they touch,
  new objects going to a scratch directory: the user's index, work tree and objects are never touched.
  This needs no history, so it works on Debian's base (one commit) too.
- Otherwise its patch-ids (declared, or recorded for that revision) must be among the commits reachable
  from the base: ``git patch-id --stable`` of the newest :data:`HISTORY_LIMIT` commits that have one
  parent (a root commit is a whole tree imported, not a change; merges have no single diff). A base
  with no such commit (Debian's: one commit) leaves nothing to search: "cannot check", not a failure.

A dependency whose patch-ids cannot be known (a change-id that is no series of the project, and no
patch-ids declared) is a failed check, as is one whose patches are not there.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from patchkit.apply import revisions
from patchkit.apply.grafting import touched_paths
from patchkit.errors import PatchkitError
from patchkit.series import depends
from patchkit.series.model import Dependency, Series
from patchkit.tree.repo import KernelTree

PRESENT, MISSING, UNKNOWN, UNCHECKED = "present", "missing", "unknown", "cannot check"
FAILING = frozenset({MISSING, UNKNOWN})  # the statuses that fail verify ("cannot check" does not)
HISTORY_LIMIT = 1000  # commits below the base whose patch-ids are computed (a prerequisite sits close)


@dataclass(frozen=True)
class DependencyCheck:
    dependency: Dependency
    status: str  # PRESENT, MISSING, UNKNOWN (its patch-ids cannot be known) or UNCHECKED
    detail: str  # one line for humans, starting with what was found

    @property
    def failed(self) -> bool:
        return self.status in FAILING


@dataclass(frozen=True)
class _History:
    """Patch-id -> (place in git log, newest first; commit) below the base, how many, whether the limit cut it."""

    commits: dict[str, tuple[int, str]]
    searched: int
    cut: bool


def check(tree: KernelTree, series: Series, base: str) -> list[DependencyCheck]:
    """Each of ``series``' dependencies checked against ``base`` (a commit of ``tree``), in the order declared."""
    history: list[_History] = []  # computed once, when a dependency first needs it

    def below() -> _History:
        if not history:
            history.append(_patch_ids_below(tree, base))
        return history[0]

    return [_check(tree, base, entry, below) for entry in depends.resolve(series)]


def _check(tree: KernelTree, base: str, entry: depends.Resolved, below: Callable[[], _History]) -> DependencyCheck:
    dependency = entry.dependency
    if entry.problem is not None or not entry.patch_ids:
        return DependencyCheck(dependency, UNKNOWN, f"its patch-ids are unknown: {entry.problem or 'none given'}")
    if entry.series is not None:
        found = _revision_needed(entry.series, dependency)
        if found is not None:
            prerequisite, where = found
            count = len(prerequisite.mailed_patches)
            absent = _absent_from(tree, base, prerequisite)
            if absent is None:
                return DependencyCheck(dependency, PRESENT, f"its {count} patch(es) ({where}) are in the base")
            return DependencyCheck(dependency, MISSING, f"not in the base: {absent} ({where})")
    history = below()
    if not history.searched:
        return DependencyCheck(
            dependency, UNCHECKED,
            f"cannot check: the base {base[:12]} has no commit history to search (one commit, as Debian's base)",
        )  # fmt: skip
    missing = [pid for pid in entry.patch_ids if pid not in history.commits]
    if not missing:
        _, newest = min(history.commits[pid] for pid in entry.patch_ids)
        return DependencyCheck(
            dependency, PRESENT, f"its {len(entry.patch_ids)} patch(es) are below the base (newest: {newest[:12]})"
        )
    searched = f"the newest {history.searched} commits" if history.cut else f"the {history.searched} commit(s)"
    return DependencyCheck(
        dependency, MISSING,
        f"{len(missing)} of its {len(entry.patch_ids)} patch(es) are not among {searched} below the base "
        f"(first missing: patch-id {missing[0][:12]})",
    )  # fmt: skip


def _revision_needed(other: Series, dependency: Dependency) -> tuple[Series, str] | None:
    """The revision of a sibling series the dependency needs, as data, and where it came from (None: no data)."""
    wanted = dependency.revision or other.revision
    try:
        revision = revisions.revision_of(other, wanted)
    except PatchkitError:
        return None  # no snapshot of that revision: its recorded patch-ids are what there is to check
    return revision.series, f"v{wanted}, {revision.where}"


def _absent_from(tree: KernelTree, base: str, prerequisite: Series) -> str | None:
    """None when every mailed patch of ``prerequisite`` is in ``base``'s content, else the last that is not."""
    patches = prerequisite.mailed_patches
    diffs = [prerequisite.diff_path(patch).resolve() for patch in patches]
    touched = touched_paths(tree, diffs)
    if not touched:
        return "its diffs name no file"
    with revisions.scratch_objects(tree) as objects, tempfile.TemporaryDirectory(prefix="patchkit-depends-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_LITERAL_PATHSPECS": "1", **objects}
        listing = tree.git_bytes("ls-tree", "-r", "-z", base, "--", *sorted(touched), env=env)
        tree.git("update-index", "-z", "--index-info", env=env, input_bytes=listing)
        for patch, diff in reversed(list(zip(patches, diffs, strict=True))):
            undone = tree.run_git(["apply", "--cached", "-R", "--whitespace=nowarn", str(diff)], env=env)
            if undone.returncode != 0:
                errors = [
                    line.removeprefix("error: ")
                    for line in undone.stderr.decode("utf-8", "replace").splitlines()
                    if line.startswith("error: ")
                ]
                return f"{patch.label()}" + (f": {errors[-1]}" if errors else "")
    return None


def _patch_ids_below(tree: KernelTree, base: str) -> _History:
    """``git patch-id --stable`` of the newest single-parent commits reachable from ``base`` (itself included)."""
    one_parent = ("--min-parents=1", "--max-parents=1", f"--max-count={HISTORY_LIMIT}")
    searched = int(tree.git("rev-list", "--count", *one_parent, base).strip() or 0)
    if not searched:
        return _History({}, 0, False)
    log = tree.git_bytes(
        "log", *one_parent, "-p", "--no-decorate", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color", base
    )
    ids = tree.git("patch-id", "--stable", input_bytes=log)
    commits: dict[str, tuple[int, str]] = {}
    for position, line in enumerate(ids.splitlines()):
        patch_id, commit = line.split()
        commits.setdefault(patch_id, (position, commit))
    return _History(commits, searched, searched == HISTORY_LIMIT)
