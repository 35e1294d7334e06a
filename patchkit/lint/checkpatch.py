"""The tree's own ``scripts/checkpatch.pl --strict`` on each patch's mail, mapped to findings.

checkpatch.pl and its data files are read from the base commit (git objects, not the work tree)
into a private directory and run with ``--no-tree``; the ten runs go two at a time.
"""

from __future__ import annotations

import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from patchkit.errors import TreeError
from patchkit.lint.model import Hit
from patchkit.lint.registry import emits
from patchkit.lint.severity import Severity
from patchkit.tree.repo import KernelTree
from patchkit.util import proc

LEVELS: dict[str, Severity] = {"ERROR": "error", "WARNING": "warning", "CHECK": "info"}
_HEAD = re.compile(r"^(?P<level>ERROR|WARNING|CHECK):(?P<type>[A-Z0-9_]+): (?P<msg>.*)$")
_WHERE = re.compile(r"^#(?P<n>\d+): FILE: (?P<path>[^:]+):(?P<line>\d+):")
_DATA_FILES = ("scripts/checkpatch.pl", "scripts/spelling.txt", "scripts/const_structs.checkpatch")


@emits("checkpatch/*")
def parse_output(text: str) -> list[Hit]:
    """Parse checkpatch's default output (``--show-types``): one hit per report, at its level; a report
    without a file is on the patch's entry in series.yaml (path None)."""
    reports: list[Hit] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _HEAD.match(line)
        if m is None:
            continue
        path, number = None, 0
        where = _WHERE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if where is not None:
            path, number = where.group("path"), int(where.group("line"))
        rule = f"checkpatch/{m.group('type')}"
        reports.append(Hit(rule, path, number, m.group("msg"), severity=LEVELS[m.group("level")]))
    return reports


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
