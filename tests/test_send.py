"""send: to a real SMTP server on loopback (aiosmtpd), gated on verify, recording what was sent."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.helpers import GitTree, Project, read_mail, run_cli


@dataclass
class Inbox:
    port: int
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"me" and data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(inbox: Inbox, **kwargs: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, authenticator=_authenticate,
                            auth_require_tls=False, **kwargs)  # fmt: skip
    controller.start()
    return controller


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(_free_port())
    controller = _serve(box)
    yield box
    controller.stop()


def _verified(applied: Project, tmp_path: Path) -> Path:
    """The applied mailable series, verified (no lint, no build): what send asks for first."""
    result = applied.cli("verify", "--tree", str(applied.tree.path), "--no-lint", "--no-build",
                         "--results", str(tmp_path / "results"))  # fmt: skip
    assert result.code == 0, result.out + result.err
    return applied.root


def _send(project: Path, tree: GitTree, port: int, *extra: str) -> Any:
    return run_cli("send", "--tree", str(tree.path), "--smtp-server", "127.0.0.1", "--smtp-port", str(port),
                   "--smtp-encryption", "none", *extra, cwd=project)  # fmt: skip


def test_send_refuses_an_unverified_revision(applied_mail_project: Project, small_tree: GitTree, inbox: Inbox) -> None:
    project = applied_mail_project.root
    result = _send(project, small_tree, inbox.port)
    assert result.code == 4 and "v1 was never verified; run 'patchkit verify' first" in result.err
    assert inbox.received == []


def test_every_mail_arrives_threaded_with_exact_headers_and_is_recorded(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree, inbox: Inbox
) -> None:
    project = _verified(applied_mail_project, tmp_path)
    result = _send(project, small_tree, inbox.port)
    assert result.code == 0, result.err
    assert "verify: v1 passed on" in result.out and "3 mails sent" in result.out
    files = sorted((project / "outgoing/demo-v1").glob("*.patch"))
    assert len(inbox.received) == 3
    for path, (sender, rcpts, content) in zip(files, inbox.received, strict=True):
        assert sender == "author@example.org"
        assert rcpts == ["x86@kernel.org", "linux-kernel@vger.kernel.org"]
        # the mail on the wire is the file, byte for byte (without the mbox separator line)
        assert content.replace(b"\r\n", b"\n").rstrip(b"\n") == path.read_bytes().split(b"\n", 1)[1].rstrip(b"\n")
    cover = read_mail(files[0])
    for path in files[1:]:
        assert read_mail(path)["In-Reply-To"] == cover["Message-ID"]
    data = yaml.safe_load((project / "series/demo/series.yaml").read_text())
    (record,) = data["history"]
    assert record["revision"] == 1 and record["sent"] is True
    assert record["cover_message_id"] == cover["Message-ID"]
    assert [p["message_id"] for p in record["patches"]] == [read_mail(p)["Message-ID"] for p in files[1:]]
    # the same revision is not sent twice by accident
    again = _send(project, small_tree, inbox.port)
    assert again.code == 2 and "v1 was already sent on" in again.err and "run 'patchkit revise' for v2" in again.err
    assert len(inbox.received) == 3
    # the recorded v1 is what revise keeps, and v2's cover links to it
    assert run_cli("revise", cwd=project).code == 0
    assert yaml.safe_load((project / "series/demo/series.yaml").read_text())["history"][0]["sent"] is True


def test_a_changed_series_needs_verify_again(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree, inbox: Inbox
) -> None:
    project = _verified(applied_mail_project, tmp_path)
    diff = project / "series/demo/0002-makefile.diff"
    diff.write_text(diff.read_text().replace("+obj-y += vmx/", "+obj-y += vmx/ tdx/"))
    assert run_cli("apply", "--tree", str(small_tree.path), "--force", cwd=project).code == 0
    result = _send(project, small_tree, inbox.port)
    assert result.code == 4 and "the last verify was of v1 (tree" in result.err and "run 'patchkit verify' again" \
        in result.err  # fmt: skip
    assert inbox.received == []
    result = _send(project, small_tree, inbox.port, "--force")
    assert result.code == 0, result.err
    assert "verify: not checked (--force)" in result.out and len(inbox.received) == 3


def test_dry_run_to_self_and_reflect(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree, inbox: Inbox
) -> None:
    project = _verified(applied_mail_project, tmp_path)
    before = (project / "series/demo/series.yaml").read_bytes()
    result = _send(project, small_tree, inbox.port, "--dry-run")
    assert result.code == 0 and "dry run: 3 mails not sent" in result.out
    assert "to x86@kernel.org, linux-kernel@vger.kernel.org" in result.out and inbox.received == []
    result = _send(project, small_tree, inbox.port, "--to-self")
    assert result.code == 0, result.err
    assert [r[1] for r in inbox.received] == [["author@example.org"]] * 3
    mail = email.message_from_bytes(inbox.received[0][2], policy=email.policy.default)
    assert mail["To"] == "Test Author <author@example.org>" and mail["Cc"] is None
    inbox.received.clear()
    result = _send(project, small_tree, inbox.port, "--reflect")
    assert result.code == 0, result.err
    assert [r[1] for r in inbox.received] == [["author@example.org"]] * 3
    mail = email.message_from_bytes(inbox.received[1][2], policy=email.policy.default)
    assert mail["To"] == "x86@kernel.org" and mail["Cc"] == "linux-kernel@vger.kernel.org"  # as the list sees it
    assert (project / "series/demo/series.yaml").read_bytes() == before  # test sends record nothing


def test_smtp_login_takes_the_password_from_the_environment(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _verified(applied_mail_project, tmp_path)
    monkeypatch.setenv("PATCHKIT_SMTP_PASSWORD", "wrong")
    result = _send(project, small_tree, inbox.port, "--smtp-user", "me")
    assert result.code == 8 and "535" in result.err and "0 of 3 sent" in result.err
    assert len(result.err.strip().splitlines()) == 1 and inbox.received == []
    monkeypatch.setenv("PATCHKIT_SMTP_PASSWORD", "s3cret")
    result = _send(project, small_tree, inbox.port, "--smtp-user", "me")
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
    box = Inbox(_free_port())
    controller = _serve(box, tls_context=context, require_starttls=True)
    try:
        project = _verified(applied_mail_project, tmp_path)
        base = ["send", "--tree", str(small_tree.path), "--smtp-server", "127.0.0.1", "--smtp-port", str(box.port)]
        result = run_cli(*base, "--smtp-encryption", "starttls", cwd=project)
        assert result.code == 8 and "CERTIFICATE_VERIFY_FAILED" in result.err  # an unknown CA is not trusted
        result = run_cli(*base, "--smtp-encryption", "starttls", "--smtp-cafile", str(cert), cwd=project)
        assert result.code == 0, result.err
        assert len(box.received) == 3
    finally:
        controller.stop()


def test_git_send_email_missing_says_which_package(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree, inbox: Inbox
) -> None:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    if Path(exec_path, "git-send-email").exists():
        pytest.skip("git send-email is installed here")
    project = _verified(applied_mail_project, tmp_path)
    result = run_cli("send", "--tree", str(small_tree.path), "--via", "git-send-email", cwd=project)
    assert result.code == 7 and "apt-get install git-email" in result.err
