"""trailers --mbox: review trailers from replies, matched to posted patches, carried only while unchanged."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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
    # b4's order: the patch's own trailers, then the replies' to that patch in mailbox order, then the
    # ones given to the whole series on the cover letter
    assert patches[0]["trailers"] == [
        "Signed-off-by: Zoë Ærø <zoe@example.org>",
        "Reviewed-by: Rev One <rev1@example.org>",
        "Tested-by: Tess Three <t3@example.org>",
        "Acked-by: Ack Two <ack2@example.org>",
    ]
    assert patches[1]["trailers"] == [
        "Reported-by: Rep Four <rep4@example.org>",
        "Acked-by: Ack Two <ack2@example.org>",
        "Signed-off-by: Test Author <author@example.org>",  # the sender's own sign-off stays last, as b4 keeps it
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
    assert "Reviewed-by: Rev One <rev1@example.org>\nTested-by: Tess Three" in log


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


def _thread_of(tmp_path: Path, name: str, *mails: str) -> Path:
    path = tmp_path / name
    path.write_text("".join(mails))
    return path


def _someone_else_replies(tmp_path: Path, v1: list[Path]) -> Path:
    """Replies as a list archive gives them, each trailer checked against the reply's From: as b4 does."""
    cover, first, second = (read_mail(p) for p in v1)
    c, p1, p2 = cover["Message-ID"], first["Message-ID"], second["Message-ID"]
    return _thread_of(tmp_path, "others.mbox",
        # a person forwards the robot's result: the robot's Tested-by is not theirs to give
        _reply("Phil Person <phil@example.org>", "<s1@example.org>", p1, [c, p1], first["Subject"],
               "Our CI ran it.\n\nTested-by: kernel test robot <lkp@intel.com>\n"
               "Reviewed-by: Phil Person <phil+lkml@example.org>"),  # a +tag on the same address: the same person
        _reply('"Doe, Jane" <jane@corp.example.org>', "<s2@example.org>", p1, [c, p1], first["Subject"],
               "Acked-by: Jane Doe <jdoe@example.net>"),  # another address, the same name (From: as Last, First)
        _reply("Kim Lee <kim@mail.example.org>", "<s3@example.org>", p2, [c, p2], second["Subject"],
               "Reviewed-by: Kim Lee <kim@example.org>"),  # one subdomain apart: the same mailbox
        _reply('"Smith, Jane" <js@example.org>', "<s4@example.org>", p2, [c, p2], second["Subject"],
               "Acked-by: John Smith <john@example.com>"),  # another name and address: someone else
    )  # fmt: skip


def test_a_trailer_naming_someone_other_than_the_sender_is_skipped_unless_sloppy(
    tmp_path: Path, small_tree: GitTree
) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    mbox = _someone_else_replies(tmp_path, v1)
    result = run_cli("trailers", "--mbox", str(mbox), cwd=project)
    assert result.code == 0, result.err
    patches = _patches(project)
    assert patches[0]["trailers"] == [
        "Signed-off-by: Zoë Ærø <zoe@example.org>",
        "Reviewed-by: Phil Person <phil+lkml@example.org>",
        "Acked-by: Jane Doe <jdoe@example.net>",
    ]
    assert patches[1]["trailers"] == [
        "Reviewed-by: Kim Lee <kim@example.org>",
        "Signed-off-by: Test Author <author@example.org>",
    ]
    assert (
        "skipped: Tested-by: kernel test robot <lkp@intel.com> (from Phil Person <phil@example.org>, "
        "<s1@example.org>): names someone other than the reply's sender; --sloppy takes it"
    ) in result.out
    assert 'skipped: Acked-by: John Smith <john@example.com> (from "Smith, Jane" <js@example.org>' in result.out
    summary = result.out.splitlines()[-1]
    assert summary.startswith(f"3 trailer(s) added, 2 skipped; written to {project / 'series/demo/series.yaml'}")
    sloppy = run_cli("trailers", "--mbox", str(mbox), "--sloppy", cwd=project)
    assert sloppy.code == 0, sloppy.err
    assert "2 trailer(s) added, 3 skipped" in sloppy.out  # the three already there, not again
    patches = _patches(project)
    assert "Tested-by: kernel test robot <lkp@intel.com>" in patches[0]["trailers"]
    assert "Acked-by: John Smith <john@example.com>" in patches[1]["trailers"]
    robot = next(p for p in patches[0]["provenance"] if p["trailer"].startswith("Tested-by"))
    assert robot["from"] == "Phil Person <phil@example.org>"  # who really sent it stays on record


