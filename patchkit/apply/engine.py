"""Turn series data into commits on ``patchkit/<name>/v<N>``, all or nothing.

Commits are made with git's plumbing in a private index (``git apply
--cached``, ``write-tree``, ``commit-tree``), so nothing the user can see
changes until every patch has applied. Only then is the branch moved and
checked out, with interrupts held off for that short step. The committer is
the author and the commit date the author date: the same data always gives the
same commit ids, which is how ``status`` tells whether a branch matches.

Two applies on one tree take turns on a lock, and an apply killed with
SIGKILL is recognised and finished by the next one (see
:mod:`patchkit.apply.recovery`); the private index directories such runs leave in
the temporary directory are removed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from patchkit.apply import recovery
from patchkit.apply.grafting import TreeGrafter, touched_paths
from patchkit.apply.record import AppliedPatch, AppliedSeries, divergence, read_record, write_record
from patchkit.apply.statedir import StateDir
from patchkit.errors import ApplyError, TreeError
from patchkit.series.model import Patch, Series
from patchkit.tree import basetree
from patchkit.tree.repo import KernelTree
from patchkit.util import locking, proc
from patchkit.util.signals import deferred_interrupts

_FAILED_AT = re.compile(r"^error: patch failed: (?P<file>.+):(?P<line>\d+)$", re.MULTILINE)
_FILE_ERROR = re.compile(r"^error: (?P<file>[^:]+): (?P<why>.+)$", re.MULTILINE)
_BEYOND_SYMLINK = re.compile(r"^error: affected file '(?P<file>.+)' is beyond a symbolic link$", re.MULTILINE)
_SCRATCH_PREFIX = "patchkit-index-"


@dataclass(frozen=True)
class ApplyResult:
    record: AppliedSeries
    moved_from: str | None  # previous tip of the branch when --force moved it


def commit_env(patch: Patch) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": patch.author.name,
        "GIT_AUTHOR_EMAIL": patch.author.email,
        "GIT_AUTHOR_DATE": patch.date,
        "GIT_COMMITTER_NAME": patch.author.name,
        "GIT_COMMITTER_EMAIL": patch.author.email,
        "GIT_COMMITTER_DATE": patch.date,
    }


def make_commits(
    tree: KernelTree,
    series: Series,
    base: str,
    patches: tuple[Patch, ...],
    *,
    object_env: Mapping[str, str] | None = None,
) -> list[AppliedPatch]:
    """Create one commit per patch on top of ``base`` without touching HEAD, index or work tree.

    The private index holds only the paths the series touches; each full tree is grafted from
    the base tree (patchkit/apply/grafting.py). ``object_env`` (GIT_OBJECT_DIRECTORY and alternates)
    sends the new objects elsewhere, for trial applies that must leave no trace in the repository.
    """
    made: list[AppliedPatch] = []
    found = tree.run_git(["rev-parse", "--verify", "--quiet", f"{base}^{{tree}}"], env=object_env)
    base_tree = found.stdout.decode().strip()
    if found.returncode != 0 or not base_tree:
        raise TreeError(f"{tree.path}: {base} is not a commit")
    diffs = [series.diff_path(patch).resolve() for patch in patches]
    touched = touched_paths(tree, diffs)
    # A git child killed by an interrupt may still be dying when the directory goes: never fail the
    # run for that; whatever is left is removed by the next apply (_remove_stale_scratch).
    with tempfile.TemporaryDirectory(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-", ignore_cleanup_errors=True) as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index"), "GIT_LITERAL_PATHSPECS": "1", **(object_env or {})}
        listing = tree.git_bytes("ls-tree", "-r", "-z", base_tree, "--", *sorted(touched), env=env)
        tree.git("update-index", "-z", "--index-info", env=env, input_bytes=listing)
        grafter = TreeGrafter(tree, base_tree, touched, env)
        try:
            parent = base
            for patch, diff_path in zip(patches, diffs, strict=True):
                result = tree.run_git(["apply", "--cached", "--whitespace=nowarn", str(diff_path)], env=env)
                if result.returncode != 0:
                    raise ApplyError(_describe_failure(series, patch, result.stderr.decode("utf-8", "replace")))
                full_tree = grafter.graft(tree.git("write-tree", env=env).strip())
                commit = tree.git(
                    "commit-tree", full_tree, "-p", parent, "-F", "-",
                    env={**env, **commit_env(patch)}, input_bytes=patch.message().encode("utf-8"),
                ).strip()  # fmt: skip
                made.append(
                    AppliedPatch(number=patch.number, subject=patch.subject, commit=commit, overlay=patch.overlay)
                )
                parent = commit
        finally:
            grafter.close()
    return made


def _describe_failure(series: Series, patch: Patch, stderr: str) -> str:
    where = ""
    failed = _FAILED_AT.search(stderr)
    beyond = _BEYOND_SYMLINK.search(stderr)
    if beyond:
        where = f": {beyond['file']}: the path goes through a symlink in the tree (refused: it could lead outside)"
    elif failed:
        file_name, line = failed["file"], int(failed["line"])
        where = f": {file_name}" + _hunk_label(series.diff_path(patch), file_name, line)
    else:
        other = _FILE_ERROR.search(stderr)
        if other:
            where = f": {other['file']}: {other['why']}"
    return f"patch {patch.number} ({patch.subject}) does not apply{where} [{patch.diff}]; the tree was not changed"


def _hunk_label(diff_path: Path, file_name: str, line: int) -> str:
    try:
        patch_set = PatchSet(diff_path.read_text(encoding="utf-8", errors="surrogateescape"))
    except (OSError, UnidiffParseError):
        return f" at line {line}"
    for patched_file in patch_set:
        if patched_file.path != file_name:
            continue
        for index, hunk in enumerate(patched_file, start=1):
            if hunk.source_start == line or (hunk.source_start <= line < hunk.source_start + hunk.source_length):
                return (
                    f" hunk {index} (@@ -{hunk.source_start},{hunk.source_length} "
                    f"+{hunk.target_start},{hunk.target_length} @@)"
                )
    return f" at line {line}"


def find_base(tree: KernelTree, series: Series, explicit: str | None = None) -> str:
    """The commit whose tree is the series' declared base."""
    wanted = series.base.tree
    if explicit is not None:
        commit = tree.rev_parse(f"{explicit}^{{commit}}")
        if commit is None:
            raise TreeError(f"{tree.path}: --base {explicit}: no such commit")
        if tree.tree_of(commit) != wanted:
            raise TreeError(
                f"{tree.path}: --base {explicit} has tree {tree.tree_of(commit)}, "
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
        _remove_stale_scratch()
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
        why = _why_not_movable(tree, series, base_commit, made, previous_tip)
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


def _why_not_movable(
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


def _switch_to(tree: KernelTree, branch: str, tip: str, intent: recovery.Intent) -> None:
    # Own session: a terminal Ctrl-C must not kill git halfway through the checkout.
    child = subprocess.Popen(
        ["git", "-C", str(tree.path), "-c", "advice.detachedHead=false", "checkout", "-q", "-B", branch, tip],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        executable=proc.require("git"),
    )
    recovery.write_intent(tree, _with_child(intent, child.pid))
    _, stderr = child.communicate()
    if child.returncode != 0:
        recovery.clear_intent(tree)  # git undid its own half (it failed, it was not killed)
        detail = stderr.decode("utf-8", "replace").strip().splitlines()
        raise TreeError(f"{tree.path}: git checkout of {branch} failed: {detail[-1] if detail else 'unknown error'}")


def _with_child(intent: recovery.Intent, pid: int) -> recovery.Intent:
    return replace(intent, git_pid=pid, git_start=recovery.process_start(pid))


def _remove_stale_scratch() -> None:
    """Private index directories that runs killed with SIGKILL left in the temporary directory."""
    root = Path(tempfile.gettempdir())
    try:
        entries = list(root.glob(f"{_SCRATCH_PREFIX}*"))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(_SCRATCH_PREFIX) :].split("-", 1)[0]
        try:
            owned = entry.is_dir() and not entry.is_symlink() and entry.stat().st_uid == os.getuid()
        except OSError:
            continue
        if owned and pid_text.isdigit() and recovery.process_start(int(pid_text)) is None:
            shutil.rmtree(entry, ignore_errors=True)
