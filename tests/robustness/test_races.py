"""Two real patchkit processes on one series at once: every read-modify-write of series.yaml takes the
series lock and reads the data again under it, so the second writer adds to what the first wrote.

The test holds the series lock itself (an ``flock`` on the series directory, as patchkit takes it) while
it starts both processes, waits until both say they are waiting, and lets go: both then run, one after
the other, on the data as the other left it. Without the lock both would read the same data, and the
last writer would silently drop the other's change (both exiting 0).
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import GitTree, Project, patchkit_argv, posted_v1, process_env, read_mail

pytest.importorskip("aiosmtpd")

from tests.sending import mailable, serving

WAITING = "waiting for another patchkit process that is changing the series in"


@contextmanager
def series_locked(series_dir: Path) -> Iterator[None]:
    fd = os.open(series_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def race(project: Path, series_dir: Path, *commands: Sequence[str]) -> list[tuple[int, str, str]]:
    """Start every command while the test holds the series lock; once all wait for it, let go; their outcomes."""
    children: list[tuple[subprocess.Popen[str], Path]] = []
    with series_locked(series_dir):
        for index, args in enumerate(commands):
            err = project.parent / f"race-{index}.err"
            with err.open("w") as handle:
                child = subprocess.Popen(patchkit_argv(*args), cwd=project, stdout=subprocess.PIPE, stderr=handle,
                                         text=True, env=process_env())  # fmt: skip
            children.append((child, err))
        deadline = time.monotonic() + 120
        while not all(WAITING in err.read_text() for _, err in children):
            assert all(child.poll() is None for child, _ in children), [err.read_text() for _, err in children]
            assert time.monotonic() < deadline, [err.read_text() for _, err in children]
            time.sleep(0.05)
    outcomes = []
    for child, err in children:
        out, _ = child.communicate(timeout=180)
        outcomes.append((child.returncode, out, err.read_text()))
    return outcomes


def _data(project: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((project / "series/demo/series.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _reply(tmp_path: Path, name: str, sender: str, trailer: str, parent: Path) -> Path:
    posted = read_mail(parent)
    mbox = tmp_path / name
    mbox.write_text(
        f"From reviewer Mon Sep 17 00:00:00 2001\nFrom: {sender}\nSubject: Re: {posted['Subject']}\n"
        f"Date: Thu, 05 Feb 2026 10:00:00 +0000\nMessage-ID: <{name}@example.org>\n"
        f"In-Reply-To: {posted['Message-ID']}\nReferences: {posted['Message-ID']}\n\nLooks right.\n\n{trailer}\n\n"
    )
    return mbox


def test_two_trailers_at_once_both_land(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    one = _reply(tmp_path, "one.mbox", "Rev One <rev1@example.org>", "Reviewed-by: Rev One <rev1@example.org>", v1[1])
    two = _reply(tmp_path, "two.mbox", "Ack Two <ack2@example.org>", "Acked-by: Ack Two <ack2@example.org>", v1[1])
    outcomes = race(
        project, project / "series/demo", ("trailers", "--mbox", str(one)), ("trailers", "--mbox", str(two))
    )
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    for _, out, err in outcomes:
        assert "1 trailer(s) added" in out
        assert err.startswith("patchkit: waiting for another patchkit process that is changing the series in ")
    trailers = _data(project)["patches"][0]["trailers"]
    assert "Reviewed-by: Rev One <rev1@example.org>" in trailers
    assert "Acked-by: Ack Two <ack2@example.org>" in trailers
    provenance = _data(project)["patches"][0]["provenance"]
    assert len(provenance) == 2


def test_trailers_and_revise_at_once_keep_both(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    one = _reply(tmp_path, "one.mbox", "Rev One <rev1@example.org>", "Reviewed-by: Rev One <rev1@example.org>", v1[1])
    outcomes = race(project, project / "series/demo", ("trailers", "--mbox", str(one)), ("revise",))
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    data = _data(project)
    assert data["revision"] == 2  # revise's bump is kept ...
    assert [r["revision"] for r in data["history"]] == [1]
    assert (project / "series/demo/history/v1/series.yaml").is_file()
    assert "Reviewed-by: Rev One <rev1@example.org>" in data["patches"][0]["trailers"]
    # ... and so is the trailer


def test_two_revises_at_once_revise_once(tmp_path: Path, small_tree: GitTree) -> None:
    project, _ = posted_v1(tmp_path, small_tree)
    outcomes = race(project, project / "series/demo", ("revise",), ("revise",))
    assert sorted(code for code, _, _ in outcomes) == [0, 3], outcomes
    refused = next(err for code, _, err in outcomes if code == 3)
    assert refused.splitlines()[-1].endswith("changelog: v2 has no entry yet; say what changed before revising")
    data = _data(project)
    assert data["revision"] == 2 and len(data["history"]) == 1
    assert sorted(p.name for p in (project / "series/demo/history").iterdir()) == ["v1"]


def test_revise_and_send_at_once_agree_on_what_was_sent(applied_mail_project: Project, small_tree: GitTree) -> None:
    project = mailable(applied_mail_project)
    with serving() as inbox:
        send = ("send", "--tree", str(small_tree.path), "--smtp-server", "127.0.0.1", "--smtp-port", str(inbox.port),
                "--smtp-encryption", "none")  # fmt: skip
        outcomes = race(project.root, project.series, send, ("revise",))
    (send_code, send_out, send_err), (revise_code, _, revise_err) = outcomes
    assert revise_code == 0, revise_err
    data = _data(project.root)
    assert data["revision"] == 2
    v1: dict[str, Any] = data["history"][0]
    if send_code == 0:  # the send went first: v1 is recorded as sent, and revise kept that record
        assert "3 mails sent" in send_out and len(inbox.received) == 3
        assert v1["sent"] is True
        sent_ids = [re.findall(rb"Message-ID: (<[^>]+>)", raw)[0].decode() for _, _, raw in inbox.received]
        assert sent_ids == [v1["cover_message_id"], *(p["message_id"] for p in v1["patches"])]
    else:  # revise went first: v2 is not applied (nor has a changelog), so nothing was sent or recorded as sent
        assert inbox.received == [] and "sent" not in v1, send_err