def test_b4_skips_the_same_trailer_patchkit_skips(tmp_path: Path, small_tree: GitTree) -> None:
    b4 = shutil.which("b4") or str(Path(sys.executable).with_name("b4"))
    if not Path(b4).exists():
        pytest.skip("b4 is not installed (pip install -e .[test])")
    project, v1 = posted_v1(tmp_path, small_tree)
    replies = _someone_else_replies(tmp_path, v1)
    thread = tmp_path / "thread.mbox"
    thread.write_bytes(b"".join(p.read_bytes() for p in v1) + replies.read_bytes())
    run = subprocess.run([b4, "--offline-mode", "am", "-m", str(thread), "-o", str(tmp_path / "b4")],
                         cwd=small_tree.path, capture_output=True, text=True, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    (mbx,) = (tmp_path / "b4").glob("*.mbx")
    taken_by_b4 = mbx.read_text()
    assert "Tested-by: kernel test robot" not in taken_by_b4
    assert "! Trailer: Tested-by: kernel test robot <lkp@intel.com>" in run.stdout + run.stderr
    for trailer in ("Reviewed-by: Phil Person <phil+lkml@example.org>", "Acked-by: Jane Doe <jdoe@example.net>",
                    "Reviewed-by: Kim Lee <kim@example.org>"):  # fmt: skip
        assert trailer in taken_by_b4
    # (b4 0.16 also takes John Smith's from "Smith, Jane": its name check looks for the From: name's parts
    # in the From: name itself; patchkit looks for them in the trailer's name, as the check means to)
    result = run_cli("trailers", "--mbox", str(thread), cwd=project)
    assert result.code == 0, result.err
    assert "skipped: Tested-by: kernel test robot <lkp@intel.com>" in result.out


def test_self_review_is_skipped(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    cover, _, second = (read_mail(p) for p in v1)
    c, p2 = cover["Message-ID"], second["Message-ID"]
    mbox = _thread_of(tmp_path, "self.mbox",
        # patch 1's author acks the whole series: the ack counts for patch 2, not for their own patch 1
        _reply("Zoë Ærø <zoe@example.org>", "<a1@example.org>", c, [c], cover["Subject"],
               "Acked-by: Zoë Ærø <zoe@example.org>"),
        # patch 2's author tests their own patch
        _reply("Test Author <author@example.org>", "<a2@example.org>", p2, [c, p2], second["Subject"],
               "Tested-by: Test Author <author@example.org>\nReported-by: Test Author <author@example.org>"),
    )  # fmt: skip
    result = run_cli("trailers", "--mbox", str(mbox), cwd=project)
    assert result.code == 0, result.err
    patches = _patches(project)
    assert patches[0]["trailers"] == ["Signed-off-by: Zoë Ærø <zoe@example.org>"]
    assert patches[1]["trailers"] == [
        "Reported-by: Test Author <author@example.org>",  # not a review: who found the bug may be the author
        "Acked-by: Zoë Ærø <zoe@example.org>",
        "Signed-off-by: Test Author <author@example.org>",
    ]
    assert (
        "skipped: patch 1 (README: Add a second line): Acked-by: Zoë Ærø <zoe@example.org> (from Zoë Ærø "
        "<zoe@example.org>, <a1@example.org>, on v1): from the patch's own author, not a review"
    ) in result.out
    assert "skipped: patch 2 (x86/virt: Add a Makefile): Tested-by: Test Author <author@example.org>" in result.out
    assert "2 trailer(s) added, 2 skipped" in result.out


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty file: no mail in it"),
        (b"\n\n  \n", "only blank lines: no mail in it"),
        (b"<html><body>Not Found</body></html>\n", "not an mbox: it starts with '<html><body>Not Found</body></html>'"),
        # one mail saved without its mbox separator line
        (b"From: Rev One <rev1@example.org>\nSubject: Re: x\n\nReviewed-by: Rev One <rev1@example.org>\n",
         "not an mbox: it starts with 'From: Rev One <rev1@example.org>'"),
    ],
)  # fmt: skip
def test_an_empty_or_non_mbox_file_is_a_data_error(
    tmp_path: Path, small_tree: GitTree, content: bytes, why: str
) -> None:
    project, _ = posted_v1(tmp_path, small_tree)
    before = (project / "series/demo/series.yaml").read_bytes()
    files_before = sorted(p.relative_to(project) for p in project.rglob("*"))
    bad = tmp_path / "replies.mbox"
    bad.write_bytes(content)
    result = run_cli("trailers", "--mbox", str(bad), cwd=project)
    assert result.code == 3
    assert result.out == ""
    assert result.err.splitlines()[0] == f"patchkit: error: {bad}: {why}" + (
        ", not a 'From ' separator line" if why.startswith("not an mbox") else ""
    )
    assert len(result.err.splitlines()) == 1
    assert (project / "series/demo/series.yaml").read_bytes() == before
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == files_before


