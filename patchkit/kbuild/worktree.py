"""patchkit's own checkout of the series, moved from state to state for incremental builds.

Lives in ``$XDG_CACHE_HOME/patchkit/work/<series>/``: ``src/`` (the sources),
``index`` (a private git index for ``src/``) and ``out/<config>/`` (one
``O=`` build directory per kconfig fragment). The user's checkout, HEAD and
index are never touched: objects are read from the tree's git directory with
``git --git-dir --work-tree read-tree --reset -u``, which rewrites only the
files whose content differs from the previous state, so make sees new mtimes
only where a patch changed something.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from patchkit.errors import EnvironmentProblem, GitError, TreeError
from patchkit.tree.repo import KernelTree
from patchkit.util import locking, paths, proc


class WorkTree:
    """The build checkout for one series (see the module docstring)."""

    def __init__(self, tree: KernelTree, series_name: str, root: Path | None = None) -> None:
        self.tree = tree
        self.root = root or paths.work_dir(series_name)
        self.src = self.root / "src"
        self.index = self.root / "index"
        self._state_file = self.root / "state"

    def out_dir(self, config_name: str) -> Path:
        return self.root / "out" / config_name

    @property
    def current(self) -> str | None:
        """The commit ``src/`` holds, when a previous move finished."""
        try:
            return self._state_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def move_to(self, commit: str) -> None:
        """Make ``src/`` hold exactly ``commit``, rewriting only what differs."""
        self.src.mkdir(parents=True, exist_ok=True)
        # Forget the state first: an interrupted move must not be trusted next time.
        with contextlib.suppress(FileNotFoundError):
            self._state_file.unlink()
        result = proc.run(
            [
                "git", f"--git-dir={self.tree.git_dir}", f"--work-tree={self.src}",
                "read-tree", "--reset", "-u", commit,
            ],
            cwd=self.src,
            env={"GIT_INDEX_FILE": str(self.index), "LC_ALL": "C"},
        )  # fmt: skip
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip()
            if "No space left" in detail:
                raise EnvironmentProblem(f"{self.src}: no space left on device while checking out {commit[:12]}")
            raise GitError(f"{self.src}: checking out {commit[:12]} failed: {detail.splitlines()[-1:] or '?'}")
        self._state_file.write_text(commit + "\n")

    def changed_paths(self, old: str, new: str) -> list[str]:
        out = self.tree.git("diff", "--name-only", "--no-renames", "-z", old, new)
        return [name for name in out.split("\0") if name]

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the work directory for this process; a second patchkit run gets a clear error."""
        busy = TreeError(f"{self.root}: another patchkit build or boot of this series is running; wait for it")
        with locking.exclusive(self.root / "lock", "building this series", busy=busy):
            yield
