"""patchkit's own checkout: moves between states rewrite only what changed; the user's tree is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.errors import TreeError
from patchkit.kbuild.worktree import WorkTree
from patchkit.tree.repo import KernelTree
from tests.helpers import GitTree


def test_moving_between_states_rewrites_only_changed_files(small_tree: GitTree, tmp_path: Path) -> None:
    base = small_tree.head()
    tip = small_tree.commit("change tdx.c", {"arch/x86/coco/tdx/tdx.c": "int tdx_answer(void) { return 43; }\n"})
    before = small_tree.snapshot()
    work = WorkTree(KernelTree(small_tree.path), "demo", root=tmp_path / "work")
    work.move_to(base)
    assert (work.src / "README").read_text() == "tiny tree\n"
    readme_inode = (work.src / "README").stat().st_ino
    readme_mtime = (work.src / "README").stat().st_mtime_ns
    tdx_mtime = (work.src / "arch/x86/coco/tdx/tdx.c").stat().st_mtime_ns
    work.move_to(tip)
    assert work.current == tip
    assert (work.src / "arch/x86/coco/tdx/tdx.c").read_text().endswith("return 43; }\n")
    assert (work.src / "README").stat().st_ino == readme_inode
    assert (work.src / "README").stat().st_mtime_ns == readme_mtime
    assert (work.src / "arch/x86/coco/tdx/tdx.c").stat().st_mtime_ns >= tdx_mtime
    assert work.changed_paths(base, tip) == ["arch/x86/coco/tdx/tdx.c"]
    assert small_tree.snapshot() == before  # HEAD, index, work tree and refs of the user's tree


def test_files_a_state_does_not_have_are_removed(small_tree: GitTree, tmp_path: Path) -> None:
    base = small_tree.head()
    tip = small_tree.commit("new file", {"arch/x86/virt/Makefile": "obj-y += vmx/\n"})
    work = WorkTree(KernelTree(small_tree.path), "demo", root=tmp_path / "work")
    work.move_to(tip)
    assert (work.src / "arch/x86/virt/Makefile").is_file()
    work.move_to(base)
    assert not (work.src / "arch/x86/virt/Makefile").exists()


def test_a_second_run_on_the_same_series_is_refused(small_tree: GitTree, tmp_path: Path) -> None:
    work = WorkTree(KernelTree(small_tree.path), "demo", root=tmp_path / "work")
    other = WorkTree(KernelTree(small_tree.path), "demo", root=tmp_path / "work")
    busy = "another patchkit build or boot of this series is running"
    with work.locked(), pytest.raises(TreeError, match=busy), other.locked():
        pass
    with other.locked():  # free again afterwards
        pass
