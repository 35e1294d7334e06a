"""Revisions re-made as commits, and what changed between two, as ``git range-diff`` shows it (``patchkit diff``).

A revision is the current data or one ``revise`` recorded (its snapshot in
``history/vN/``). Each is re-made as commits on the base its data names, so no
old branch is needed; ``format`` re-makes vN-1 for its range-diff with the same
functions (:func:`revision_of`, :func:`scratch_objects`, :func:`remade_range`).
Every object this writes goes to a temporary object directory that reads the
tree's objects through alternates: the tree and its repository are left
exactly as they were.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from patchkit.apply.commits import make_commits
from patchkit.apply.record import read_record
from patchkit.errors import ApplyError, DataError, PatchkitError, TreeError, UsageError
from patchkit.series.load import SERIES_FILE, load_series
from patchkit.series.model import Series
from patchkit.tree import basetree
from patchkit.tree.repo import KernelTree, patchkit_identity

_REVISION = re.compile(r"^[vV]?(?P<number>[1-9][0-9]{0,5})$")


CURRENT = "the current data"  # where the current revision comes from


class BaseNotFound(TreeError):
    """Neither the tree nor a prepared default tree holds a revision's base tree."""


@dataclass(frozen=True)
class Revision:
    """One side of the range-diff: a revision's data and where it came from."""

    number: int
    where: str  # "history/v1", "the current data"
    series: Series
    recorded_in: Path | None = None  # the series.yaml whose history names the snapshot (None: the current data)

    @property
    def label(self) -> str:
        return f"v{self.number} ({self.where})"


@dataclass(frozen=True)
class RangeDiff:
    old: Revision
    new: Revision
    text: str  # git range-diff's output


def parse_revision(text: str) -> int:
    """``v2`` (or ``2``) -> 2."""
    match = _REVISION.match(text.strip())
    if match is None:
        raise UsageError(f"{text!r}: not a revision (write it as v1, v2, ...)")
    return int(match["number"])


def known_revisions(series: Series) -> list[str]:
    """What ``diff`` can compare: every revision ``revise`` recorded with its snapshot, then the current data."""
    recorded = [f"v{r.revision}" for r in series.history if r.snapshot and r.revision != series.revision]
    return [*recorded, f"v{series.revision}"]


def revision_of(series: Series, number: int) -> Revision:
    """Revision ``number`` of ``series``: the current data, or the snapshot ``revise`` recorded for it."""
    if number == series.revision:
        return Revision(number, CURRENT, series)
    where = series.directory / SERIES_FILE
    record = series.revision_record(number)
    if record is None:
        raise UsageError(
            f"series {series.name} has no revision v{number} ({where} records {', '.join(known_revisions(series))})"
        )
    if not record.snapshot:
        raise DataError(
            f"{where}:{series.line('history')}: history v{number} has no snapshot of its patches "
            "(only 'patchkit revise' keeps one): nothing to compare"
        )
    snapshot_dir = series.directory / record.snapshot
    try:
        inside = snapshot_dir.resolve().is_relative_to(series.directory.resolve())
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise DataError(f"{where}: history v{number}: {snapshot_dir}: cannot resolve the path: {exc}") from None
    if not inside:
        raise DataError(f"{where}: history v{number}: {snapshot_dir} leads outside the series directory (a symlink); "
                        "a snapshot is read only inside it")  # fmt: skip
    try:
        snapshot = load_series(snapshot_dir)
    except PatchkitError as exc:
        raise DataError(f"{where}: history v{number}: snapshot unusable: {exc}") from exc
    if not snapshot.mailed_patches:
        raise DataError(f"{series.directory / record.snapshot / SERIES_FILE}: v{number} has no patches")
    return Revision(number, record.snapshot, snapshot, where)


