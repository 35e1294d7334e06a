"""Commits made from a small index grafted onto the base tree equal those a full index gives."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from patchkit.apply.commits import make_commits
from patchkit.series.load import load_series
from patchkit.tree.repo import KernelTree
from tests.helpers import GitTree, small_series_data, write_series

FILES = {
    "Makefile": "VERSION = 6\n",
    "arch/x86/coco/tdx/tdx.c": "int a;\nint b;\n",
    "arch/x86/coco/tdx/old.c": "int gone;\n",
    "arch/x86/include/asm/tdx.h": "#define X 1\n",
    "drivers/virt/only.c": "int only;\n",
    "docs/with space.txt": "spaced\n",
    "tools/run.sh": "#!/bin/sh\n",
}


def _diff(tree: GitTree, change: dict[str, str | None], mode: str | None = None) -> str:
    """Make a canonical diff by committing ``change`` on a scratch branch (None deletes a file)."""
    tree.git("checkout", "-q", "-B", "scratch", "HEAD")
    for name, text in change.items():
        path = tree.path / name
        if text is None:
            tree.git("rm", "-q", name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            tree.git("add", name)
    if mode is not None:
        (tree.path / mode).chmod(0o755)
        tree.git("add", mode)
    tree.git("commit", "-q", "-m", "scratch")
    return tree.git("diff-tree", "-p", "--no-renames", "HEAD^", "HEAD")


def test_grafted_trees_equal_full_index_trees(tmp_path: Path) -> None:
    tree = GitTree.create_small(tmp_path / "linux", FILES)
    steps: list[dict[str, str | None]] = [
        {"arch/x86/coco/tdx/tdx.c": "int a;\nint b2;\n", "arch/x86/virt/vmx/tdx/seamcall.S": "/* new dir */\n"},
        {"arch/x86/coco/tdx/old.c": None, "docs/with space.txt": "spaced, changed\n"},
        {"drivers/virt/only.c": None, "drivers/virt/new/deep/a.c": "int deep;\n"},  # a dir emptied, one made
        {"tools/run.sh": "#!/bin/sh\nexit 0\n"},
    ]
    diffs: dict[str, str] = {}
    patches = []
    for number, change in enumerate(steps, start=1):
        name = f"{number:04d}.diff"
        diffs[name] = _diff(tree, change, mode="tools/run.sh" if number == 4 else None)
        patches.append({
            "subject": f"x: Step {number}", "author": {"name": "A", "email": "a@example.org"},
            "date": "2026-03-01T00:00:00+00:00", "diff": name,
        })  # fmt: skip
    expected = [tree.tree_hash(f"HEAD~{len(steps) - k}") for k in range(1, len(steps) + 1)]
    tree.git("checkout", "-q", "main")
    directory = write_series(tmp_path / "series" / "demo", small_series_data(tree, patches), diffs)
    series = load_series(directory)
    kernel = KernelTree(tree.path)
    base = tree.git("rev-parse", "patchkit-base").strip()
    made = make_commits(kernel, series, base, series.patches)
    assert [tree.tree_hash(m.commit) for m in made] == expected
    assert tree.git("ls-tree", "-r", "--name-only", made[2].commit).count("drivers/virt/only.c") == 0
    assert tree.git("ls-tree", made[1].commit, "drivers/virt") != ""  # still holds only.c at step 2
    assert tree.git("ls-tree", made[2].commit, "drivers/virt/").split()[-1] == "drivers/virt/new"
    # Nothing of the user's changed: HEAD, index and work tree are where they were.
    assert tree.status() == "" and tree.git("symbolic-ref", "--short", "HEAD").strip() == "main"
    fsck = subprocess.run(["git", "-C", str(tree.path), "fsck", "--no-dangling"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    assert not [p for p in os.listdir(tree.path / ".git") if p.startswith("sharedindex")]
