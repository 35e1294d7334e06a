"""The diff checker's reading of paths: what it accepts is what git would write, and only inside the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.errors import DataError
from patchkit.series.diffcheck import SeriesPaths, check_diff

SYMLINK = (
    "diff --git a/arch/link b/arch/link\nnew file mode 120000\n--- /dev/null\n+++ b/arch/link\n"
    "@@ -0,0 +1 @@\n+x86\n\\ No newline at end of file\n"
)
UNLINK = (
    "diff --git a/arch/link b/arch/link\ndeleted file mode 120000\n--- a/arch/link\n+++ /dev/null\n"
    "@@ -1 +0,0 @@\n-x86\n\\ No newline at end of file\n"
)
NEW_FILE = (
    "diff --git a/arch/link/f.c b/arch/link/f.c\nnew file mode 100644\n--- /dev/null\n+++ b/arch/link/f.c\n"
    "@@ -0,0 +1 @@\n+x\n"
)


def test_a_symlink_inside_the_tree_is_fine_and_recorded() -> None:
    summary = check_diff(Path("1.diff"), SYMLINK.encode())
    assert summary.symlinks == ("arch/link",)
    assert "arch/link" in summary.touched


def test_a_later_patch_may_replace_a_symlink_by_a_directory() -> None:
    paths = SeriesPaths()
    paths.add(Path("1.diff"), "patch 1", check_diff(Path("1.diff"), SYMLINK.encode()))
    with pytest.raises(DataError, match="goes through the symlink 'arch/link' that patch 1 creates"):
        paths.add(Path("2.diff"), "patch 2", check_diff(Path("2.diff"), NEW_FILE.encode()))
    replaced = check_diff(Path("3.diff"), (UNLINK + NEW_FILE).encode())
    assert replaced.unlinked == ("arch/link",)
    paths.add(Path("3.diff"), "patch 3", replaced)  # the link is gone first: the directory is a real one


def test_an_unquoted_name_with_spaces_is_split_where_git_splits_it() -> None:
    diff = "diff --git a/with space b/with space\nnew file mode 100644\n--- /dev/null\n+++ b/with space\n"
    diff += "@@ -0,0 +1 @@\n+x\n"
    assert "with space" in check_diff(Path("q.diff"), diff.encode()).touched


def test_an_octal_quoted_name_is_judged_unquoted() -> None:
    diff = '--- a/README\n+++ "b/\\056\\056/x"\n@@ -1 +1 @@\n-a\n+b\n'
    with pytest.raises(DataError, match=r"q\.diff:2: path 'b/\.\./x' leaves the tree through '\.\.'"):
        check_diff(Path("q.diff"), diff.encode())