@contextmanager
def scratch_objects(tree: KernelTree, revisions: Sequence[Revision] = ()) -> Iterator[dict[str, str]]:
    """git environment that writes new objects to a temporary directory and reads the tree's objects, plus
    those of the prepared default tree of each revision's base (a revision from before 'patchkit rebase')."""
    readers = [tree.common_dir / "objects"]
    for revision in revisions:
        base = revision.series.base
        if not base.package_version:
            continue  # a default tree is looked up by its exact version only
        default = basetree.default_tree(base.package, base.package_version)
        prepared = default.path / ".git" / "objects"
        if default.prepared and prepared not in readers:
            readers.append(prepared)
    with tempfile.TemporaryDirectory(prefix="patchkit-diff-") as scratch:
        yield {"GIT_OBJECT_DIRECTORY": scratch, "GIT_ALTERNATE_OBJECT_DIRECTORIES": ":".join(map(str, readers))}


def _base_commit(tree: KernelTree, revision: Revision, env: dict[str, str]) -> str:
    """A commit holding the revision's base tree: the tree's own (patchkit-base, the applied base), else made."""
    wanted = revision.series.base.tree
    record = read_record(tree, revision.series.name)
    for candidate in (basetree.BASE_REF, record.base if record is not None else None):
        if candidate is not None and tree.tree_of(candidate) == wanted:
            commit = tree.rev_parse(f"{candidate}^{{commit}}")
            if commit is not None:
                return commit
    if tree.run_git(["cat-file", "-e", f"{wanted}^{{tree}}"], env=env).returncode != 0:
        base = revision.series.base
        version = f" --version {base.package_version}" if base.package_version else ""
        raise BaseNotFound(
            f"{tree.path}: {revision.label} is based on {base.describe()} (tree {wanted[:12]}), which neither this "
            f"tree nor a prepared default tree holds; prepare it ('patchkit tree prepare --package {base.package}"
            f"{version}') or pass --tree with a checkout of that base"
        )
    return tree.git("commit-tree", wanted, "-m", "base", env={**env, **patchkit_identity()}).strip()


def remade_range(tree: KernelTree, revision: Revision, env: dict[str, str]) -> str:
    """``BASE..TIP`` of the revision's mailed patches, re-made as commits into ``env``'s objects (see
    :func:`scratch_objects`; overlays are never compared). :class:`BaseNotFound` when no base is at hand."""
    series = revision.series
    base = _base_commit(tree, revision, env)
    try:
        commits = make_commits(tree, series, base, series.mailed_patches, object_env=env)
    except ApplyError as exc:
        if revision.where == CURRENT:
            raise
        raise ApplyError(_snapshot_does_not_apply(revision, exc)) from None
    return f"{base}..{commits[-1].commit}"


def _snapshot_does_not_apply(revision: Revision, exc: ApplyError) -> str:
    """A recorded revision whose snapshot no longer re-makes: which snapshot, which patch, and what to do."""
    snapshot = revision.series.directory
    data = revision.recorded_in or snapshot / SERIES_FILE
    what = exc.message.removesuffix("; the tree was not changed")
    return (
        f"v{revision.number} as recorded in {snapshot} cannot be re-made on its base: {what}; restore "
        f"{snapshot} as revise wrote it (e.g. 'git checkout -- {snapshot}'), or delete 'snapshot: {revision.where}' "
        f"from history v{revision.number} in {data} to go on without comparing with v{revision.number} (nothing was "
        "written)"
    )


def range_diff(tree: KernelTree, series: Series, old: int, new: int, *, color: bool = False) -> RangeDiff:
    """``git range-diff`` between revisions ``old`` and ``new`` of ``series``, changing nothing in ``tree``."""
    before, after = revision_of(series, old), revision_of(series, new)
    with scratch_objects(tree, [before, after]) as env:
        ranges = [remade_range(tree, before, env), remade_range(tree, after, env)]
        text = tree.git("range-diff", "--color=always" if color else "--no-color", *ranges, env=env)
    return RangeDiff(before, after, text)
