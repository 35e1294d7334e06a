"""Read patches out of a mailbox: git format-patch output or a mailing-list archive.

Handles the cover letter (0/N), ``[PATCH vN k/N]`` and ``[RFC PATCH]``
prefixes, quoted-printable and base64 bodies, RFC 2047 encoded names and
subjects, and an in-body ``From:`` that overrides the sender.
"""

from __future__ import annotations

import email.errors
import email.header
import email.parser
import email.utils
import mailbox
import re
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from patchkit.errors import DataError
from patchkit.series.message import parse_message
from patchkit.series.model import Person
from patchkit.util import inputfile

_PREFIX = re.compile(r"^\s*\[(?P<tags>[^\]]*)\]\s*(?P<rest>.*)$", re.DOTALL)
_COUNTER = re.compile(r"^(?P<k>\d+)/(?P<n>\d+)$")
_REVISION = re.compile(r"^[vV](?P<rev>\d+)$")
_SIGNATURE = re.compile(r"\n-- \n(?![\s\S]*^(?:diff --git|@@ ))[\s\S]*\Z", re.MULTILINE)
_SHORTLOG_AUTHOR = re.compile(r"^\S.* \(\d+\):$", re.MULTILINE)
_BASEMENT = re.compile(r"^(?:base-commit|change-id|prerequisite-[a-z-]+): .*\n?", re.MULTILINE)


@dataclass(frozen=True)
class MailPatch:
    index: int  # k of k/N (1 when the subject has no counter)
    subject: str
    author: Person
    date: str  # ISO 8601 with offset
    body: str
    trailers: tuple[str, ...]
    diff: bytes
    message_id: str = ""


@dataclass(frozen=True)
class MailSeries:
    subject_prefix: str | None  # e.g. "PATCH" or "RFC PATCH"
    revision: int | None
    cover_subject: str | None
    cover_body: str | None
    patches: tuple[MailPatch, ...]
    other_revisions: tuple[int, ...] = ()  # revisions the mailbox also held, not imported
    replies: int = 0  # replies (Re:) in the mailbox: not patches; their trailers are 'patchkit trailers' work
    cover_message_id: str | None = None
    change_id: str | None = None  # the cover's b4 ``change-id:`` line, when it has a well-formed one


@dataclass
class _Candidate:
    position: int
    message_id: str
    index: int | None
    total: int | None
    prefix: str | None
    revision: int | None
    subject: str
    message: Message
    text: str


MAX_MESSAGES = 5000
MAX_MBOX_BYTES = 256 * 1024 * 1024  # a whole list thread with its replies is a few MB


def read_messages(path: Path) -> list[Message]:
    """Every message in the mbox at ``path`` (at least one, at most MAX_MESSAGES); a bad file is a DataError.

    The file is read as every input is (:mod:`patchkit.util.inputfile`: a regular file within the bound,
    a FIFO or ``/dev/zero`` refused unread). An mbox starts with a ``From `` separator line. Python's
    reader silently skips whatever comes before the first one, so an empty file, or one that is something
    else (a single mail saved without the separator, a web page), would read as "no messages" and pass for
    a mailbox without replies: both are refused here, naming the file.
    """
    raw = inputfile.read_limited(path, MAX_MBOX_BYTES)
    start = raw.lstrip(b" \t\r\n")
    if not start:
        raise DataError(f"{path}: {'empty file' if not raw else 'only blank lines'}: no mail in it")
    if not start.startswith(b"From "):
        first = start.split(b"\n", 1)[0][:60].decode("utf-8", "replace")
        raise DataError(f"{path}: not an mbox: it starts with {first!r}, not a 'From ' separator line")
    messages: list[Message] = []
    for from_line, text in _split_mbox(start):
        if len(messages) >= MAX_MESSAGES:
            raise DataError(f"{path}: more than {MAX_MESSAGES} messages; split the mailbox")
        try:
            separator = from_line.decode("ascii")
        except UnicodeDecodeError as exc:  # as Python's mailbox reader: the separator lines are ASCII
            raise DataError(f"{path}: a 'From ' separator line is not ASCII (byte {exc.start}); not an mbox") from None
        message = _parse(text)
        message.set_from(separator[5:].rstrip("\r\n"))
        messages.append(message)
    return messages


UNREADABLE = "X-Patchkit-Unreadable"  # set on a message whose body could not be parsed; says why


def _parse(text: bytes) -> mailbox.mboxMessage:
    """One message; one whose MIME parts nest too deep for Python's (recursive) parser keeps only its headers,
    marked :data:`UNREADABLE`, so the readers skip it, naming it, instead of crashing."""
    try:
        return mailbox.mboxMessage(text)
    except RecursionError:
        headers = email.parser.BytesParser().parsebytes(text, headersonly=True)
        message = mailbox.mboxMessage(headers)
        message.set_payload("")
        message[UNREADABLE] = "its MIME parts are nested too deeply to read"
        return message


