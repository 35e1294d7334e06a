"""The states of an applied series, and whether the branch is still what the data says (the one check).

A state is a tree commit the series passes through: the base, the commit after
each mailed patch, and (when the series has overlay patches) the overlays on
top. Lint walks the base and the mailed states; build and boot walk them all.
The apply record (:mod:`patchkit.apply.record`) names the commits.

Freshness is decided here and nowhere else. :func:`compare_branch` re-makes
the mailed patches and the overlays from the data in a private index (commits
are reproducible, see :mod:`patchkit.apply.commits`) and compares commit ids,
so a record left behind by an edit of any patch, overlays included, is stale:
``status`` shows its answer, ``verify`` goes on only with it
(:func:`check_applied`), ``lint`` and ``format`` refuse without it
(:func:`require_current`). :func:`why_not_movable` asks the same of an
existing branch before ``apply`` moves it; :func:`divergence` says how a
branch differs from the commits it should hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from patchkit.apply.commits import make_commits
from patchkit.apply.record import AppliedPatch, AppliedSeries, read_record, require_record
from patchkit.errors import TreeError
from patchkit.series.model import Series
from patchkit.tree.repo import KernelTree

BASE = "base"
OVERLAY = "overlay"


@dataclass(frozen=True)
class State:
    index: int  # 0 = base, k = after mailed patch k, N+1 = overlays on top
    label: str  # "base", "patch 3", "overlay"
    commit: str
    subject: str = ""
    patch_number: int | None = None  # the patch this state adds (None for base and overlay)

    def to_json_data(self) -> dict[str, object]:
        return {
            "index": self.index, "label": self.label, "subject": self.subject, "patch": self.patch_number,
            "commit": self.commit,
        }  # fmt: skip


def series_states(record: AppliedSeries) -> list[State]:
    """Every state build and boot walk: base, each mailed patch, then the overlay (when there is one)."""
    states = mailed_states(record)
    if record.overlays:
        subjects = ", ".join(p.subject for p in record.overlays)
        states.append(State(len(record.patches) + 1, OVERLAY, record.overlays[-1].commit, subjects))
    return states


def mailed_states(record: AppliedSeries) -> list[State]:
    """Base and the state after each mailed patch: what a reviewer sees, so what lint walks."""
    states = [State(0, BASE, record.base)]
    states += [State(p.number, f"patch {p.number}", p.commit, p.subject, p.number) for p in record.patches]
    return states


@dataclass(frozen=True)
class BranchState:
    branch: str
    exists: bool
    tip: str | None
    checked_out: bool
    matches: bool
    detail: str  # one line for humans


def compare_branch(tree: KernelTree, series: Series) -> BranchState:
    branch = series.branch
    tip = tree.rev_parse(f"refs/heads/{branch}")
    checked_out = tree.current_branch() == branch
    record = read_record(tree, series.name)
    if tip is None or record is None:
        return BranchState(branch, tip is not None, tip, checked_out, False, "not applied (run 'patchkit apply')")
    expected = make_commits(tree, series, record.base, series.mailed_patches)
    if expected and expected[-1].commit == tip:
        # Overlays are not on the branch, but build and boot use the recorded ones: they must be current too.
        overlays = make_commits(tree, series, tip, series.overlay_patches) if series.overlay_patches else []
        if [o.commit for o in overlays] != [o.commit for o in record.overlays]:
            return BranchState(
                branch, True, tip, checked_out, False,
                "matches the data, but the overlay patches changed since apply (run 'patchkit apply' again)",
            )  # fmt: skip
        return BranchState(branch, True, tip, checked_out, True, f"matches the data ({len(expected)} patches)")
    differs = divergence(tree, record.base, expected, tip, "the data")
    if differs is None:  # the data has no mailed patches and the branch sits at the base
        return BranchState(branch, True, tip, checked_out, False, "holds no patches")
    if differs.recommitted:
        return BranchState(
            branch, True, tip, checked_out, False, f"{differs.text}; run 'patchkit apply' to re-make them reproducibly"
        )
    return BranchState(branch, True, tip, checked_out, False, differs.text)


@dataclass(frozen=True)
class Applied:
    """The series as applied to a tree, checked against its data."""

    branch: BranchState
    record: AppliedSeries | None  # None unless the branch and the overlays match the data

    @property
    def states(self) -> list[State]:
        return series_states(self.record) if self.record is not None else []


def check_applied(tree: KernelTree, series: Series) -> Applied:
    """The apply record, when the branch and the recorded overlays still match the data (else only why not)."""
    branch = compare_branch(tree, series)
    return Applied(branch, read_record(tree, series.name) if branch.matches else None)


def require_current(tree: KernelTree, series: Series, doing: str) -> AppliedSeries:
    """The apply record of a branch that matches the data; else refuse ``doing`` (e.g. "formatting"), saying why."""
    record = require_record(tree, series.name)
    state = compare_branch(tree, series)
    if not state.matches:
        advice = to_match_the_data(tree, record, series.directory)
        raise TreeError(f"{tree.path}: {state.branch} {state.detail}; {advice} before {doing}")
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


def why_not_movable(
    tree: KernelTree, series: Series, base: str, made: list[AppliedPatch], branch_tip: str
) -> str | None:
    """Why moving the existing branch could lose the user's work, or None when it cannot.

    It cannot when the branch is where patchkit left it (its tip is the commit the apply record
    names: the data changed, the branch did not), or when it holds exactly this data committed
    again (a rebase that changed nothing, or the branch the data was just imported from).
    """
    record = read_record(tree, series.name)
    if record is not None and record.branch == series.branch and record.tip == branch_tip:
        return None
    same = divergence(tree, base, made, branch_tip, "this data")
    if same is None or same.recommitted:
        return None
    if record is None or record.branch != series.branch:
        return "patchkit has no record of making it"
    changed = divergence(tree, record.base, record.patches, branch_tip, "what patchkit applied")
    if changed is None or changed.recommitted:
        return None  # what patchkit made last time, committed again: nothing of the user's is on it
    keep = f"'patchkit import --range {record.base[:12]}..{series.branch} --series {series.directory}'"
    return f"since patchkit applied it, it {changed.text}: to keep that, {keep} first"


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
