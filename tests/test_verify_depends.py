"""verify checks depends:: a sibling series' diffs in the base's content, else its patch-ids below the base.

The prerequisite here is a second series of the project ("prereq", two patches), applied to the small tree;
the series that depends on it ("demo", one patch) is applied on top of that branch (or, to miss it, on the
bare base). Every check leaves the tree's refs, index, work tree and objects as they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patchkit.series import patchids
from tests.helpers import (
    DIFF_NEW_FILE,
    DIFF_README,
    CliResult,
    GitTree,
    Project,
    run_cli,
    small_series_data,
    write_series,
)

PREREQ_ID = "20260101-prereq-0123456789ab"
_NOTES = (
    "diff --git a/arch/x86/coco/tdx/NOTES b/arch/x86/coco/tdx/NOTES\nnew file mode 100644\n"
    "--- /dev/null\n+++ b/arch/x86/coco/tdx/NOTES\n@@ -0,0 +1 @@\n+Notes on the module.\n"
)


def _prerequisite(project: Path, tree: GitTree) -> Path:
    """series/prereq (the small tree's two demo patches, with a change-id), applied: branch patchkit/prereq/v1."""
    data = small_series_data(tree)
    data.update(name="prereq", change_id=PREREQ_ID)
    directory = write_series(project / "series/prereq", data,
                             {"0001-readme.diff": DIFF_README, "0002-makefile.diff": DIFF_NEW_FILE})  # fmt: skip
    applied = run_cli("apply", "series/prereq", "--tree", str(tree.path), cwd=project)
    assert applied.code == 0, applied.err
    return directory


def _dependent(project: Path, tree: GitTree, depends: list[dict[str, Any]], on: str) -> Project:
    """series/demo: one patch, based on ``on``'s tree and applied there, declaring ``depends``."""
    data = small_series_data(tree, [{
        "subject": "x86/tdx: Add notes", "author": {"name": "Test Author", "email": "author@example.org"},
        "date": "2026-03-01T00:00:00+00:00", "body": "For the reader.",
        "trailers": ["Signed-off-by: Test Author <author@example.org>"], "diff": "0001-notes.diff",
    }])  # fmt: skip
    data.update(depends=depends, base={"package": "linux-source-6.1", "version": "6.1.99", "tree": tree.tree_hash(on)})
    write_series(project / "series/demo", data, {"0001-notes.diff": _NOTES})
    applied = run_cli("apply", "series/demo", "--tree", str(tree.path), "--base", on, cwd=project)
    assert applied.code == 0, applied.err
    return Project(project, tree)


def _verify(project: Project, results: Path) -> tuple[CliResult, dict[str, Any]]:
    tree = project.tree
    before = tree.snapshot(), tree.git("count-objects", "-v")
    result = project.cli("verify", "series/demo", "--tree", str(tree.path), "--no-lint", "--no-build", "--no-boot",
                         "--results", str(results))  # fmt: skip
    assert (tree.snapshot(), tree.git("count-objects", "-v")) == before  # nothing written in the tree
    report: dict[str, Any] = json.loads((results / "report.json").read_text())
    return result, report


def test_a_sibling_series_in_the_base_passes(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    _prerequisite(project, small_tree)
    demo = _dependent(project, small_tree, [{"change_id": PREREQ_ID, "revision": 1}], "patchkit/prereq/v1")
    result, report = _verify(demo, tmp_path / "results")
    assert result.code == 0, result.out + result.err
    line = f"depends: ok ({PREREQ_ID} v1: its 2 patch(es) (v1, the current data) are in the base)"
    assert line in result.out.splitlines()
    assert report["depends"] == [{
        "dependency": f"{PREREQ_ID} v1", "change_id": PREREQ_ID, "revision": 1, "status": "present",
        "failed": False, "detail": "its 2 patch(es) (v1, the current data) are in the base",
    }]  # fmt: skip
    assert report["verdict"] == "passed" and report["exit_code"] == 0


def test_a_sibling_series_missing_from_the_base_fails_naming_its_patch(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    _prerequisite(project, small_tree)
    demo = _dependent(project, small_tree, [{"change_id": PREREQ_ID}], "patchkit-base")
    result, report = _verify(demo, tmp_path / "results")
    assert result.code == 1
    # undone last patch first: patch 2 is the one found missing
    why = "not in the base: patch 2 (x86/virt: Add a Makefile): arch/x86/virt/Makefile: does not exist in index"
    assert f"depends: FAILED ({PREREQ_ID}: {why} (v1, the current data))" in result.out
    assert report["depends"][0]["status"] == "missing" and report["depends"][0]["failed"] is True
    assert report["verdict"] == f"FAILED: depends ({PREREQ_ID}: {why} (v1, the current data))"


def test_a_change_id_the_project_does_not_have_is_a_failed_check(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    other = "20260101-elsewhere-0123456789ab"
    demo = _dependent(project, small_tree, [{"change_id": other, "revision": 2}], "patchkit-base")
    result, report = _verify(demo, tmp_path / "results")
    assert result.code == 1
    assert f"depends: FAILED ({other} v2: its patch-ids are unknown: not a series in series)" in result.out
    assert report["depends"][0]["status"] == "unknown"


@pytest.mark.parametrize("known", [True, False])
def test_patch_ids_are_looked_up_below_the_base(tmp_path: Path, small_tree: GitTree, known: bool) -> None:
    project = tmp_path / "project"
    prereq = _prerequisite(project, small_tree)
    patch_ids = [patchids.patch_id((prereq / name).read_bytes()) for name in ("0001-readme.diff", "0002-makefile.diff")]
    if not known:
        patch_ids[1] = "f" * 40
    demo = _dependent(project, small_tree, [{"patch_ids": patch_ids}], "patchkit/prereq/v1")
    result, report = _verify(demo, tmp_path / "results")
    label = f"2 patch(es) from {patch_ids[0][:12]}"
    if known:
        tip = small_tree.git("rev-parse", "patchkit/prereq/v1").strip()
        assert result.code == 0, result.out
        assert f"depends: ok ({label}: its 2 patch(es) are below the base (newest: {tip[:12]}))" in result.out
    else:
        assert result.code == 1
        assert (
            f"depends: FAILED ({label}: 1 of its 2 patch(es) are not among the 2 commit(s) below the base "
            "(first missing: patch-id ffffffffffff))"
        ) in result.out
        assert report["depends"][0]["status"] == "missing"


def test_a_base_without_history_cannot_be_checked_and_does_not_fail(tmp_path: Path, small_tree: GitTree) -> None:
    """Debian's base is one commit: patch-ids have nowhere to be looked up."""
    project = tmp_path / "project"
    demo = _dependent(project, small_tree, [{"patch_ids": ["1" * 40]}], "patchkit-base")
    result, report = _verify(demo, tmp_path / "results")
    assert result.code == 0, result.out
    assert "depends: cannot check (1 patch(es) from 111111111111: cannot check: the base" in result.out
    assert "has no commit history to search (one commit, as Debian's base)" in result.out
    assert report["depends"][0]["status"] == "cannot check" and report["depends"][0]["failed"] is False


def test_the_revision_needed_is_checked_from_its_snapshot(tmp_path: Path, small_tree: GitTree) -> None:
    """prereq v1 recorded by revise (history/v1), its data then changed for v2: demo needs v1, which is in the
    base; checking the current data instead would fail."""
    project = tmp_path / "project"
    prereq = _prerequisite(project, small_tree)
    prereq_project = Project(project, small_tree)
    text = (prereq / "series.yaml").read_text()
    (prereq / "series.yaml").write_text(
        text + "cover:\n  subject: 'prereq: Two changes'\n  body: Why.\nchangelog:\n- revision: 1\n  changes: First.\n"
    )
    assert prereq_project.cli("revise", "series/prereq").code == 0
    makefile = prereq / "0002-makefile.diff"
    makefile.write_text(makefile.read_text().replace("+obj-y += vmx/", "+obj-y += vmx/ tdx/"))
    demo = _dependent(project, small_tree, [{"change_id": PREREQ_ID, "revision": 1}], "patchkit/prereq/v1")
    result, _ = _verify(demo, tmp_path / "results")
    assert result.code == 0, result.out
    assert f"depends: ok ({PREREQ_ID} v1: its 2 patch(es) (v1, history/v1) are in the base)" in result.out
    demo.mutate(lambda d: d["depends"][0].pop("revision"))  # v2, its current data: not what the base holds
    result, _ = _verify(demo, tmp_path / "results2")
    assert result.code == 1 and "patch 2 (x86/virt: Add a Makefile)" in result.out
    assert "(v2, the current data))" in result.out