def test_replies_that_cannot_be_decoded_are_listed_as_skipped(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    cover, first, _ = (read_mail(p) for p in v1)
    c, p1 = cover["Message-ID"], first["Message-ID"]
    bad_charset = _reply("Odd One <odd@example.org>", "<u1@example.org>", p1, [c, p1], first["Subject"],
                         "Reviewed-by: Odd One <odd@example.org>")  # fmt: skip
    bad_charset = bad_charset.replace("charset=utf-8", "charset=x-no-such-charset")
    bad_from = _reply("=?x-unknown?q?Weird?= <weird@example.org>", "<u2@example.org>", p1, [c, p1],
                      first["Subject"], "Acked-by: Weird <weird@example.org>")  # fmt: skip
    html_only = (
        "From reviewer Mon Sep 17 00:00:00 2001\n"
        f"From: Html Person <html@example.org>\nSubject: Re: {first['Subject']}\n"
        f"Date: Thu, 05 Feb 2026 10:00:00 +0000\nIn-Reply-To: {p1}\nReferences: {c} {p1}\n"
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n"
        "--b\nContent-Type: text/html; charset=utf-8\n\n<p>Reviewed-by: Html Person &lt;html@example.org&gt;</p>\n"
        "--b--\n\n"
    )  # no Message-Id either
    good = _reply("Rev One <rev1@example.org>", "<r1@example.org>", p1, [c, p1], first["Subject"],
                  "Reviewed-by: Rev One <rev1@example.org>")  # fmt: skip
    mbox = _thread_of(tmp_path, "mixed.mbox", bad_charset, bad_from, html_only, good)
    result = run_cli("trailers", "--mbox", str(mbox), cwd=project)
    assert result.code == 0, result.err
    skipped = [line for line in result.out.splitlines() if line.startswith("skipped: ")]
    assert skipped == [
        "skipped: message 1 (<u1@example.org>): body is not valid 'x-no-such-charset': unknown encoding: "
        "x-no-such-charset: not decoded, so its trailers (if any) are not read",
        "skipped: message 2 (<u2@example.org>): undecodable header '=?x-unknown?q?Weird?= <weird@example.org>': "
        "unknown encoding: x-unknown: not decoded, so its trailers (if any) are not read",
        "skipped: message 3 (no Message-Id): no text/plain part: not decoded, so its trailers (if any) are not read",
    ]
    assert "1 trailer(s) added, 3 skipped" in result.out
    assert _patches(project)[0]["trailers"][-1] == "Reviewed-by: Rev One <rev1@example.org>"


def test_trailer_order_from_the_series_data(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    data_path = project / "series/demo/series.yaml"
    data = yaml.safe_load(data_path.read_text())
    data["trailer_order"] = ["Reported-by", "Tested-by", "Reviewed-by", "*"]
    data["patches"][0]["trailers"].append("Acked-by: Early Bird <early@example.org>")  # after the last sign-off
    data_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    result = run_cli("trailers", "--mbox", str(_replies(tmp_path, v1)), cwd=project)
    assert result.code == 0, result.err
    patches = _patches(project)
    assert patches[0]["trailers"] == [
        "Signed-off-by: Zoë Ærø <zoe@example.org>",  # the chain of custody up to the last sign-off stays
        "Tested-by: Tess Three <t3@example.org>",
        "Reviewed-by: Rev One <rev1@example.org>",
        "Acked-by: Early Bird <early@example.org>",  # "*": the rest in the order they came
        "Acked-by: Ack Two <ack2@example.org>",
    ]
    assert patches[1]["trailers"] == [
        "Reported-by: Rep Four <rep4@example.org>",
        "Acked-by: Ack Two <ack2@example.org>",
        "Signed-off-by: Test Author <author@example.org>",  # the sender's own, last
    ]
    assert yaml.safe_load(data_path.read_text())["trailer_order"] == ["Reported-by", "Tested-by", "Reviewed-by", "*"]


def test_a_bad_trailer_order_is_a_data_error_naming_the_line(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    data_path = project / "series/demo/series.yaml"
    data_path.write_text(data_path.read_text() + "trailer_order: [Reviewed by]\n")
    before = data_path.read_bytes()
    result = run_cli("trailers", "--mbox", str(_replies(tmp_path, v1)), cwd=project)
    assert result.code == 3
    assert result.err.startswith(f"patchkit: error: {data_path}:") and "trailer_order" in result.err
    assert data_path.read_bytes() == before
