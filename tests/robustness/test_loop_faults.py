"""The list loop's own faults: a recorded revision that no longer re-makes, the verdict cache's odd files,
and verify's results directory under the one output-directory rule."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import yaml

from patchkit.util import paths
from tests.helpers import GitTree, Project, posted_v1, read_mail, run_cli
from tests.robustness.corpus import directory_snapshot, full_snapshot

ENTRY = "ab" + "0" * 62 + ".json"


def _v2_with_a_spoiled_snapshot(tmp_path: Path, tree: GitTree) -> Path:
    """v1 posted and revised, v2 applied; then history/v1's first diff edited so it no longer applies."""
    project, _ = posted_v1(tmp_path, tree)
    assert run_cli("revise", cwd=project).code == 0
    data_path = project / "series/demo/series.yaml"
    data = yaml.safe_load(data_path.read_text())
    data["changelog"][-1]["changes"] = "- Nothing yet."
    data_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    assert run_cli("apply", "--tree", str(tree.path), cwd=project).code == 0
    snapshot_diff = project / "series/demo/history/v1/0001-readme.diff"
    snapshot_diff.write_text(snapshot_diff.read_text().replace(" tiny tree\n", " a tree that is not there\n"))
    return project


def test_a_snapshot_that_no_longer_applies_is_named_with_what_to_do(tmp_path: Path, small_tree: GitTree) -> None:
    project = _v2_with_a_spoiled_snapshot(tmp_path, small_tree)
    before = full_snapshot(small_tree), directory_snapshot(project)
    snapshot = project / "series/demo/history/v1"
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "v2", cwd=project)
    assert result.code == 4, result.err
    assert result.err.splitlines() == [
        f"patchkit: error: v1 as recorded in {snapshot} cannot be re-made on its base: patch 1 (README: Add a second "
        "line) does not apply: README hunk 1 (@@ -1,1 +1,2 @@) [0001-readme.diff]; restore "
        f"{snapshot} as revise wrote it (e.g. 'git checkout -- {snapshot}'), or delete 'snapshot: history/v1' from "
        f"history v1 in {project / 'series/demo/series.yaml'} to go on without comparing with v1 (nothing was "
        "written)"
    ]
    assert (full_snapshot(small_tree), directory_snapshot(project)) == before  # no v2/, nothing in the tree
    diff = run_cli("diff", "--tree", str(small_tree.path), "v1", "v2", cwd=project)
    assert diff.code == 4 and f"v1 as recorded in {snapshot} cannot be re-made on its base: patch 1" in diff.err


