"""The states of an applied series, and whether they are still what the data says.

A state is a tree commit the series passes through: the base, the commit after
each mailed patch, and (when the series has overlay patches) the overlays on
top. Lint walks the base and the mailed states; build and boot walk them all.
The apply record (:mod:`patchkit.applied`) names the commits; the freshness
check (:func:`patchkit.matching.compare_branch`) re-makes the mailed patches
and the overlays from the data, so a record left behind by an edit is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from patchkit.applied import AppliedSeries, read_record
from patchkit.gitrepo import KernelTree
from patchkit.matching import BranchState, compare_branch
from patchkit.series.model import Series

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
