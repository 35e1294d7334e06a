"""Does the applied branch still match the series data?

Commits are reproducible (see :mod:`patchkit.applying`), so the answer is a
comparison of commit ids: the data is turned into commits in a private index
and compared with what the branch holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from patchkit.applied import read_record
from patchkit.applying import make_commits
from patchkit.gitrepo import KernelTree
from patchkit.series.model import Series


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
    actual = tree.git("rev-list", "--reverse", f"{record.base}..{tip}").split()
    for index, want in enumerate(expected):
        if index >= len(actual):
            return BranchState(
                branch, True, tip, checked_out, False, f"ends before patch {want.number} ({want.subject})"
            )
        if actual[index] != want.commit:
            same_tree = tree.tree_of(actual[index]) == tree.tree_of(want.commit)
            what = "message or metadata" if same_tree else "content"
            return BranchState(
                branch, True, tip, checked_out, False,
                f"differs from the data at patch {want.number} ({want.subject}): {what} changed",
            )  # fmt: skip
    extra = len(actual) - len(expected)
    return BranchState(branch, True, tip, checked_out, False, f"has {extra} commit(s) beyond the series")