def _entry(cache: Path, text: str, name: str = ENTRY) -> Path:
    path = cache / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_cache_info_counts_a_deeply_nested_entry_as_corrupt(tmp_path: Path) -> None:
    verdicts = paths.verdicts_dir()
    _entry(verdicts, "[" * 200000 + "]" * 200000)
    _entry(verdicts, '{"verdict": ' * 5000 + "1" + "}" * 5000, "cd" + "1" * 62 + ".json")
    result = run_cli("cache", "info", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out.startswith(f"{verdicts}: 2 corrupt; ")


def test_cache_info_and_clear_never_open_a_fifo_or_follow_a_link(tmp_path: Path) -> None:
    verdicts = paths.verdicts_dir()
    (verdicts / "ab").mkdir(parents=True)
    os.mkfifo(verdicts / "ab" / ENTRY)  # named like an entry, but no file: never opened
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (verdicts / "ab" / ("ab" + "1" * 62 + ".json")).symlink_to(outside)
    assert run_cli("cache", "info", cwd=tmp_path).out.startswith(f"{verdicts}: empty; ")
    result = run_cli("cache", "clear", cwd=tmp_path)
    assert result.code == 0 and result.out == f"{verdicts}: 0 entries removed\n"
    assert outside.read_text() == "{}"


def test_cache_clear_removes_entries_and_nothing_else(tmp_path: Path) -> None:
    verdicts = paths.verdicts_dir()
    entry = _entry(verdicts, '{"sha256": "x", "verdict": {"kind": "build"}}')
    image = verdicts / "images" / ("e" * 64)
    image.parent.mkdir()
    image.write_bytes(b"bzImage")
    mine = [verdicts / "README.txt", verdicts / "ab" / "notes.json", verdicts / "images" / "keep.me"]
    for path in mine:
        path.write_text("mine\n")
    assert run_cli("cache", "info", cwd=tmp_path).out.startswith(f"{verdicts}: 1 build, 1 image; ")
    result = run_cli("cache", "clear", cwd=tmp_path)
    assert result.code == 0 and result.out == f"{verdicts}: 2 entries removed\n"
    assert not entry.exists() and not image.exists()
    assert all(path.read_text() == "mine\n" for path in mine)


def test_verify_results_new_then_again_then_refused_for_another_commands_output(applied_project: Project) -> None:
    project, tree = applied_project, applied_project.tree
    args = ("verify", "--tree", str(tree.path), "--no-build", "--no-checkpatch", "--results")
    first = project.cli(*args, "out")
    assert first.code == 0, first.err
    manifest = json.loads((project.root / "out" / ".patchkit-results.json").read_text())
    assert manifest["kind"] == "patchkit results" and "report.json" in manifest["files"]
    again = project.cli(*args, "out")  # an earlier verify output: used again
    assert again.code == 0, again.err
    (project.root / "out" / "thesis.txt").write_text("mine\n")
    refused = project.cli(*args, "out")
    assert refused.code == 2
    assert refused.err == (
        "patchkit: error: out: holds thesis.txt, which patchkit did not write; move it away or give --results "
        "another directory (nothing was written)\n"
    )
    (project.root / "mails").mkdir()
    (project.root / "mails" / ".patchkit-format.json").write_text('{"kind": "patchkit format output", "files": {}}')
    (project.root / "mails" / "0001-x.patch").write_text("a mail\n")
    other = project.cli(*args, "mails")
    assert other.code == 2 and "mails: not empty (.patchkit-format.json and 1 more) and not a previous" in other.err


def test_a_reply_nested_too_deep_for_the_mail_parser_is_skipped_and_named(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    first = read_mail(v1[1])
    head = (
        "From reviewer Mon Sep 17 00:00:00 2001\nFrom: Rev One <rev1@example.org>\nSubject: Re: {subject}\n"
        "Message-ID: <{mid}>\nIn-Reply-To: {parent}\nReferences: {parent}\n"
    )
    deep = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(3000))
    deep += "Content-Type: text/plain\n\nReviewed-by: Rev One <rev1@example.org>\n"
    deep += "".join(f"--b{i}--\n" for i in reversed(range(3000)))
    plain = "\nLooks right.\n\nAcked-by: Rev One <rev1@example.org>\n\n"
    mbox = tmp_path / "replies.mbox"
    mbox.write_text(
        head.format(subject=first["Subject"], mid="deep@example.org", parent=first["Message-ID"]) + deep + "\n"
        + head.format(subject=first["Subject"], mid="plain@example.org", parent=first["Message-ID"]) + plain
    )  # fmt: skip
    result = run_cli("trailers", "--mbox", str(mbox), cwd=project)
    assert result.code == 0, result.err
    assert "added: patch 1 (README: Add a second line): Acked-by: Rev One <rev1@example.org>" in result.out
    assert (
        "skipped: message 1 (<deep@example.org>): its MIME parts are nested too deeply to read: not decoded"
        in result.out
    )
    imported = run_cli("import", "--mbox", str(mbox), "--series", "elsewhere", cwd=project)
    assert imported.code == 3 and imported.err.endswith("no patches found (no message has a 'diff --git' section)\n")


def test_a_trailer_longer_than_the_data_allows_is_skipped_not_written(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    first = read_mail(v1[1])
    name = "R" + "e" * 1500
    mbox = tmp_path / "replies.mbox"
    mbox.write_text(
        f"From reviewer Mon Sep 17 00:00:00 2001\nFrom: {name} <rev1@example.org>\nSubject: Re: {first['Subject']}\n"
        f"Message-ID: <long@example.org>\nIn-Reply-To: {first['Message-ID']}\n\n"
        f"Reviewed-by: {name} <rev1@example.org>\n\n"
    )
    before = directory_snapshot(project / "series")
    result = run_cli("trailers", "--mbox", str(mbox), cwd=project)
    assert result.code == 0, result.err
    assert "characters, more than a trailer may have (1000)" in result.out
    assert result.out.endswith("0 trailer(s) added, 1 skipped\n")
    assert directory_snapshot(project / "series") == before
    assert run_cli("status", "--tree", str(small_tree.path), cwd=project).code == 0  # the data still loads


def test_a_second_run_into_a_results_directory_in_use_is_refused(applied_project: Project) -> None:
    out = applied_project.root / "out"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a verify writing there holds it
        result = applied_project.cli("verify", "--tree", str(applied_project.tree.path), "--no-build", "--results",
                                     "out")  # fmt: skip
    finally:
        os.close(fd)
    assert result.code == 8
    assert result.err == (
        "patchkit: error: out: another patchkit is writing results there right now; wait for it and run again\n"
    )
    assert list(out.iterdir()) == []
