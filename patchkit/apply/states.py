"""The states of an applied series, and whether they are still what the data says.

A state is a tree commit the series passes through: the base, the commit after
each mailed patch, and (when the series has overlay patches) the overlays on
top. Lint walks the base and the mailed states; build and boot walk them all.
The apply record (:mod:`patchkit.apply.record`) names the commits; the freshness
check (:func:`compare_branch`) re-makes the mailed patches and the overlays
from the data in a private index (commits are reproducible, see
:mod:`patchkit.apply.engine`) and compares commit ids, so a record left behind by
an edit of any patch, overlays included, is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from patchkit.apply.engine import make_commits
from patchkit.apply.record import AppliedSeries, divergence, read_record
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
