"""The kernel tree as a git repository, and the few git questions patchkit asks of it.

GitPython opens the repository and says what it is (bare or not, its top, its
git directory and common directory), here and nowhere else; every git command
runs through :meth:`KernelTree.run_git` (:mod:`patchkit.util.proc`, the one
process runner). GitPython is imported only once git itself is known to be
installed: on import it looks for the git program and raises ImportError when
there is none, which would be a traceback instead of the one line naming the
package to install.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from patchkit.errors import GitError, TreeError
from patchkit.util import proc

# Pinned so that diffs and messages look the same whatever the user's config says.
_GIT_CONFIG = (
    "-c", "core.abbrev=12",
    "-c", "core.autocrlf=false",
    "-c", "core.quotepath=false",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.relative=false",
    "-c", "diff.algorithm=myers",
    "-c", "color.ui=false",
    "-c", "advice.detachedHead=false",
)  # fmt: skip

# Markers git leaves in GIT_DIR while an operation waits for the user.
_IN_PROGRESS = {
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase or git am",
    "MERGE_HEAD": "a merge",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
    "BISECT_LOG": "a bisect",
}


def patchkit_identity(date: str = "@0 +0000") -> dict[str, str]:
    """The git environment of the commits patchkit makes itself (the base snapshot, scratch commits): its own
    author and committer, never the user's, at ``date`` (the epoch by default, so the same tree gives the same
    commit id)."""
    return {
        "GIT_AUTHOR_NAME": "patchkit",
        "GIT_AUTHOR_EMAIL": "patchkit@localhost",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": "patchkit",
        "GIT_COMMITTER_EMAIL": "patchkit@localhost",
        "GIT_COMMITTER_DATE": date,
    }


class KernelTree:
    """A git work tree holding a kernel source tree."""

    def __init__(self, path: Path) -> None:
        self.path = path
        proc.require("git")
        os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # patchkit reports a missing git itself
        import git

        try:
            self.repo = git.Repo(path)
        except git.NoSuchPathError:
            raise TreeError(f"{path}: no such directory") from None
        except git.InvalidGitRepositoryError:
            raise TreeError(f"{path}: not a git repository (run 'git init' there, or use the default tree)") from None
        if self.repo.bare or self.repo.working_tree_dir is None:
            raise TreeError(f"{path}: a bare repository has no work tree to apply to")
        if Path(self.repo.working_tree_dir).resolve() != path.resolve():
            raise TreeError(f"{path}: not the top of a git work tree (that is {self.repo.working_tree_dir})")
        self.git_dir = Path(self.repo.git_dir)
        self.common_dir = Path(self.repo.common_dir)  # differs from git_dir in a linked worktree

    def git(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
        check: bool = True,
        new_session: bool = False,
    ) -> str:
        """Run git in the tree and return its stdout; raise :class:`GitError` on failure.

        ``new_session``: git gets a session of its own, so a terminal's Ctrl-C reaches only patchkit (which
        holds it off until git is done, where git writes into patchkit's own files).
        """
        return self.git_bytes(*args, env=env, input_bytes=input_bytes, check=check, new_session=new_session).decode(
            "utf-8", "replace"
        )

    def git_bytes(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
        check: bool = True,
        new_session: bool = False,
    ) -> bytes:
        result = self.run_git(args, env=env, input_bytes=input_bytes, new_session=new_session)
        if check and result.returncode != 0:
            stderr = result.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = stderr[-1] if stderr else f"exit {result.returncode}"
            raise GitError(f"{self.path}: git {args[0]} failed: {detail}")
        stdout: bytes = result.stdout
        return stdout

    def run_git(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
        new_session: bool = False,
    ) -> proc.Completed:
        full_env = {"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
        if env:
            full_env.update(env)
        argv = ["git", *_GIT_CONFIG, "-C", str(self.path), *args]
        return proc.run(argv, env=full_env, input_bytes=input_bytes, new_session=new_session)

    def rev_parse(self, rev: str) -> str | None:
        result = self.run_git(["rev-parse", "--verify", "--quiet", "--end-of-options", rev])
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def tree_of(self, rev: str) -> str | None:
        return self.rev_parse(f"{rev}^{{tree}}")

    def current_branch(self) -> str | None:
        """The checked-out branch name, or None when HEAD is detached or unborn."""
        result = self.run_git(["symbolic-ref", "--quiet", "--short", "HEAD"])
        return result.stdout.decode().strip() if result.returncode == 0 else None

    def operation_in_progress(self) -> str | None:
        for marker, what in _IN_PROGRESS.items():
            if (self.git_dir / marker).exists():
                return what
        return None

    def dirty_paths(self) -> list[str]:
        """Tracked paths with staged or unstaged changes."""
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=all")
        return [entry[3:] for entry in out.split("\0") if entry]

    def require_clean(self, purpose: str) -> None:
        """Refuse to go on when the tree is mid-operation or has uncommitted changes."""
        operation = self.operation_in_progress()
        if operation is not None:
            raise TreeError(f"{self.path}: {operation} is in progress; finish or abort it before {purpose}")
        if self.rev_parse("HEAD") is None:
            raise TreeError(f"{self.path}: the repository has no commits yet")
        dirty = self.dirty_paths()
        if dirty:
            more = f" and {len(dirty) - 1} more" if len(dirty) > 1 else ""
            raise TreeError(
                f"{self.path}: uncommitted changes in {dirty[0]}{more}; commit or stash them before {purpose}"
            )

    def refs_containing(self, commit: str) -> list[str]:
        out = self.git("for-each-ref", "--count=1", "--format=%(refname)", "--contains", commit)
        return [line for line in out.splitlines() if line]
