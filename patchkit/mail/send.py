"""Deliver formatted mails: over SMTP (plain, STARTTLS or SSL) or through ``git send-email``.

The mails are sent as ``format`` wrote them (headers already checked and
encoded), dated when they go out and with CRLF line endings on the wire; the
envelope goes to their To and Cc, or only to the sender with ``--to-self``
(headers rewritten to the sender) or ``--reflect`` (headers kept, as b4's
reflect does). Every answer of the server is kept per mail and recipient and
handed to the caller as soon as a mail is accepted, so it can be recorded
before the next one goes out. The SMTP password comes from
``PATCHKIT_SMTP_PASSWORD`` or ``git credential``, never from the series data.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from patchkit.errors import DataError, DeliveryError, MissingToolError, UsageError
from patchkit.mail import SMTP_ENCRYPTIONS, headers
from patchkit.tree.repo import KernelTree
from patchkit.util import inputfile, proc


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
    if encryption not in SMTP_ENCRYPTIONS:
        raise UsageError(f"SMTP encryption {encryption!r}: use one of {', '.join(SMTP_ENCRYPTIONS)}")
    port_text = str(port or env.get("PATCHKIT_SMTP_PORT") or _git_config(tree, "sendemail.smtpServerPort") or "")
    if port_text and not (re.fullmatch(r"[0-9]{1,5}", port_text) and 0 < int(port_text) < 65536):
        shown = port_text if len(port_text) <= 20 else port_text[:20] + "..."
        raise UsageError(f"SMTP port {shown!r} is not a port number (1 to 65535)")
    default_port = {"none": 25, "starttls": 587, "ssl": 465}[encryption]
    user = user or env.get("PATCHKIT_SMTP_USER") or _git_config(tree, "sendemail.smtpUser")
    cafile = cafile or env.get("PATCHKIT_SMTP_CAFILE") or _git_config(tree, "sendemail.smtpSSLCertPath")
    if cafile:  # read by ssl later: a regular file of a bounded size, as every input
        inputfile.require_regular_file(Path(cafile), 16 * 1024 * 1024)
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
        raw = inputfile.read_limited(path, MAX_MAIL_BYTES)
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
        outgoing = Outgoing(path, str(parsed.get("Subject", "")), str(parsed.get("Message-ID", "")), envelope_from,
                            tuple(recipients), data)  # fmt: skip
        check_lines(outgoing)
        out.append(outgoing)
    return out


# RFC 5322 2.1.1: a line is at most 998 octets without its CRLF; longer ones are refused by servers
# (aiosmtpd: "500 Line too long") or broken by relays.
MAX_LINE = 998
MAX_MAIL_BYTES = 64 * 1024 * 1024  # a formatted mail; list servers take a few hundred KB


def check_lines(mail: Outgoing) -> None:
    """Refuse, before anything is sent, a mail with a line no SMTP server takes whole."""
    for number, line in enumerate(mail.data.replace(b"\r\n", b"\n").split(b"\n"), start=1):
        if len(line) > MAX_LINE:
            raise DataError(f"{mail.path}:{number}: the line is {len(line)} bytes long; a mail line may have at "
                            f"most {MAX_LINE} (RFC 5322), so no SMTP server would take it whole")  # fmt: skip


def on_the_wire(data: bytes) -> bytes:
    """The mail with CRLF line endings, as SMTP (RFC 5321 2.3.8, the email package's ``policy.SMTP``) wants them.

    A conversion of the bytes, not a re-generation through the email package: that would re-fold headers and
    could re-encode the body, and the mail must go out exactly as ``format`` wrote it. Leading dots are
    doubled by :meth:`smtplib.SMTP.data`.
    """
    text = data.replace(b"\r\n", b"\n")
    if not text.endswith(b"\n"):
        text += b"\n"
    return text.replace(b"\n", email.policy.SMTP.linesep.encode("ascii"))


@dataclass(frozen=True)
class Reply:
    """One answer of the SMTP server: its code and text."""

    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


@dataclass(frozen=True)
class Delivery:
    """What the server said to one mail: who it accepted it for, whom it refused, and its answer to the mail."""

    mail: Outgoing
    accepted: tuple[tuple[str, Reply], ...]
    refused: tuple[tuple[str, Reply], ...]
    reply: Reply


def _reply(code: int, text: bytes | str) -> Reply:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return Reply(code, " ".join(words.split()))


def _needs_8bit(mail: Outgoing) -> bool:
    return any(byte > 0x7F for byte in mail.data)


def _needs_utf8(mail: Outgoing) -> bool:
    return not all(address.isascii() for address in (mail.sender, *mail.recipients))


def send_smtp(
    config: SmtpConfig,
    mails: list[Outgoing],
    password: str | None,
    delivered: Callable[[Delivery], None],
    *,
    start: datetime | None = None,
) -> list[Delivery]:
    """Send ``mails`` in order over one SMTP session, each dated ``start`` + 1 s per mail before it.

    ``delivered`` is called as soon as the server accepted a mail (for at least one recipient), before the
    next one goes out: that is when it must be recorded. A mail the server refuses stops the send (the
    later patches of a thread must not go out without it): :class:`DeliveryError`, naming the mail, the
    server's answer and what went out before it; so does a broken connection.
    """
    start = start or datetime.now(UTC).astimezone().replace(microsecond=0)
    where = f"SMTP {config.host}:{config.port}"
    done: list[Delivery] = []

    def failed(what: str) -> DeliveryError:
        return DeliveryError(f"{where}: {what}; {len(done)} of {len(mails)} mail(s) sent")

    context = ssl.create_default_context(cafile=config.cafile) if config.encryption != "none" else None
    try:
        if config.encryption == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise failed(f"cannot connect: {_describe(exc)}") from exc
    try:
        try:
            client.ehlo()
            if config.encryption == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if config.user is not None and password is not None:
                client.login(config.user, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise failed(f"the server refused the login as {config.user}: {_describe(exc)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise failed(f"the session did not start: {_describe(exc)}") from exc
        # What the mails need from the server, checked before the first one goes out.
        if any(map(_needs_8bit, mails)) and not client.has_extn("8bitmime"):
            raise failed("the server does not take 8-bit mail (no 8BITMIME) and the mails have non-ASCII text")
        if any(map(_needs_utf8, mails)) and not client.has_extn("smtputf8"):
            raise failed("the server does not take non-ASCII addresses (no SMTPUTF8) and the mails have some")
        for index, mail in enumerate(mails):
            wire = on_the_wire(headers.with_date(mail.data, start + timedelta(seconds=index)))
            try:
                delivery = _transaction(client, mail, wire)
            except _Refused as exc:
                raise failed(f"{mail.path.name}: {exc}") from None
            except (OSError, smtplib.SMTPException) as exc:
                raise failed(f"{mail.path.name}: the connection broke: {_describe(exc)}") from exc
            done.append(delivery)
            delivered(delivery)
    finally:
        _close(client)
    return done


def _close(client: smtplib.SMTP) -> None:
    """QUIT when the session still stands; a failure here must not hide what happened before it."""
    with contextlib.suppress(OSError, smtplib.SMTPException):
        client.quit()
    client.close()


class _Refused(Exception):
    """The server refused one mail (its sender, its data, or every recipient)."""


def _transaction(client: smtplib.SMTP, mail: Outgoing, wire: bytes) -> Delivery:
    """MAIL, RCPT per recipient, DATA: every answer kept, every refusal said with the server's code and text."""
    options = ["BODY=8BITMIME"] if _needs_8bit(mail) else []
    if _needs_utf8(mail):
        options.append("SMTPUTF8")
    client.command_encoding = "ascii"  # smtplib switches it to UTF-8 for SMTPUTF8 and never back
    code, text = client.mail(mail.sender, options)
    if code != 250:
        client.rset()
        raise _Refused(f"the server refused the sender {mail.sender}: {_reply(code, text)}")
    accepted: list[tuple[str, Reply]] = []
    refused: list[tuple[str, Reply]] = []
    for recipient in mail.recipients:
        code, text = client.rcpt(recipient)
        (accepted if code in (250, 251) else refused).append((recipient, _reply(code, text)))
    if not accepted:
        client.rset()
        said = "; ".join(f"{who}: {reply}" for who, reply in refused)
        raise _Refused(f"the server refused every recipient ({said})")
    try:
        code, text = client.data(wire)
    except smtplib.SMTPDataError as exc:
        raise _Refused(f"the server refused the mail: {_reply(exc.smtp_code, exc.smtp_error)}") from exc
    return Delivery(mail, tuple(accepted), tuple(refused), _reply(code, text))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return str(_reply(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({exc})" if str(exc) else "the server closed the connection"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there?)"
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    return str(exc) or type(exc).__name__


# git send-email's log of one mail it sent (without --quiet; LC_ALL=C): "OK. Log says:", the headers it sent
# (its Message-Id is the mail's own), then "Result: 250 ..." (or "Result: OK" through a sendmail program).
_GIT_LOG_START = "OK. Log says:"
_GIT_MESSAGE_ID = re.compile(r"^Message-Id:\s*(<[^>\s]+>)", re.IGNORECASE)
_GIT_RESULT = re.compile(r"^Result:\s*(?:(\d{3})\s*(.*)|OK)\s*$")


def send_git(
    tree: KernelTree, config: SmtpConfig | None, mails: list[Outgoing], sender: str,
    delivered: Callable[[Delivery], None],
) -> list[Delivery]:  # fmt: skip
    """Hand ``mails`` to one ``git send-email`` run, learning from its log which went out as it goes.

    It sends to the mails' own To and Cc (format decided them: nothing from the bodies, nothing from
    ``sendemail.to``/``cc`` settings), threads nothing, dates the mails itself (send time, 1 s apart) and
    reports per mail, not per recipient: it stops at the first refusal.
    """
    if not _has_send_email():
        raise MissingToolError("'git send-email' is not installed", packages=("git-email",))
    argv = [
        "git", "-C", str(tree.path), "send-email", "--confirm=never", "--no-thread", "--8bit-encoding=UTF-8",
        f"--from={sender}", "--no-to", "--no-cc", "--no-bcc",
        *(f"--suppress-cc={what}" for what in ("author", "self", "body", "cccmd")),
    ]  # fmt: skip
    if config is not None:
        argv += [f"--smtp-server={config.host}", f"--smtp-server-port={config.port}"]
        argv += {"none": [], "starttls": ["--smtp-encryption=tls"], "ssl": ["--smtp-encryption=ssl"]}[config.encryption]
        if config.user:
            argv.append(f"--smtp-user={config.user}")
        if config.cafile:
            argv.append(f"--smtp-ssl-cert-path={config.cafile}")
    by_id = {mail.message_id: mail for mail in mails}
    done: list[Delivery] = []
    env = {"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    with _temporary_copies(mails) as paths, tempfile.TemporaryFile() as errors:
        with proc.start([*argv, "--no-format-patch", *map(str, paths)], stdout=proc.PIPE, stderr=errors,
                        env=env) as child:  # fmt: skip
            assert child.stdout is not None
            in_log, message_id = False, ""
            for raw in child.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line == _GIT_LOG_START:
                    in_log, message_id = True, ""
                elif in_log and not message_id and (found := _GIT_MESSAGE_ID.match(line)):
                    message_id = found.group(1)
                elif in_log and (result := _GIT_RESULT.match(line)):
                    in_log = False
                    mail = by_id.get(message_id)
                    if mail is None:
                        continue  # pragma: no cover - git sends only what it was given
                    reply = Reply(int(result.group(1)), result.group(2).strip()) if result.group(1) else Reply(250, "")
                    delivery = Delivery(mail, tuple((r, reply) for r in mail.recipients), (), reply)
                    done.append(delivery)
                    delivered(delivery)
        errors.seek(0)
        stderr = errors.read().decode("utf-8", "replace")
    if child.returncode != 0 or len(done) < len(mails):
        detail = [line for line in stderr.strip().splitlines() if line.strip()][-1:] or [f"exit {child.returncode}"]
        what = mails[len(done)].path.name if len(done) < len(mails) else "the session"
        raise DeliveryError(f"git send-email: {what}: {detail[0].strip()}; {len(done)} of {len(mails)} mail(s) sent")
    return done


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
