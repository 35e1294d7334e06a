"""Deliver formatted mails: over SMTP (plain, STARTTLS or SSL) or through ``git send-email``.

The mails are sent exactly as ``format`` wrote them (headers already checked
and encoded); the envelope goes to their To and Cc, or only to the sender with
``--to-self`` (headers rewritten to the sender) or ``--reflect`` (headers kept,
as b4's reflect does). The SMTP password comes from ``PATCHKIT_SMTP_PASSWORD``
or ``git credential``, never from the series data.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import os
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from patchkit import proc
from patchkit.errors import EnvironmentProblem, MissingToolError, UsageError
from patchkit.gitrepo import KernelTree
from patchkit.mail import headers

ENCRYPTIONS = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    encryption: str  # none | starttls | ssl
    user: str | None = None
    cafile: str | None = None  # extra CA certificates to trust (a private server's own CA)
    timeout: float = 60.0


@dataclass(frozen=True)
class Outgoing:
    path: Path
    subject: str
    message_id: str
    sender: str  # envelope sender (address)
    recipients: tuple[str, ...]  # envelope recipients (addresses)
    data: bytes  # the mail as sent (no mbox From line)


def _git_config(tree: KernelTree, key: str) -> str | None:
    value = tree.git("config", "--get", key, check=False).strip()
    return value or None


def smtp_config(
    tree: KernelTree,
    *,
    host: str | None,
    port: int | None,
    encryption: str | None,
    user: str | None,
    cafile: str | None,
) -> SmtpConfig:
    """Options first, then ``PATCHKIT_SMTP_*``, then git's ``sendemail.*`` settings."""
    env = os.environ
    host = host or env.get("PATCHKIT_SMTP_SERVER") or _git_config(tree, "sendemail.smtpServer")
    if not host:
        raise UsageError("no SMTP server: pass --smtp-server HOST, set PATCHKIT_SMTP_SERVER, or git's "
                         "sendemail.smtpServer; or send --via git-send-email")  # fmt: skip
    encryption = encryption or env.get("PATCHKIT_SMTP_ENCRYPTION") or _git_config(tree, "sendemail.smtpEncryption")
    encryption = {"tls": "starttls", "": "none", None: "starttls"}.get(encryption, encryption)
    if encryption not in ENCRYPTIONS:
        raise UsageError(f"SMTP encryption {encryption!r}: use one of {', '.join(ENCRYPTIONS)}")
    port_text = str(port or env.get("PATCHKIT_SMTP_PORT") or _git_config(tree, "sendemail.smtpServerPort") or "")
    if port_text and not port_text.isdigit():
        raise UsageError(f"SMTP port {port_text!r} is not a number")
    default_port = {"none": 25, "starttls": 587, "ssl": 465}[encryption]
    user = user or env.get("PATCHKIT_SMTP_USER") or _git_config(tree, "sendemail.smtpUser")
    cafile = cafile or env.get("PATCHKIT_SMTP_CAFILE") or _git_config(tree, "sendemail.smtpSSLCertPath")
    return SmtpConfig(host, int(port_text) if port_text else default_port, encryption, user, cafile)


def password_for(config: SmtpConfig) -> str | None:
    """The SMTP password: ``PATCHKIT_SMTP_PASSWORD``, else what ``git credential fill`` knows (never prompts)."""
    if config.user is None:
        return None
    from_env = os.environ.get("PATCHKIT_SMTP_PASSWORD")
    if from_env:
        return from_env
    request = f"protocol=smtp\nhost={config.host}:{config.port}\nusername={config.user}\n\n".encode()
    result = proc.run(["git", "credential", "fill"], input_bytes=request,
                      env={"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"})  # fmt: skip
    if result.returncode == 0:
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            if line.startswith("password=") and len(line) > len("password="):
                return line.split("=", 1)[1]
    raise UsageError(f"no SMTP password for {config.user}@{config.host}: set PATCHKIT_SMTP_PASSWORD or store it "
                     "with a git credential helper")  # fmt: skip