def _split_mbox(raw: bytes) -> list[tuple[bytes, bytes]]:
    """(separator line, message) pairs of an mbox in memory, split as :class:`mailbox.mbox` splits a file:
    every line starting with ``From `` begins a message, and the line ending before it belongs to none."""
    parts: list[tuple[bytes, bytes]] = []
    lines = raw.splitlines(keepends=True)
    current: list[bytes] = []
    separator = b""
    for line in lines:
        if line.startswith(b"From "):
            if separator:
                if current and current[-1] == b"\n":  # the blank line before a separator is mbox framing
                    current[-1] = b""
                parts.append((separator, b"".join(current)))
            separator, current = line, []
        else:
            current.append(line)
    if separator:
        parts.append((separator, b"".join(current)))
    return parts


def read_mbox(path: Path) -> MailSeries:
    """The newest revision of the one series in ``path``, complete: every k of N exactly once."""
    messages = read_messages(path)
    covers: list[_Candidate] = []
    candidates: list[_Candidate] = []
    replies = 0
    seen_ids: set[str] = set()
    for position, message in enumerate(messages, start=1):
        where = f"{path}: message {position}"
        raw_subject = decode_header(message.get("Subject", ""), where)
        if re.match(r"^\s*(re|aw|fwd?):", raw_subject, re.IGNORECASE):
            replies += 1
            continue  # replies in a list archive are not patches
        message_id = " ".join(str(message.get("Message-ID", "")).split())
        if message_id and message_id in seen_ids:
            continue  # the same mail twice (an archive and a local copy): one is enough
        seen_ids.add(message_id)
        tags, subject = _split_prefix(raw_subject)
        index, total, msg_prefix, msg_revision = _read_tags(tags)
        text = _body_text(message, where)
        candidate = _Candidate(position, message_id, index, total, msg_prefix, msg_revision, subject, message, text)
        if index == 0 and total:
            covers.append(candidate)
        elif "\ndiff --git " in "\n" + text:
            candidates.append(candidate)  # else: not a patch (an unrelated mail in an archive)
    if not candidates:
        raise DataError(f"{path}: no patches found (no message has a 'diff --git' section)")
    revisions = sorted({c.revision or 1 for c in candidates})
    chosen = revisions[-1]
    mine: list[_Candidate] = []
    for candidate in (c for c in candidates if (c.revision or 1) == chosen):
        # The same patch delivered twice under two Message-Ids (resent, relayed): one copy is enough.
        if not any(c.index == candidate.index and c.text == candidate.text for c in mine):
            mine.append(candidate)
    _check_complete(path, chosen, mine)
    my_covers = [c for c in covers if (c.revision or 1) == chosen]
    if len(my_covers) > 1:
        positions = ", ".join(str(c.position) for c in my_covers)
        raise DataError(f"{path}: v{chosen} has {len(my_covers)} different cover letters (messages {positions})")
    patches = [
        _read_patch(c.message, f"{path}: message {c.position}", c.index or c.position, c.subject, c.text, c.message_id)
        for c in mine
    ]
    patches.sort(key=lambda p: p.index)
    cover = my_covers[0] if my_covers else None
    prefix = next((c.prefix for c in [*my_covers, *mine] if c.prefix), None)
    explicit = next((c.revision for c in mine if c.revision), None)
    return MailSeries(
        subject_prefix=prefix,
        revision=explicit,
        cover_subject=cover.subject if cover else None,
        cover_body=_cover_body(cover.text) if cover else None,
        patches=tuple(patches),
        other_revisions=tuple(r for r in revisions if r != chosen),
        replies=replies,
        cover_message_id=cover.message_id if cover else None,
        change_id=_change_id(cover.text) if cover else None,
    )


def _check_complete(path: Path, revision: int, mine: list[_Candidate]) -> None:
    """Every k of N once: a missing or a repeated patch is an error naming it."""
    totals = sorted({c.total for c in mine if c.total})
    if len(totals) > 1:
        raise DataError(f"{path}: v{revision} mixes series of {' and '.join(map(str, totals))} patches")
    if not totals:
        if len(mine) > 1:
            positions = ", ".join(str(c.position) for c in mine)
            raise DataError(f"{path}: v{revision}: {len(mine)} patches without a k/N counter (messages {positions})")
        return
    total = totals[0]
    by_index: dict[int, list[_Candidate]] = {}
    for candidate in mine:
        if candidate.index is None:
            raise DataError(f"{path}: message {candidate.position} ({candidate.subject}): no k/{total} counter")
        by_index.setdefault(candidate.index, []).append(candidate)
    for index, found in sorted(by_index.items()):
        if index > total:
            raise DataError(f"{path}: message {found[0].position}: patch {index}/{total} is beyond the series")
        if len(found) > 1:
            positions = " and ".join(str(c.position) for c in found)
            raise DataError(
                f"{path}: v{revision} patch {index}/{total} ({found[0].subject}) appears {len(found)} times "
                f"(messages {positions})"
            )
    missing = [k for k in range(1, total + 1) if k not in by_index]
    if missing:
        names = ", ".join(f"{k}/{total}" for k in missing)
        raise DataError(
            f"{path}: v{revision} patch {names} missing: the mailbox has {len(by_index)} of {total}; "
            "add the missing mail and import again"
        )


