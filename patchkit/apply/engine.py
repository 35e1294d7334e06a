"""Turn series data into commits on ``patchkit/<name>/v<N>``, all or nothing.

The commits are made in a private index (:mod:`patchkit.apply.commits`), so
nothing the user can see changes until every patch has applied. Only then is
the branch moved and checked out, with interrupts held off for that short step;
an existing branch is moved only when :func:`patchkit.apply.states.why_not_movable`
finds nothing of the user's on it (or with ``--force``).

Two applies on one tree take turns on a lock, and an apply killed with
SIGKILL is recognised and finished by the next one (see
:mod:`patchkit.apply.recovery`); the private index directories such runs leave in
the temporary directory are removed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from patchkit.apply import recovery
from patchkit.apply.commits import make_commits, remove_stale_scratch
from patchkit.apply.record import AppliedSeries, write_record
from patchkit.apply.statedir import StateDir
from patchkit.apply.states import why_not_movable
from patchkit.errors import TreeError
from patchkit.series.model import Series
from patchkit.tree import basetree
from patchkit.tree.repo import KernelTree
from patchkit.util import locking, proc
from patchkit.util.signals import deferred_interrupts


@dataclass(frozen=True)
class ApplyResult:
    record: AppliedSeries
    moved_from: str | None  # previous tip of the branch when --force moved it


def find_base(tree: KernelTree, series: Series, explicit: str | None = None) -> str:
    """The commit whose tree is the series' declared base."""
    wanted = series.base.tree
    if explicit is not None:
        commit = tree.rev_parse(f"{explicit}^{{commit}}")
        if commit is None:
            raise TreeError(f"{tree.path}: --base {explicit}: no such commit")
        found = tree.tree_of(commit)
        if found != wanted:
            raise TreeError(
                f"{tree.path}: --base {explicit} has tree {found}, "
                f"but series '{series.name}' is based on tree {wanted} ({series.base.package} {series.base.version})"
            )
        return commit
    for rev in (basetree.BASE_REF, "HEAD"):
        commit = tree.rev_parse(f"{rev}^{{commit}}")
        if commit is not None and tree.tree_of(commit) == wanted:
            return commit
    # The base may sit a little below HEAD (the user's own work on top of it).
    log = tree.git("log", "--format=%H %T", "-n", "2000", "HEAD")
    for line in log.splitlines():
        commit, tree_hash = line.split()
        if tree_hash == wanted:
            return commit
    raise TreeError(
        f"{tree.path}: not the declared base: no commit near HEAD has tree {wanted} "
        f"({series.base.package} {series.base.version}); pass --base REV, or omit --tree to use the default tree"
    )


def check_head_state(tree: KernelTree, branch: str) -> str | None:
    """Refuse states that switching branches would clobber; return the branch's current tip."""
    tree.require_clean("applying a series")
    if tree.current_branch() is None:
        head = tree.rev_parse("HEAD")
        if head is not None and not tree.refs_containing(head):
            raise TreeError(
                f"{tree.path}: HEAD is detached at {head[:12]}, which no branch or tag contains; "
                "switching away would orphan it (create a branch for it first)"
            )
    return tree.rev_parse(f"refs/heads/{branch}")


def _check_untracked_collisions(tree: KernelTree, tip: str) -> None:
    """Refuse when a file the series creates already sits untracked (maybe ignored) in the tree."""
    added = tree.git("diff", "--name-only", "--no-renames", "--diff-filter=A", "-z", "HEAD", tip)
    for name in (n for n in added.split("\0") if n):
        if (tree.path / name).exists() or (tree.path / name).is_symlink():
            raise TreeError(
                f"{tree.path}: untracked file {name} would be overwritten by the series; move it away first"
            )


def apply_series(
    tree: KernelTree,
    series: Series,
    *,
    force: bool = False,
    base: str | None = None,
    notify: Callable[[str], None] | None = None,
) -> ApplyResult:
    """Apply under the tree's apply lock, after finishing what an interrupted apply left (said via ``notify``)."""
    say = notify or (lambda text: None)
    state = StateDir(tree)
    with locking.exclusive(state.apply_lock, "applying a series to this tree", say):
        recovery.recover(tree, say)
        state.remove_temporaries()
        remove_stale_scratch()
        return _apply_locked(tree, series, force=force, base=base)


def _apply_locked(tree: KernelTree, series: Series, *, force: bool, base: str | None) -> ApplyResult:
    branch = series.branch
    previous_tip = check_head_state(tree, branch)
    base_commit = find_base(tree, series, base)
    # Overlays continue the count after the mailed patches: one pass makes both, from one private index.
    made_all = make_commits(tree, series, base_commit, series.mailed_patches + series.overlay_patches)
    made, overlays = made_all[: len(series.mailed_patches)], made_all[len(series.mailed_patches) :]
    tip = made[-1].commit
    # Commits are reproducible: a branch already at this tip holds exactly this data, so
    # applying again (the daily `apply && verify`) moves nothing and needs no --force.
    if previous_tip is not None and previous_tip != tip and not force:
        why = why_not_movable(tree, series, base_commit, made, previous_tip)
        if why is not None:
            raise TreeError(
                f"{tree.path}: branch {branch} already exists and does not hold this data; pass --force to move it "
                f"(its tip {previous_tip[:12]} stays reachable in the reflog); {why}"
            )
    _check_untracked_collisions(tree, tip)
    record = AppliedSeries(
        series=series.name,
        revision=series.revision,
        branch=branch,
        base=base_commit,
        patches=tuple(made),
        overlays=tuple(overlays),
    )
    with deferred_interrupts():
        intent = recovery.Intent(
            pid=os.getpid(), pid_start=recovery.process_start(os.getpid()), started=time.time(), branch=branch,
            tip=tip, from_commit=tree.rev_parse("HEAD") or "", record=asdict(record),
        )  # fmt: skip
        recovery.write_intent(tree, intent)
        _switch_to(tree, branch, tip, intent)
        write_record(tree, record)
        recovery.clear_intent(tree)
    return ApplyResult(record=record, moved_from=previous_tip if previous_tip != tip else None)


def _switch_to(tree: KernelTree, branch: str, tip: str, intent: recovery.Intent) -> None:
    # Own session: a terminal Ctrl-C must not kill git halfway through the checkout.
    child = proc.start(
        ["git", "-C", str(tree.path), "-c", "advice.detachedHead=false", "checkout", "-q", "-B", branch, tip],
        stdout=proc.PIPE,
        stderr=proc.PIPE,
        new_session=True,
    )
    recovery.write_intent(tree, _with_child(intent, child.pid))
    _, stderr = child.communicate()
    if child.returncode != 0:
        recovery.clear_intent(tree)  # git undid its own half (it failed, it was not killed)
        detail = stderr.decode("utf-8", "replace").strip().splitlines()
        raise TreeError(f"{tree.path}: git checkout of {branch} failed: {detail[-1] if detail else 'unknown error'}")


def _with_child(intent: recovery.Intent, pid: int) -> recovery.Intent:
    return replace(intent, git_pid=pid, git_start=recovery.process_start(pid))
