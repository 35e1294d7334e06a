"""Commits from series data, made in a private index without touching HEAD, the index or the work tree.

Commits are made with git's plumbing (``git apply --cached``, ``write-tree``,
``commit-tree``) in a private index that holds only the paths the series
touches; each full tree is grafted from the base tree
(:mod:`patchkit.apply.grafting`). The committer is the author and the commit
date the author date: the same data always gives the same commit ids, which is
how apply, status and format tell whether a branch matches the data
(:mod:`patchkit.apply.states`). The private index lives in a directory of the
temporary directory named for the process; :func:`remove_stale_scratch` removes
those that runs killed with SIGKILL left.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from patchkit.apply.grafting import TreeGrafter, touched_paths
from patchkit.apply.record import AppliedPatch
from patchkit.apply.recovery import process_start
from patchkit.errors import ApplyError, PatchkitError, TreeError
from patchkit.series.diffcheck import MAX_DIFF_BYTES
from patchkit.series.model import Patch, Series
from patchkit.tree.repo import KernelTree
from patchkit.util import inputfile

_FAILED_AT = re.compile(r"^error: patch failed: (?P<file>.+):(?P<line>\d+)$", re.MULTILINE)
_FILE_ERROR = re.compile(r"^error: (?P<file>[^:]+): (?P<why>.+)$", re.MULTILINE)
_BEYOND_SYMLINK = re.compile(r"^error: affected file '(?P<file>.+)' is beyond a symbolic link$", re.MULTILINE)
_SCRATCH_PREFIX = "patchkit-index-"


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
    # run for that; whatever is left is removed by the next apply (remove_stale_scratch).
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
        raw = inputfile.read_limited(diff_path, MAX_DIFF_BYTES)
        patch_set = PatchSet(raw.decode("utf-8", errors="surrogateescape"))
    except (PatchkitError, UnidiffParseError):
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


def remove_stale_scratch() -> None:
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
        if owned and pid_text.isdigit() and process_start(int(pid_text)) is None:
            shutil.rmtree(entry, ignore_errors=True)
