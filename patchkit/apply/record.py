"""Which commit is which patch: the record ``patchkit apply`` leaves in the tree's git dir.

Stored as ``$GIT_DIR/patchkit/<series>.json`` so later commands (status, lint,
build, format) find the commits without guessing from subjects. Also how a
branch differs from a list of expected commits (:func:`divergence`): what
``status`` says about the branch against the data, and what ``apply`` names
when the user changed the branch since patchkit made it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from patchkit.errors import TreeError
from patchkit.tree.repo import KernelTree
from patchkit.util import atomic


@dataclass(frozen=True)
class AppliedPatch:
    number: int
    subject: str
    commit: str
    overlay: bool = False


@dataclass(frozen=True)
class AppliedSeries:
    series: str
    revision: int
    branch: str
    base: str  # base commit
    patches: tuple[AppliedPatch, ...]  # mailed patches, on the branch
    overlays: tuple[AppliedPatch, ...] = ()  # built on top of the branch tip, never on the branch

    @classmethod
    def from_json_data(cls, data: dict[str, Any]) -> AppliedSeries:
        """The record from what :func:`write_record` wrote (also kept in an interrupted apply's intent)."""
        return cls(
            series=data["series"],
            revision=data["revision"],
            branch=data["branch"],
            base=data["base"],
            patches=tuple(AppliedPatch(**p) for p in data["patches"]),
            overlays=tuple(AppliedPatch(**p) for p in data.get("overlays", ())),
        )

    @property
    def tip(self) -> str:
        return self.patches[-1].commit if self.patches else self.base


def record_path(tree: KernelTree, series_name: str) -> Path:
    return tree.git_dir / "patchkit" / f"{series_name}.json"


def write_record(tree: KernelTree, record: AppliedSeries) -> None:
    data = asdict(record)
    atomic.write_text(record_path(tree, record.series), json.dumps(data, indent=2) + "\n")


def read_record(tree: KernelTree, series_name: str) -> AppliedSeries | None:
    path = record_path(tree, series_name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        # Without a record apply still refuses to move a branch that does not hold the data: nothing is lost.
        raise TreeError(f"{path}: unreadable apply record ({exc}); delete it and run 'patchkit apply'") from exc
    return AppliedSeries.from_json_data(data)


def require_record(tree: KernelTree, series_name: str) -> AppliedSeries:
    record = read_record(tree, series_name)
    if record is None:
        raise TreeError(f"{tree.path}: series '{series_name}' is not applied there; run 'patchkit apply' first")
    return record


def to_match_the_data(tree: KernelTree, record: AppliedSeries | None, series_directory: Path) -> str:
    """What to run when the branch no longer holds the data, by apply's own rule.

    ``patchkit apply`` moves the branch it made, without ``--force``, while the branch is as it left it;
    an edit made on the branch since must be imported into the data first (apply refuses otherwise, and
    ``--force`` would leave that edit only in the reflog).
    """
    if record is None:
        return "run 'patchkit apply'"
    if tree.rev_parse(f"refs/heads/{record.branch}") == record.tip:
        return "run 'patchkit apply' (the branch is as patchkit left it)"
    keep = f"'patchkit import --range {record.base[:12]}..{record.branch} --series {series_directory}'"
    return f"to keep what was changed on {record.branch} since apply, run {keep} first, then 'patchkit apply'"


@dataclass(frozen=True)
class Divergence:
    """How a branch differs from the commits it was expected to hold."""

    text: str  # "differs from the data at patch 2 (...): content changed", for "<branch> <text>"
    # Every commit holds the expected tree, author, date and message; only the committer or commit date
    # differ (git rebase and git commit --amend commit again): replacing them loses nothing.
    recommitted: bool = False


# One commit's facts as git stores them (tree, author, author date, message), then the committer's.
_FACTS = "%T%x1f%an%x1f%ae%x1f%ad%x1f%cn%x1f%ce%x1f%cd%x1f%B%x1e"


@dataclass(frozen=True)
class _Facts:
    tree: str
    author: tuple[str, str, str]  # name, email, raw date
    committer: tuple[str, str, str]
    message: str
    subject: str


def _facts(tree: KernelTree, commits: Sequence[str]) -> list[_Facts]:
    if not commits:
        return []
    out = tree.git("log", "--no-walk=unsorted", "--date=raw", "--encoding=UTF-8", f"--format={_FACTS}", *commits)
    facts: list[_Facts] = []
    for record in out.split("\x1e")[: len(commits)]:
        tree_hash, name, email, date, c_name, c_email, c_date, message = record.lstrip("\n").split("\x1f", 7)
        facts.append(
            _Facts(tree_hash, (name, email, date), (c_name, c_email, c_date), message, message.split("\n", 1)[0])
        )
    return facts


def _what_changed(actual: _Facts, expected: _Facts) -> list[str]:
    changed = []
    if actual.tree != expected.tree:
        changed.append("content")
    if actual.message != expected.message:
        changed.append("message")
    if actual.author[:2] != expected.author[:2]:
        changed.append("author")
    if actual.author[2] != expected.author[2]:
        changed.append("author date")
    return changed


def divergence(
    tree: KernelTree, base: str, expected: Sequence[AppliedPatch], tip: str, against: str
) -> Divergence | None:
    """How ``base..tip`` differs from the ``expected`` commits (None when it is exactly them).

    ``against`` names what the commits came from ("the data", "what patchkit applied") in the text.
    """
    if tip == (expected[-1].commit if expected else base):
        return None
    if tree.run_git(["merge-base", "--is-ancestor", base, tip]).returncode != 0:
        return Divergence(f"does not grow from the base {base[:12]} that {against} was made on")
    actual = tree.git("rev-list", "--reverse", "--topo-order", f"{base}..{tip}").split()
    common = min(len(actual), len(expected))
    have = _facts(tree, actual[:common])
    want = _facts(tree, [p.commit for p in expected[:common]])
    recommitted: list[AppliedPatch] = []
    for index, patch in enumerate(expected):
        if index >= len(actual):
            return Divergence(f"ends before patch {patch.number} ({patch.subject})")
        if actual[index] == patch.commit:
            continue
        changed = _what_changed(have[index], want[index])
        if changed:
            return Divergence(
                f"differs from {against} at patch {patch.number} ({patch.subject}): {_listed(changed)} changed"
            )
        recommitted.append(patch)
    if len(actual) > len(expected):
        extra = actual[len(expected) :]
        subject = _facts(tree, extra[:1])[0].subject
        return Divergence(f"has {len(extra)} commit(s) beyond the series (first: {extra[0][:12]} {subject})")
    first, last = recommitted[0].number, expected[-1].number
    which = f"patch {first} was" if first == last else f"patches {first}-{last} were"
    return Divergence(
        f"holds {against}, but {which} committed again "
        "(same content, message and author; another committer or commit date, as after git rebase)",
        recommitted=True,
    )


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
