"""patchkit.tree.snapshot writes the index `git add -f -A` would, byte for byte, hashing in parallel."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from patchkit.tree import snapshot


def git(top: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(top), *args], capture_output=True, text=True, check=True).stdout


def make_tree(top: Path) -> None:
    (top / "arch" / "x86" / "include").mkdir(parents=True)
    (top / "scripts").mkdir()
    (top / "empty-dir").mkdir()
    (top / ".gitignore").write_text("/*\n")  # Debian's: every top-level path ignored, so add needs -f
    (top / ".gitattributes").write_text("*.c diff=cpp\n")
    (top / "Makefile").write_text("VERSION = 6\n")
    (top / "arch" / "x86" / "include" / "tdx.h").write_text("struct tdx_module_args;\n")
    for number in range(300):  # enough files that every worker gets some
        (top / "arch" / "x86" / f"f{number:03}.c").write_text(f"int f{number};\n")
    (top / "scripts" / "checkpatch.pl").write_text("#!/usr/bin/perl\n")
    (top / "scripts" / "checkpatch.pl").chmod(0o755)
    os.symlink("include/tdx.h", top / "arch" / "x86" / "tdx-link.h")
    os.symlink("x86/include", top / "arch" / "include-link")  # a symlink to a directory
    (top / "ünïcode name with space").write_text("x\n")


@pytest.mark.parametrize("jobs", [1, 3])
def test_the_index_is_git_adds_byte_for_byte(tmp_path: Path, jobs: int) -> None:
    top = tmp_path / "linux"
    top.mkdir()
    make_tree(top)
    git(top, "init", "-q")
    git(top, "add", "-f", "-A")
    by_git = (top / ".git" / "index").read_bytes()
    tree_by_git = git(top, "write-tree").strip()
    (top / ".git" / "index").unlink()

    snapshot.stage_all(top, jobs=jobs)

    assert (top / ".git" / "index").read_bytes() == by_git
    assert git(top, "write-tree").strip() == tree_by_git
    assert git(top, "status", "--porcelain", "--ignored=no", "--untracked-files=all").count("\n") == len(
        git(top, "ls-files").splitlines()
    )  # every file staged as added, nothing modified or untracked
    assert git(top, "diff-files", "--name-only") == ""  # the stat data matches the work tree


def test_objects_are_written_on_a_fresh_repository(tmp_path: Path) -> None:
    top = tmp_path / "linux"
    top.mkdir()
    make_tree(top)
    git(top, "init", "-q")
    snapshot.stage_all(top, jobs=2)
    tree = git(top, "write-tree").strip()
    git(top, "fsck", "--no-dangling", "--strict")
    assert git(top, "cat-file", "-p", f"{tree}:arch/x86/tdx-link.h") == "include/tdx.h"
    assert "100755 blob" in git(top, "ls-tree", tree, "scripts/checkpatch.pl")
    assert "120000 blob" in git(top, "ls-tree", tree, "arch/include-link")


def test_a_nested_repository_is_left_to_git_add(tmp_path: Path) -> None:
    top = tmp_path / "linux"
    (top / "tools" / "sub" / ".git").mkdir(parents=True)
    git(top, "init", "-q")
    with pytest.raises(snapshot.NotSnapshotable, match="tools/sub"):
        snapshot.stage_all(top)


def test_a_tree_whose_attributes_convert_content_is_left_to_git_add(tmp_path: Path) -> None:
    top = tmp_path / "linux"
    (top / "Documentation").mkdir(parents=True)
    (top / "Documentation" / ".gitattributes").write_text("# line endings\n*.txt text eol=crlf\n")
    git(top, "init", "-q")
    with pytest.raises(snapshot.NotSnapshotable, match=r"Documentation/\.gitattributes"):
        snapshot.stage_all(top)
