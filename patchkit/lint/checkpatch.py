"""The tree's own ``scripts/checkpatch.pl --strict`` on each patch's mail (its reports become ``checkpatch/*``).

checkpatch.pl and its data files are read from the base commit (git objects, not the work tree)
into a private directory and run with ``--no-tree``; the ten runs go two at a time.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from patchkit.errors import TreeError
from patchkit.lint.model import Hit
from patchkit.lint.rules.checkpatch.checkpatch import parse_output
from patchkit.tree.repo import KernelTree
from patchkit.util import proc

_DATA_FILES = ("scripts/checkpatch.pl", "scripts/spelling.txt", "scripts/const_structs.checkpatch")


class Checkpatch:
    """checkpatch.pl from a commit of the tree, unpacked once into a temporary directory."""

    def __init__(self, tree: KernelTree, commit: str) -> None:
        self.tree = tree
        proc.require("perl")
        self._dir = tempfile.TemporaryDirectory(prefix="patchkit-checkpatch-")
        root = Path(self._dir.name)
        for name in _DATA_FILES:
            result = tree.run_git(["show", f"{commit}:{name}"])
            if result.returncode != 0:
                if name.endswith("checkpatch.pl"):
                    raise TreeError(f"{tree.path}: the base commit has no {name}")
                continue
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(result.stdout)
        self.script = root / "scripts" / "checkpatch.pl"

    def close(self) -> None:
        self._dir.cleanup()

    def mail(self, commit: str) -> bytes:
        return self.tree.git_bytes("format-patch", "-1", "--stdout", "--no-signature", commit)

    def run_one(self, commit: str) -> list[Hit]:
        mail = self.mail(commit)
        result = proc.run(
            ["perl", str(self.script), "--strict", "--no-tree", "--show-types", "--color=never", "-"],
            input_bytes=mail, env={"LC_ALL": "C"},
        )  # fmt: skip
        return parse_output(result.stdout.decode("utf-8", "replace"))

    def run_all(self, commits: list[str], jobs: int = 2) -> list[list[Hit]]:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(self.run_one, commits))
