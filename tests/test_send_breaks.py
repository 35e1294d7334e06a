"""send when things go wrong on the way: a connection dropped after k mails, a refused recipient, two sends at
once. A real SMTP server (aiosmtpd on 127.0.0.1) judges; nothing is ever mailed twice."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

pytest.importorskip("aiosmtpd")

from patchkit.series.lock import series_lock
from tests.helpers import GitTree, Project, patchkit_argv, process_env, read_mail
from tests.sending import Inbox, mailable, real_size_series, send, serving, write_verify_record


def _ids(inbox: Inbox) -> list[str]:
    out: list[str] = []
    for _, _, content in inbox.received:
        line = next(x for x in content.split(b"\r\n") if x.lower().startswith(b"message-id:"))
        out.append(line.split(b":", 1)[1].strip().decode())
    return out


def _record(project: Project) -> dict[str, object]:
    (record,) = yaml.safe_load(project.yaml_path.read_text())["history"]
    assert isinstance(record, dict)
    return record


@pytest.fixture
def ten(tmp_path: Path, small_tree: GitTree) -> Project:
    project = Project(tmp_path / "project", small_tree)
    real_size_series(project.root, small_tree)
    project.apply()
    return mailable(project)


def test_a_connection_dropped_after_k_mails_is_exit_9_and_the_rerun_sends_only_the_rest(
    ten: Project, small_tree: GitTree
) -> None:
    with serving(drop_after=3) as flaky:
        broken = send(ten.root, small_tree, flaky.port)
    assert broken.code == 9 and len(flaky.received) == 3
    files = sorted((ten.root / "outgoing/demo-v1").glob("*.patch"))
    ids = [read_mail(p)["Message-ID"] for p in files]
    assert _ids(flaky) == ids[:3]
    (line,) = broken.err.strip().splitlines()
    assert f"{files[3].name}: the connection broke: the server closed the connection" in line
    assert "3 of 11 mail(s) sent" in line
    assert "3 of 11 mails of v1 are recorded as sent" in line and "run 'patchkit send' again to send only the other 8" \
        in line  # fmt: skip
    record = _record(ten)
    assert record["sent_message_ids"] == ids[:3] and "sent" not in record
    # the rerun names what went out and sends only the rest
    with serving() as inbox:
        rerun = send(ten.root, small_tree, inbox.port)
        assert rerun.code == 0, rerun.err
        assert f"v1: 3 of 11 mails went out before (recorded in {ten.yaml_path}): {files[0].name}, {files[1].name}, " \
            f"{files[2].name}; sending only the other 8" in rerun.out  # fmt: skip
        assert _ids(inbox) == ids[3:] and "8 mails sent" in rerun.out
        assert Counter(_ids(flaky) + _ids(inbox)) == Counter(ids)  # every mail exactly once
        record = _record(ten)
        assert record["sent"] is True and "sent_message_ids" not in record
        # and once everything went out, a rerun says so and sends nothing
        last = send(ten.root, small_tree, inbox.port)
        assert last.code == 0 and "nothing left to send" in last.out and len(inbox.received) == 8


def test_a_partly_sent_revision_whose_patches_changed_is_refused_naming_what_went_out(
    ten: Project, small_tree: GitTree
) -> None:
    with serving(drop_after=2) as flaky:
        assert send(ten.root, small_tree, flaky.port).code == 9
    went = _ids(flaky)
    diff = ten.series / "0004-demo-part4.diff"
    diff.write_text(diff.read_text().replace("value * 2 + 4", "value * 2 + 40"))
    assert ten.cli("apply", "--tree", str(small_tree.path), "--force").code == 0
    write_verify_record(ten.series, small_tree)
    with serving() as inbox:
        result = send(ten.root, small_tree, inbox.port)
        assert result.code == 2 and inbox.received == []
    assert "v1 was partly sent (2 of 11 mails: " + ", ".join(went) + ") and the patches changed since" in result.err
    assert _record(ten)["sent_message_ids"] == went


def test_a_refused_recipient_is_reported_per_mail_and_the_others_get_every_mail(
    applied_mail_project: Project, small_tree: GitTree
) -> None:
    project = mailable(applied_mail_project)
    project.replace("- linux-kernel@vger.kernel.org", "- linux-kernel@vger.kernel.org\n- nobody@example.org")
    with serving(refuse={"nobody@example.org"}) as inbox:
        result = send(project.root, small_tree, inbox.port)
        assert result.code == 9, result.err
        assert [r[1] for r in inbox.received] == [["x86@kernel.org", "linux-kernel@vger.kernel.org"]] * 3
        refused = "  nobody@example.org: refused (550 5.1.1 <nobody@example.org>: Recipient address rejected: User " \
            "unknown)"  # fmt: skip
        assert result.out.count(refused) == 3 and result.out.count("  x86@kernel.org: accepted (250 OK)") == 3
        assert "3 mails sent; v1's Message-Ids recorded" in result.out
        (line,) = result.err.strip().splitlines()
        assert "the server refused nobody@example.org for all 3 mails (550 5.1.1 <nobody@example.org>: Recipient " \
            "address rejected: User unknown); the other recipients got those mails and they are recorded as sent" \
            in line  # fmt: skip
        assert _record(project)["sent"] is True
        again = send(project.root, small_tree, inbox.port)
        assert again.code == 0 and "nothing left to send" in again.out and len(inbox.received) == 3


def test_a_mail_every_recipient_refuses_stops_the_send_before_the_rest(
    applied_mail_project: Project, small_tree: GitTree
) -> None:
    project = mailable(applied_mail_project)
    with serving(refuse={"x86@kernel.org", "linux-kernel@vger.kernel.org"}) as inbox:
        result = send(project.root, small_tree, inbox.port)
    assert result.code == 9 and inbox.received == []
    assert "0000-cover-letter.patch: the server refused every recipient (x86@kernel.org: 550 5.1.1" in result.err
    assert "0 of 3 mails of v1 are recorded as sent" in result.err
    assert "history" not in yaml.safe_load(project.yaml_path.read_text())


def _start(argv: list[str], cwd: Path, log: Path) -> subprocess.Popen[str]:
    with log.open("wb") as stderr:
        return subprocess.Popen(argv, cwd=cwd, env=process_env(), stdout=subprocess.PIPE, stderr=stderr, text=True)


def test_a_send_waits_for_the_series_lock_and_two_sends_at_once_mail_everything_once(
    applied_mail_project: Project, small_tree: GitTree, tmp_path: Path
) -> None:
    project = mailable(applied_mail_project)
    argv = patchkit_argv("send", "--tree", str(small_tree.path), "--smtp-server", "127.0.0.1", "--smtp-encryption",
                         "none", "--smtp-port")  # fmt: skip
    with serving() as inbox:
        logs = [tmp_path / "first.err", tmp_path / "second.err"]
        with series_lock(project.series):  # another patchkit changing the series, as far as send can tell
            children = [_start([*argv, str(inbox.port)], project.root, log) for log in logs]
            deadline = time.monotonic() + 60
            while not all("waiting for another patchkit process" in log.read_text() for log in logs):
                assert time.monotonic() < deadline, [log.read_text() for log in logs]
                time.sleep(0.1)
            assert inbox.received == []  # neither mailed anything while the lock was held
        outs = [child.communicate(timeout=120)[0] for child in children]
        assert [child.returncode for child in children] == [0, 0], [log.read_text() for log in logs]
        assert len(inbox.received) == 3 and len(set(_ids(inbox))) == 3
        assert sum("3 mails sent" in out for out in outs) == 1
        assert sum("nothing left to send" in out for out in outs) == 1


def test_the_series_lock_is_reentrant_within_a_process_and_exclusive_between_processes(tmp_path: Path) -> None:
    directory = tmp_path / "series"
    directory.mkdir()
    probe = ("import sys; from pathlib import Path; from patchkit.series.lock import series_lock; "
             "from patchkit.errors import UsageError\n"
             "with series_lock(Path(sys.argv[1]), busy=UsageError('busy')): print('took it')")  # fmt: skip
    with series_lock(directory), series_lock(directory):  # nested: no deadlock
        other = subprocess.run([patchkit_argv()[0], "-c", probe, str(directory)], capture_output=True, text=True,
                               env=process_env(), timeout=60)  # fmt: skip
        assert other.returncode != 0 and "busy" in other.stderr
    free = subprocess.run([patchkit_argv()[0], "-c", probe, str(directory)], capture_output=True, text=True,
                          env=process_env(), timeout=60)  # fmt: skip
    assert free.returncode == 0 and free.stdout == "took it\n"
    assert list(directory.iterdir()) == []  # no lock file left in the data


def _has_git_send_email() -> bool:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    return Path(exec_path, "git-send-email").exists()


@pytest.mark.skipif(not _has_git_send_email(), reason="git send-email (Debian's git-email) is not installed")
def test_git_send_email_broken_off_records_what_went_out_and_the_rerun_sends_the_rest(
    applied_mail_project: Project, small_tree: GitTree
) -> None:
    project = mailable(applied_mail_project)
    via_git = ("--via", "git-send-email")
    with serving(drop_after=1) as flaky:
        broken = send(project.root, small_tree, flaky.port, *via_git)
    assert broken.code == 9 and len(flaky.received) == 1
    assert "git send-email: 0001-README-Add-a-second-line.patch: " in broken.err and "1 of 3 mail(s) sent" in broken.err
    assert "1 of 3 mails of v1 are recorded as sent" in broken.err
    assert _record(project)["sent_message_ids"] == _ids(flaky)
    with serving() as inbox:
        rerun = send(project.root, small_tree, inbox.port, *via_git)
        assert rerun.code == 0, rerun.err
        assert "sending only the other 2" in rerun.out and len(inbox.received) == 2
        assert len(set(_ids(flaky) + _ids(inbox))) == 3
    assert _record(project)["sent"] is True
