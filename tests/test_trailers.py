"""trailers --mbox: review trailers from replies, matched to posted patches, carried only while unchanged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import GitTree, posted_v1, read_mail, run_cli


def _reply(sender: str, message_id: str, in_reply_to: str, references: list[str], subject: str, body: str) -> str:
    return (
        "From reviewer Mon Sep 17 00:00:00 2001\n"
        f"From: {sender}\nSubject: Re: {subject}\nDate: Thu, 05 Feb 2026 10:00:00 +0000\n"
        f"Message-ID: {message_id}\nIn-Reply-To: {in_reply_to}\nReferences: {' '.join(references)}\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        f"{body}\n\n"
    )


def _replies(tmp_path: Path, v1: list[Path]) -> Path:
    cover, first, second = (read_mail(p) for p in v1)
    c, p1 = cover["Message-ID"], first["Message-ID"]
    # patch 2 as the list delivered it to someone: another Message-Id, the same change
    relayed = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: <relayed-2@list.example.org>", v1[2].read_bytes())
    mbox = "".join([
        _reply("Rev One <rev1@example.org>", "<r1@example.org>", p1, [c, p1], first["Subject"],
               "> Signed-off-by: Zoë Ærø <zoe@example.org>\n\nLooks right.\n\nReviewed-by: Rev One <rev1@example.org>"),
        _reply("Ack Two <ack2@example.org>", "<r2@example.org>", c, [c], cover["Subject"],
               "For the series:\nAcked-by: Ack Two <ack2@example.org>\n-- \nTested-by: signature <s@example.org>"),
        _reply("Tess Three <t3@example.org>", "<r3@example.org>", "<r1@example.org>", [c, p1, "<r1@example.org>"],
               first["Subject"], "Tested-by: Tess Three <t3@example.org>"),
        _reply("Nobody <n@example.org>", "<r4@example.org>", "<elsewhere@example.org>", ["<elsewhere@example.org>"],
               "[PATCH] other: thing", "Reviewed-by: Nobody <n@example.org>"),
        relayed.decode() + "\n",
        _reply("Rep Four <rep4@example.org>", "<r5@example.org>", "<relayed-2@list.example.org>",
               ["<relayed-2@list.example.org>"], second["Subject"], "Reported-by: Rep Four <rep4@example.org>"),
    ])  # fmt: skip
    path = tmp_path / "replies.mbox"
    path.write_text(mbox)
    return path


def _patches(project: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load((project / "series/demo/series.yaml").read_text())
    patches = data["patches"]
    assert isinstance(patches, list)
    return patches


def test_trailers_from_replies_land_on_the_right_patches(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    mbox = _replies(tmp_path, v1)
    result = run_cli("trailers", "--mbox", str(mbox), cwd=project)
    assert result.code == 0, result.err
    patches = _patches(project)
    assert patches[0]["trailers"] == [
        "Signed-off-by: Zoë Ærø <zoe@example.org>",
        "Reviewed-by: Rev One <rev1@example.org>",
        "Acked-by: Ack Two <ack2@example.org>",
        "Tested-by: Tess Three <t3@example.org>",
    ]
    assert patches[1]["trailers"] == [
        "Reported-by: Rep Four <rep4@example.org>",  # before the Signed-off-by, as the tip tree wants
        "Signed-off-by: Test Author <author@example.org>",
        "Acked-by: Ack Two <ack2@example.org>",
    ]
    assert "trailers" not in patches[2] or patches[2]["trailers"] == patches[0]["trailers"][:1]  # overlay untouched
    provenance = patches[0]["provenance"]
    assert isinstance(provenance, list)
    assert provenance[0] == {
        "trailer": "Reviewed-by: Rev One <rev1@example.org>",
        "from": "Rev One <rev1@example.org>",
        "message_id": "<r1@example.org>",
        "revision": 1,
    }
    assert "added: patch 1 (README: Add a second line): Reviewed-by: Rev One <rev1@example.org>" in result.out
    assert "skipped: Reviewed-by: Nobody <n@example.org> (from Nobody <n@example.org>, <r4@example.org>): " \
           "not a reply to a posted revision of series demo" in result.out  # fmt: skip
    assert "signature" not in (project / "series/demo/series.yaml").read_text()
    assert "5 trailer(s) added, 1 skipped" in result.out
    # running it again adds nothing twice
    again = run_cli("trailers", "--mbox", str(mbox), cwd=project)
    assert "0 trailer(s) added" in again.out and "already has Reviewed-by: Rev One" in again.out
    # the data applies, and the commits carry the trailers
    assert run_cli("apply", "--tree", str(small_tree.path), "--force", cwd=project).code == 0
    log = small_tree.git("log", "--format=%B", "-1", "patchkit/demo/v1~1")
    assert "Reviewed-by: Rev One <rev1@example.org>\nAcked-by: Ack Two" in log


def test_a_trailer_for_a_patch_changed_since_is_flagged_not_carried(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    mbox = _replies(tmp_path, v1)
    assert run_cli("revise", cwd=project).code == 0
    diff = project / "series/demo/0001-readme.diff"
    diff.write_text(diff.read_text().replace("+second line", "+second line, reworded"))
    result = run_cli("trailers", "--mbox", str(mbox), cwd=project)
    assert result.code == 0, result.err
    patches = _patches(project)
    assert patches[0]["trailers"] == ["Signed-off-by: Zoë Ærø <zoe@example.org>"]  # changed: nothing carried
    assert "Acked-by: Ack Two <ack2@example.org>" in patches[1]["trailers"]  # unchanged since v1: carried
    assert (
        "skipped: v1 patch 1 (README: Add a second line): changed since v1: Reviewed-by: Rev One "
        "<rev1@example.org> (from Rev One <rev1@example.org>, <r1@example.org>, on v1) not carried"
    ) in result.out
    provenance = patches[1]["provenance"]
    assert isinstance(provenance, list) and {p["revision"] for p in provenance} == {1}


def test_dry_run_changes_nothing(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    before = (project / "series/demo/series.yaml").read_bytes()
    result = run_cli("trailers", "--mbox", str(_replies(tmp_path, v1)), "--dry-run", cwd=project)
    assert result.code == 0 and "5 trailer(s) would be added (--dry-run)" in result.out
    assert (project / "series/demo/series.yaml").read_bytes() == before


def test_import_of_a_thread_takes_the_replies_trailers(tmp_path: Path, small_tree: GitTree) -> None:
    _, v1 = posted_v1(tmp_path, small_tree)
    replies = _replies(tmp_path, v1)
    # b4-style Message-Ids of someone else's posting: matched by patch-id, not by id
    thread = tmp_path / "thread.mbox"
    thread.write_bytes(b"".join(p.read_bytes() for p in v1) + replies.read_bytes())
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    result = run_cli("import", "--mbox", str(thread), "--tree", str(small_tree.path), "--name", "demo", cwd=fresh)
    assert result.code == 0, result.err
    patches = _patches(fresh)
    assert "Reviewed-by: Rev One <rev1@example.org>" in patches[0]["trailers"]
    assert "Acked-by: Ack Two <ack2@example.org>" in patches[1]["trailers"]
    assert "trailer added: patch 1 (README: Add a second line): Reviewed-by: Rev One" in result.out
