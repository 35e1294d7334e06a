"""send: to a real SMTP server on loopback (aiosmtpd), gated on verify, recording what was sent."""

from __future__ import annotations

import email
import email.policy
import email.utils
import itertools
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

pytest.importorskip("aiosmtpd")

from patchkit.mail.send import Delivery, SmtpConfig, prepare, send_smtp
from tests.helpers import REPO_ROOT, GitTree, Project, read_mail, run_cli
from tests.sending import (
    Inbox,
    add_config,
    free_port,
    mailable,
    real_size_series,
    send,
    serving,
    start,
    wire_form,
    without_date,
)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with serving() as box:
        yield box


def _dates(received: list[tuple[str, list[str], bytes]]) -> list[bytes]:
    return [without_date(content)[1] for _, _, content in received]


def test_send_refuses_an_unverified_revision(applied_mail_project: Project, small_tree: GitTree, inbox: Inbox) -> None:
    add_config(applied_mail_project.series)
    result = send(applied_mail_project.root, small_tree, inbox.port)
    assert result.code == 4 and "v1 was never verified; run 'patchkit verify' first" in result.err
    assert inbox.received == []


def test_a_real_size_series_arrives_byte_for_byte_with_crlf_dated_in_order_and_is_recorded(
    tmp_path: Path, small_tree: GitTree, inbox: Inbox
) -> None:
    project = Project(tmp_path / "project", small_tree)
    real_size_series(project.root, small_tree)
    project.apply()
    mailable(project)
    result = send(project.root, small_tree, inbox.port)
    assert result.code == 0, result.err
    assert "verify: v1 lint, build and boot passed (tiny) on" in result.out and "11 mails sent" in result.out
    files = sorted((project.root / "outgoing/demo-v1").glob("*.patch"))
    assert len(files) == 11 and len(inbox.received) == 11
    assert min(len(p.read_bytes()) for p in files) > 3000  # far past the 1001 bytes a bare-LF "line" may have
    for path, (sender, rcpts, content) in zip(files, inbox.received, strict=True):
        assert sender == "author@example.org"
        assert rcpts == ["x86@kernel.org", "linux-kernel@vger.kernel.org"]
        assert b"\n" not in content.replace(b"\r\n", b"")  # CRLF on the wire, no bare LF
        # the file, byte for byte, but for the Date: (the send time) and the line endings
        assert without_date(content)[0] == without_date(wire_form(path))[0], path.name
        mid = read_mail(path)["Message-ID"]
        assert f"sent {path.name} {mid}: the server answered 250 2.0.0 Ok: queued as" in result.out
    cover = email.message_from_bytes(inbox.received[0][2].replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert "\n.\n..and the lines above" in cover.get_content()  # SMTP's dot-stuffing undone, text intact
    assert "  x86@kernel.org: accepted (250 OK)" in result.out
    # dated when sent, one second apart, cover first; the files keep format's dates
    sent_at = [email.utils.parsedate_to_datetime(d.decode()[6:]) for d in _dates(inbox.received)]
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(sent_at))
    assert without_date(wire_form(files[3]))[1] != _dates(inbox.received)[3]
    data = yaml.safe_load(project.yaml_path.read_text())
    (record,) = data["history"]
    assert record["sent"] is True and "sent_message_ids" not in record
    assert [record["cover_message_id"], *(p["message_id"] for p in record["patches"])] == [
        read_mail(p)["Message-ID"] for p in files
    ]
    # everything went out: a rerun says so and mails nothing
    again = send(project.root, small_tree, inbox.port)
    assert again.code == 0, again.err
    assert "v1: all 11 mails went out on" in again.out and "nothing left to send" in again.out
    assert len(inbox.received) == 11


def test_the_bundled_series_mails_go_over_smtp_intact(tmp_path: Path, inbox: Inbox) -> None:
    """format's mails of series/tdx (tests/golden), through the SMTP sender itself: each as received is the file
    with CRLF; the same bytes with bare LF (how send sent them before) are what the server refuses."""
    files = sorted((REPO_ROOT / "tests/golden/tdx/v1").glob("*.patch"))
    mails = prepare(files, "Test Author <author@example.org>", to_self=False, reflect=False)
    seen: list[Delivery] = []
    send_smtp(SmtpConfig("127.0.0.1", inbox.port, "none", timeout=30), mails, None, seen.append)
    assert [d.mail.path for d in seen] == files and len(inbox.received) == 11
    for path, (_, rcpts, content) in zip(files, inbox.received, strict=True):
        assert without_date(content)[0] == without_date(wire_form(path))[0], path.name
        assert "linux-coco@lists.linux.dev" in rcpts
    with smtplib.SMTP("127.0.0.1", inbox.port, timeout=30) as client:
        bare = files[5].read_bytes().split(b"\n", 1)[1]
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("author@example.org", ["x86@kernel.org"], bare)
    assert refused.value.smtp_code == 500 and b"Line too long" in refused.value.smtp_error


def test_a_changed_series_needs_verify_again(applied_mail_project: Project, small_tree: GitTree, inbox: Inbox) -> None:
    project = mailable(applied_mail_project).root
    diff = project / "series/demo/0002-makefile.diff"
    diff.write_text(diff.read_text().replace("+obj-y += vmx/", "+obj-y += vmx/ tdx/"))
    assert run_cli("apply", "--tree", str(small_tree.path), "--force", cwd=project).code == 0
    result = send(project, small_tree, inbox.port)
    assert result.code == 4 and "the last verify was of v1 (tree" in result.err and "run 'patchkit verify' again" \
        in result.err  # fmt: skip
    assert inbox.received == []
    result = send(project, small_tree, inbox.port, "--force")
    assert result.code == 0, result.err
    assert "verify: not checked (--force)" in result.out and len(inbox.received) == 3