def prepare(files: list[Path], sender: str, *, to_self: bool, reflect: bool) -> list[Outgoing]:
    """The mails to send and their envelopes; ``to_self`` rewrites To/Cc to the sender."""
    out: list[Outgoing] = []
    envelope_from = email.utils.parseaddr(sender)[1]
    for path in files:
        raw = path.read_bytes()
        if raw.startswith(b"From ") and b"\n" in raw:
            raw = raw.split(b"\n", 1)[1]  # the mbox separator line is not part of the mail
        mail = headers.RawMail.parse(raw)
        decoded = [(name, headers.decode(value)) for name, value in mail.headers]
        if to_self:
            decoded = [(n, v) for n, v in decoded if n.lower() not in ("to", "cc", "bcc")]
            at = next(i for i, (n, _) in enumerate(decoded) if n.lower() == "message-id") + 1
            decoded.insert(at, ("To", sender))
            data = mail.render(decoded)
        else:
            data = raw
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        if parsed.get("Bcc") is not None:
            raise UsageError(f"{path}: has a Bcc: header; patchkit never sends one")
        if to_self or reflect:
            recipients = [envelope_from]
        else:
            pairs = email.utils.getaddresses([str(parsed.get(h, "")) for h in ("To", "Cc")])
            recipients = list(dict.fromkeys(addr for _, addr in pairs if addr))
        if not recipients:
            raise UsageError(f"{path}: nobody to send it to (no To: or Cc:); add 'to:' to series.yaml or use --to-self")
        out.append(Outgoing(path, str(parsed.get("Subject", "")), str(parsed.get("Message-ID", "")), envelope_from,
                            tuple(recipients), data))  # fmt: skip
    return out


def send_smtp(
    config: SmtpConfig, mails: list[Outgoing], password: str | None, progress: Callable[[Outgoing], None]
) -> None:
    """Send every mail over one SMTP session; a failure names the mail and what was already sent."""
    context = ssl.create_default_context(cafile=config.cafile) if config.encryption != "none" else None
    sent: list[Outgoing] = []
    try:
        if config.encryption == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with client:
            client.ehlo()
            if config.encryption == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if config.user is not None and password is not None:
                client.login(config.user, password)
            for mail in mails:
                options = ["BODY=8BITMIME"] if client.has_extn("8bitmime") else []
                client.sendmail(mail.sender, list(mail.recipients), mail.data, mail_options=options)
                sent.append(mail)
                progress(mail)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        done = f"{len(sent)} of {len(mails)} sent" + (f" (the last: {sent[-1].path.name})" if sent else "")
        what = mails[len(sent)].path.name if len(sent) < len(mails) else "the session"
        raise EnvironmentProblem(f"SMTP {config.host}:{config.port}: {what}: {_describe(exc)}; {done}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        return f"{exc.smtp_code} {error.decode('utf-8', 'replace') if isinstance(error, bytes) else error}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipients refused: " + ", ".join(exc.recipients)
    return str(exc) or type(exc).__name__


def send_git(tree: KernelTree, config: SmtpConfig | None, mails: list[Outgoing], *, self_only: bool) -> None:
    """Hand the mails to ``git send-email`` (which threads nothing and adds no Cc: format did all that)."""
    if not _has_send_email():
        raise MissingToolError("'git send-email' is not installed", packages=("git-email",))
    argv = ["send-email", "--confirm=never", "--suppress-cc=all", "--no-thread", "--8bit-encoding=UTF-8",
            "--quiet"]  # fmt: skip
    if self_only:
        argv += [f"--to={mails[0].sender}", "--no-to-cover", "--no-cc-cover"]
    if config is not None:
        argv += [f"--smtp-server={config.host}", f"--smtp-server-port={config.port}"]
        argv += {"none": [], "starttls": ["--smtp-encryption=tls"], "ssl": ["--smtp-encryption=ssl"]}[config.encryption]
        if config.user:
            argv.append(f"--smtp-user={config.user}")
    with _temporary_copies(mails) as paths:
        result = tree.run_git([*argv, *map(str, paths)])
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise EnvironmentProblem(f"git send-email failed: {detail[0]}")


def _has_send_email() -> bool:
    exec_path = proc.run(["git", "--exec-path"]).stdout.decode().strip()
    return bool(exec_path) and Path(exec_path, "git-send-email").exists()


@contextlib.contextmanager
def _temporary_copies(mails: list[Outgoing]) -> Iterator[list[Path]]:
    with tempfile.TemporaryDirectory(prefix="patchkit-send-") as scratch:
        paths = []
        for index, mail in enumerate(mails):
            path = Path(scratch) / f"{index:04d}.eml"
            path.write_bytes(mail.data)
            paths.append(path)
        yield paths