def decode_header(value: object, where: str) -> str:
    """A header value as text on one line (RFC 2047 words decoded); an undecodable one is a DataError."""
    # Raw 8-bit bytes in a header (RFC 6532 mail, some list archives) come as an email.header.Header
    # whose parts are 'unknown-8bit': read them as UTF-8, as git and b4 do, rather than as U+FFFD.
    source = value if isinstance(value, email.header.Header) else str(value)
    try:
        parts = [(part, "utf-8" if charset == "unknown-8bit" else charset)
                 for part, charset in email.header.decode_header(source)]  # fmt: skip
        decoded = str(email.header.make_header(parts))
    except (UnicodeDecodeError, LookupError, email.errors.HeaderParseError) as exc:
        raise DataError(f"{where}: undecodable header {str(value)!r}: {exc}") from exc
    return re.sub(r"\s*\n\s*", " ", decoded).strip()


def _split_prefix(subject: str) -> tuple[list[str], str]:
    tags: list[str] = []
    while True:
        match = _PREFIX.match(subject)
        if not match:
            return tags, subject.strip()
        tags.extend(match["tags"].split())
        subject = match["rest"]


def _read_tags(tags: list[str]) -> tuple[int | None, int | None, str | None, int | None]:
    index = total = revision = None
    words: list[str] = []
    for tag in tags:
        counter, rev = _COUNTER.match(tag), _REVISION.match(tag)
        if counter:
            index, total = int(counter["k"]), int(counter["n"])
        elif rev:
            revision = int(rev["rev"])
        else:
            words.append(tag)
    return index, total, (" ".join(words) or None), revision


def body_text(message: Message, where: str) -> str:
    """The text/plain body of a message, decoded."""
    return _body_text(message, where)


def _body_text(message: Message, where: str) -> str:
    if message.get(UNREADABLE):
        raise DataError(f"{where}: {message[UNREADABLE]}")
    if message.is_multipart():
        parts = [p for p in message.walk() if p.get_content_type() == "text/plain"]
        if not parts:
            raise DataError(f"{where}: no text/plain part")
        message = parts[0]
    payload = message.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise DataError(f"{where}: empty body")
    charset = message.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset)
    except (UnicodeDecodeError, LookupError, ValueError) as exc:  # ValueError: a NUL in the charset's name
        raise DataError(f"{where}: body is not valid {charset!r}: {exc}") from exc


def _read_patch(message: Message, where: str, index: int, subject: str, text: str, message_id: str = "") -> MailPatch:
    name, address = email.utils.parseaddr(decode_header(message.get("From", ""), where))
    raw_date = message.get("Date")
    # A header with bytes outside ASCII comes back as an email.header.Header, not a str.
    date_header = None if raw_date is None else str(raw_date)
    lines = text.split("\n")
    # An in-body From:/Date: (first lines of the body) names the real author.
    while lines and re.match(r"^(From|Date|Subject): ", lines[0]):
        key, _, value = lines.pop(0).partition(": ")
        if key == "From":
            name, address = email.utils.parseaddr(value)
        elif key == "Date":
            date_header = value
        else:
            subject = _split_prefix(value)[1]
    if not address:
        raise DataError(f"{where}: no author address in From:")
    if date_header is None:
        raise DataError(f"{where}: no Date: header")
    try:
        date = email.utils.parsedate_to_datetime(date_header).isoformat()
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: unreadable Date: {date_header!r}") from exc
    text = "\n".join(lines)
    message_part, diff_part = _split_at_diff(text, where)
    parsed = parse_message(subject + "\n\n" + message_part)
    return MailPatch(
        index=index,
        subject=parsed.subject,
        author=Person(name or address, address),
        date=date,
        body=parsed.body,
        trailers=parsed.trailers,
        diff=diff_part.encode("utf-8"),
        message_id=message_id,
    )


def _split_at_diff(text: str, where: str) -> tuple[str, str]:
    start = ("\n" + text).find("\ndiff --git ")
    before, diff = text[:start], text[start:]
    separator = re.search(r"^---\s*$", before, re.MULTILINE)
    message_part = before[: separator.start()] if separator else before
    diff = _SIGNATURE.sub("\n", diff)
    if not diff.endswith("\n"):
        diff += "\n"
    if not diff.startswith("diff --git "):
        raise DataError(f"{where}: no diff found")
    return message_part.strip("\n"), diff


_CHANGE_ID_LINE = re.compile(r"^change-id: ([0-9]{8}-[a-z0-9-]+-[0-9a-f]{12})$", re.MULTILINE)


def _change_id(text: str) -> str | None:
    """The series' b4 change-id from the cover's basement (the last such line: the cover's text may quote one)."""
    found = _CHANGE_ID_LINE.findall(text)
    return found[-1] if found else None


def _cover_body(text: str) -> str:
    """The cover letter's own words, without git's shortlog and diffstat."""
    shortlog = _SHORTLOG_AUTHOR.search(text)
    body = text[: shortlog.start()] if shortlog else _SIGNATURE.sub("\n", text)
    body = _BASEMENT.sub("", body).rstrip()
    return body.removesuffix("\n---").removesuffix("---").strip("\n")
