"""revise: vN recorded as history (patch-ids, Message-Ids, snapshot), vN+1 opened; format builds on the record."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.helpers import GitTree, posted_v1, read_mail, run_cli


def _data(project: Path) -> dict[str, object]:
    loaded = yaml.safe_load((project / "series/demo/series.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _write(project: Path, data: dict[str, object]) -> None:
    (project / "series/demo/series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _write_v2(project: Path, changes: str, body: str | None = None, **keys: object) -> None:
    """The data of the revised series with v2's changelog entry said, patch 1's body (when given) and ``keys``."""
    data = _data(project)
    data.update(keys)
    changelog = data["changelog"]
    assert isinstance(changelog, list)
    changelog[1]["changes"] = changes
    if body is not None:
        patches = data["patches"]
        assert isinstance(patches, list)
        patches[0]["body"] = body
    _write(project, data)


def test_revise_records_what_v1_was_and_opens_v2(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    result = run_cli("revise", cwd=project)
    assert result.code == 0, result.err
    assert "v1 recorded in history/v1" in result.out and "now v2" in result.out
    data = _data(project)
    assert data["revision"] == 2
    assert data["changelog"] == [{"revision": 1, "changes": "First posting."}, {"revision": 2, "changes": ""}]
    mails = [read_mail(p) for p in v1]
    assert data["change_id"] == mails[0]["X-Change-ID"]
    history = data["history"]
    assert isinstance(history, list) and len(history) == 1
    v1_record = history[0]
    assert v1_record["revision"] == 1 and v1_record["snapshot"] == "history/v1"
    # the recorded Message-Ids are the ones format gave v1
    assert v1_record["cover_message_id"] == mails[0]["Message-ID"]
    assert [p["message_id"] for p in v1_record["patches"]] == [m["Message-ID"] for m in mails[1:]]
    # patch-ids are git's, of each mailed patch
    for mail_path, posted in zip(v1[1:], v1_record["patches"], strict=True):
        out = subprocess.run(["git", "patch-id", "--stable"], input=mail_path.read_bytes(), capture_output=True,
                             check=True).stdout.decode().split()  # fmt: skip
        assert posted["patch_id"] == out[0]
    snapshot = project / "series/demo/history/v1"
    assert (snapshot / "series.yaml").is_file() and (snapshot / "0001-readme.diff").is_file()
    assert not (snapshot / "0003-overlay.diff").exists()  # overlays are never posted
    # revising again before v2 says what changed is refused
    result = run_cli("revise", cwd=project)
    assert result.code == 3 and "changelog: v2 has no entry yet" in result.err


def test_v2_formats_with_range_diff_from_the_record_and_a_link_to_v1(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    v1_cover = read_mail(v1[0])
    assert run_cli("revise", cwd=project).code == 0
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "v2", cwd=project)
    assert result.code == 3 and "changelog: revision 2 has no entry" in result.err  # left empty: refused
    _write_v2(project, "- Explained why at more length.", "Explain why, at more length in v2.")
    assert run_cli("apply", "--tree", str(small_tree.path), "--force", cwd=project).code == 0
    small_tree.git("branch", "-D", "patchkit/demo/v1")  # a fresh clone or CI: no v1 branch
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "v2", cwd=project)
    assert result.code == 0, result.err
    assert "range-diff against v1 (recorded in history/v1)" in result.out
    cover = read_mail(project / "v2/0000-cover-letter.patch")
    body = cover.get_content()
    assert cover["Subject"] == "[PATCH v2 0/2] demo: Two small changes"
    assert cover["X-Change-ID"] == v1_cover["X-Change-ID"]
    assert "-v2-0-" in cover["Message-ID"] and cover["Message-ID"] != v1_cover["Message-ID"]
    link = f"https://lore.kernel.org/r/{v1_cover['Message-ID'].strip('<>')}"
    assert f"Changes in v2:\n- Explained why at more length.\n- Link to v1: {link}\n" in body
    assert "Range-diff:" in body and "+    Explain why, at more length in v2." in body
    assert "-:  ------------ >" not in body  # v1's patches were re-made and matched up


def test_the_archive_url_is_configurable(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    assert run_cli("revise", cwd=project).code == 0
    _write_v2(project, "- Nothing but the link.", archive="https://lists.example.org/msg/%s/")
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    assert run_cli("format", "--tree", str(small_tree.path), "-o", "v2", cwd=project).code == 0
    body = read_mail(project / "v2/0000-cover-letter.patch").get_content()
    v1_id = read_mail(v1[0])["Message-ID"].strip("<>")
    assert f"- Link to v1: https://lists.example.org/msg/{v1_id}/\n" in body


def test_format_remakes_v1_as_diff_does_leaving_no_objects_and_says_when_its_base_is_gone(
    tmp_path: Path, small_tree: GitTree
) -> None:
    """The range-diff's v1 is re-made from history/v1 by patchkit.apply.revisions (scratch objects, as 'patchkit diff'
    does): the tree gains no object; a v1 whose base no tree holds gives a note and no range-diff."""
    project, _ = posted_v1(tmp_path, small_tree)
    assert run_cli("revise", cwd=project).code == 0
    _write_v2(project, "- Reworded patch 1.", "Explain why, reworded.")
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    small_tree.git("branch", "-D", "patchkit/demo/v1")  # and v1's commits gone from the repository:
    small_tree.git("reflog", "expire", "--expire=now", "--all")
    small_tree.git("gc", "-q", "--prune=now")
    # status re-makes the overlay's commits (the gc dropped them; format checks the branch the same way)
    assert run_cli("status", "--tree", str(small_tree.path), cwd=project).code == 0
    objects = small_tree.git("count-objects", "-v")
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "v2", cwd=project)
    assert result.code == 0, result.err
    assert "range-diff against v1 (recorded in history/v1)" in result.out
    assert "+    Explain why, reworded." in read_mail(project / "v2/0000-cover-letter.patch").get_content()
    assert small_tree.git("count-objects", "-v") == objects
    snapshot = project / "series/demo/history/v1/series.yaml"
    old = yaml.safe_load(snapshot.read_text())
    old["base"]["tree"] = "a" * 40
    snapshot.write_text(yaml.safe_dump(old, sort_keys=False, allow_unicode=True))
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "v2", cwd=project)
    assert result.code == 0, result.err
    assert f"v1's base tree aaaaaaaaaaaa is not in {small_tree.path}: no range-diff" in result.out
    assert "Range-diff" not in read_mail(project / "v2/0000-cover-letter.patch").get_content()