def test_dry_run_to_self_and_reflect(applied_mail_project: Project, small_tree: GitTree, inbox: Inbox) -> None:
    project = mailable(applied_mail_project).root
    before = (project / "series/demo/series.yaml").read_bytes()
    result = send(project, small_tree, inbox.port, "--dry-run")
    assert result.code == 0 and "dry run: 3 mails not sent" in result.out and "the verify gate is open" in result.out
    assert "to x86@kernel.org, linux-kernel@vger.kernel.org" in result.out and inbox.received == []
    result = send(project, small_tree, inbox.port, "--to-self")
    assert result.code == 0, result.err
    assert [r[1] for r in inbox.received] == [["author@example.org"]] * 3
    mail = email.message_from_bytes(inbox.received[0][2], policy=email.policy.default)
    assert mail["To"] == "Test Author <author@example.org>" and mail["Cc"] is None
    inbox.received.clear()
    result = send(project, small_tree, inbox.port, "--reflect")
    assert result.code == 0, result.err
    assert [r[1] for r in inbox.received] == [["author@example.org"]] * 3
    mail = email.message_from_bytes(inbox.received[1][2], policy=email.policy.default)
    assert mail["To"] == "x86@kernel.org" and mail["Cc"] == "linux-kernel@vger.kernel.org"  # as the list sees it
    assert (project / "series/demo/series.yaml").read_bytes() == before  # test sends record nothing
    result = run_cli("send", "--tree", str(small_tree.path), "--via", "git-send-email", "--reflect", cwd=project)
    assert result.code == 2 and "--reflect needs --via smtp" in result.err


def test_smtp_login_takes_the_password_from_the_environment(
    applied_mail_project: Project, small_tree: GitTree, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = mailable(applied_mail_project).root
    monkeypatch.setenv("PATCHKIT_SMTP_PASSWORD", "wrong")
    result = send(project, small_tree, inbox.port, "--smtp-user", "me")
    assert result.code == 9 and "the server refused the login as me: 535" in result.err
    assert "0 of 3 mail(s) sent" in result.err and "0 of 3 mails of v1 are recorded as sent" in result.err
    assert len(result.err.strip().splitlines()) == 1 and inbox.received == []
    monkeypatch.setenv("PATCHKIT_SMTP_PASSWORD", "s3cret")
    result = send(project, small_tree, inbox.port, "--smtp-user", "me")
    assert result.code == 0, result.err
    assert len(inbox.received) == 3
    assert "s3cret" not in (project / "series/demo/series.yaml").read_text()


def test_starttls_with_a_private_ca(applied_mail_project: Project, tmp_path: Path, small_tree: GitTree) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    box = Inbox(free_port())
    controller = start(box, tls_context=context, require_starttls=True)
    try:
        project = mailable(applied_mail_project).root
        base = ["send", "--tree", str(small_tree.path), "--smtp-server", "127.0.0.1", "--smtp-port", str(box.port)]
        result = run_cli(*base, "--smtp-encryption", "starttls", cwd=project)
        assert result.code == 9 and "CERTIFICATE_VERIFY_FAILED" in result.err  # an unknown CA is not trusted
        result = run_cli(*base, "--smtp-encryption", "starttls", "--smtp-cafile", str(cert), cwd=project)
        assert result.code == 0, result.err
        assert len(box.received) == 3
    finally:
        controller.stop()


def _has_git_send_email() -> bool:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    return Path(exec_path, "git-send-email").exists()


@pytest.mark.skipif(not _has_git_send_email(), reason="git send-email (Debian's git-email) is not installed")
def test_send_through_git_send_email_delivers_and_records_each_mail(
    applied_mail_project: Project, small_tree: GitTree, inbox: Inbox
) -> None:
    project = mailable(applied_mail_project).root
    small_tree.git("config", "sendemail.cc", "someone-else@example.org")  # format decided the recipients
    result = run_cli("send", "--tree", str(small_tree.path), "--via", "git-send-email", "--smtp-server", "127.0.0.1",
                     "--smtp-port", str(inbox.port), "--smtp-encryption", "none", cwd=project)  # fmt: skip
    assert result.code == 0, result.err
    files = sorted((project / "outgoing/demo-v1").glob("*.patch"))
    assert len(inbox.received) == 3
    for path, (sender, rcpts, content) in zip(files, inbox.received, strict=True):
        assert sender == "author@example.org"
        assert sorted(rcpts) == ["linux-kernel@vger.kernel.org", "x86@kernel.org"]  # no Cc from bodies or config
        assert b"\n" not in content.replace(b"\r\n", b"")
        got = email.message_from_bytes(content.replace(b"\r\n", b"\n"), policy=email.policy.default)
        want = read_mail(path)
        for name in ("Message-ID", "Subject", "In-Reply-To", "From"):
            assert got[name] == want[name], name
        assert got.get_content() == want.get_content()
        assert f"sent {path.name} {want['Message-ID']}: the server answered 250" in result.out
    data = yaml.safe_load((project / "series/demo/series.yaml").read_text())
    assert data["history"][0]["sent"] is True
    again = run_cli("send", "--tree", str(small_tree.path), "--via", "git-send-email", cwd=project)
    assert again.code == 0 and "nothing left to send" in again.out and len(inbox.received) == 3


@pytest.mark.skipif(_has_git_send_email(), reason="git send-email is installed here")
def test_git_send_email_missing_says_which_package(applied_mail_project: Project, small_tree: GitTree) -> None:
    project = mailable(applied_mail_project).root
    result = run_cli("send", "--tree", str(small_tree.path), "--via", "git-send-email", cwd=project)
    assert result.code == 7 and "apt-get install git-email" in result.err
