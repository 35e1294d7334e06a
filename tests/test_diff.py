"""patchkit diff vN vM: git range-diff between recorded revisions and the current data, changing nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import SMALL_FILES, GitTree, run_cli

_HELPERS = "".join(f"int tdx_helper_{n}(void)\n{{\n\treturn {n};\n}}\n\n" for n in range(1, 6))
_NOTES = "".join(f"Line {n} of the notes on how the module is called.\n" for n in range(1, 9))


def _series_v2(tmp_path: Path, tree: GitTree) -> Path:
    """A two-patch series imported from a branch, v1 recorded by revise, v2 with patch 2 changed."""
    tree.git("checkout", "-q", "-b", "feature", "patchkit-base")
    c_file = "arch/x86/coco/tdx/tdx.c"
    tree.commit(
        "x86/tdx: Add helpers\n\nThey are needed.\n\nSigned-off-by: Test Author <author@example.org>\n",
        {c_file: (tree.path / c_file).read_text() + "\n" + _HELPERS},
    )
    tree.commit(
        "x86/tdx: Add notes\n\nFor the reader.\n\nSigned-off-by: Test Author <author@example.org>\n",
        {"arch/x86/coco/tdx/NOTES": _NOTES},
    )
    tree.git("checkout", "-q", "main")
    project = tmp_path / "project"
    project.mkdir()
    result = run_cli("import", "--range", "patchkit-base..feature", "--tree", str(tree.path), "--name", "demo",
                     cwd=project)  # fmt: skip
    assert result.code == 0, result.err
    yaml_path = project / "series/demo/series.yaml"
    data: dict[str, Any] = yaml.safe_load(yaml_path.read_text())
    data["cover"] = {"subject": "demo: Helpers and notes", "body": "Why."}
    yaml_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    assert run_cli("revise", cwd=project).code == 0
    notes = project / "series/demo/0002-x86-tdx-add-notes.diff"
    notes.write_text(notes.read_text().replace("+Line 4 of the notes", "+Line 4 (reworded) of the notes"))
    return project


def test_diff_between_a_recorded_revision_and_the_current_data(tmp_path: Path, small_tree: GitTree) -> None:
    project = _series_v2(tmp_path, small_tree)
    before = small_tree.snapshot()
    objects = small_tree.git("count-objects", "-v")
    result = run_cli("diff", "v1", "v2", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("1:  ") and " = 1:  " in lines[0] and lines[0].endswith("x86/tdx: Add helpers")
    assert lines[1].startswith("2:  ") and " ! 2:  " in lines[1] and lines[1].endswith("x86/tdx: Add notes")
    assert "    -+Line 4 of the notes on how the module is called." in result.out
    assert "    ++Line 4 (reworded) of the notes on how the module is called." in result.out
    assert "range-diff of v1 (history/v1) against v2 (the current data)" in result.err
    # nothing written in the tree: refs, index, work tree, objects
    assert small_tree.snapshot() == before
    assert small_tree.git("count-objects", "-v") == objects
    # the other way round, with the series named, and the same revision on both sides
    back = run_cli("diff", "demo", "2", "v1", "--tree", str(small_tree.path), cwd=project)
    assert back.code == 0, back.err
    assert " ! 2:  " in back.out and "    ++Line 4 of the notes" in back.out
    same = run_cli("diff", "v1", "v1", "--tree", str(small_tree.path), cwd=project)
    assert same.code == 0 and " ! " not in same.out and same.out.count(" = ") == 2
    # a tree whose base commit is not tagged: the base is made from the tree object, still nothing written
    small_tree.git("tag", "-d", "patchkit-base")
    untagged = small_tree.snapshot()
    again = run_cli("diff", "v1", "v2", "--tree", str(small_tree.path), cwd=project)
    assert again.code == 0, again.err
    assert again.out.splitlines()[1].endswith("x86/tdx: Add notes") and " ! 2:  " in again.out
    assert small_tree.snapshot() == untagged and small_tree.git("count-objects", "-v") == objects


def test_a_revision_on_another_base_is_found_in_its_prepared_tree(
    tmp_path: Path, small_tree: GitTree, hermetic_env: Path
) -> None:
    """v1 from before 'patchkit rebase': its base is not in this tree, but in the prepared tree of its version."""
    project = _series_v2(tmp_path, small_tree)
    snapshot = project / "series/demo/history/v1/series.yaml"
    data: dict[str, Any] = yaml.safe_load(snapshot.read_text())
    data["base"]["tree"] = "a" * 40
    snapshot.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    result = run_cli("diff", "v1", "v2", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 4
    assert (
        "v1 (history/v1) is based on linux-source-6.1 6.1.99 (tree aaaaaaaaaaaa), which neither this tree nor a "
        "prepared default tree holds; prepare it ('patchkit tree prepare --package linux-source-6.1') or pass --tree"
    ) in result.err
    older = GitTree.create_small(
        hermetic_env / ".cache/patchkit/trees/linux-source-6.1_6.1.98-1", {**SMALL_FILES, "README": "older tree\n"}
    )
    data["base"].update(tree=older.tree_hash(), package_version="6.1.98-1")
    snapshot.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    result = run_cli("diff", "v1", "v2", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 0, result.err
    assert " = 1:  " in result.out and " ! 2:  " in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("v1", "v7"), "series demo has no revision v7 ("),
        (("v1", "x2"), "'x2': not a revision (write it as v1, v2, ...)"),
        (("v1",), "diff takes [SERIES] vN vM: two revisions"),
        (("a", "b", "v1", "v2"), "diff takes [SERIES] vN vM: two revisions"),
        (("nope", "v1", "v2"), "no series 'nope'"),
    ],
)
def test_unknown_revisions_are_usage_errors(
    tmp_path: Path, small_tree: GitTree, args: tuple[str, ...], message: str
) -> None:
    project = _series_v2(tmp_path, small_tree)
    result = run_cli("diff", *args, "--tree", str(small_tree.path), cwd=project)
    assert result.code == 2, result.err
    assert message in result.err
    if "v7" in args:
        assert "records v1, v2)" in result.err


def test_a_recorded_revision_without_its_snapshot_is_a_data_error(tmp_path: Path, small_tree: GitTree) -> None:
    project = _series_v2(tmp_path, small_tree)
    shutil.rmtree(project / "series/demo/history/v1")
    result = run_cli("diff", "v1", "v2", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 3
    assert "history v1: snapshot unusable:" in result.err and "history/v1/series.yaml" in result.err
    yaml_path = project / "series/demo/series.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("  snapshot: history/v1\n", ""))
    result = run_cli("diff", "v1", "v2", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 3
    assert "history v1 has no snapshot of its patches (only 'patchkit revise' keeps one)" in result.err
