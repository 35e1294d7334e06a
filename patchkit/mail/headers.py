"""Mail headers written as ``git format-patch`` writes them, and never injectable.

Every header patchkit writes goes through :func:`fold`. The value is first
checked for control characters (a bare CR or LF would start a new header such
as ``Bcc:``). Then it is written the way git writes it, so that every tool on
the list's side (``git send-email``, b4, mail clients) reads it: the content
starts on the header's own line, a long value is folded at a space so that no
line is longer than 78 characters, and only text that needs it (non-ASCII, or
``=?`` that a reader would take for an encoded word) becomes RFC 2047
quoted-printable encoded-words, ``=?UTF-8?q?...?=``, in git's spelling. What
was written is read back with Python's email package and must say what was
meant, or nothing is written. Data that would reach a header is checked up
front by :func:`check_series`, whose errors name the key.

:func:`with_date` and :func:`with_dates` put the time of sending into mails
``format`` wrote (``format`` itself dates them from the data, so its output is
the same for the same data).
"""

from __future__ import annotations

import email.errors
import email.header
import email.policy
import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import AddressHeader, UnstructuredHeader

from patchkit.errors import DataError
from patchkit.series.load import SERIES_FILE
from patchkit.series.model import Person, Series

POLICY = email.policy.default.clone(linesep="\n", max_line_length=78)
WIDTH = 78  # git format-patch folds at 78 columns
_ENCODED_WIDTH = 76  # the longest line an encoded-word may make (RFC 2047, as git counts it)
_HARD_LIMIT = 998  # RFC 5322: no line may be longer
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_NAMES = {"\r": "a carriage return", "\n": "a newline", "\t": "a tab", "\x00": "a NUL byte"}
_MSGID = re.compile(r"^<[!-;=?-~]+@[!-;=?-~]+>$")
_ID_HEADERS = ("message-id", "in-reply-to", "references")
_ADDRESS_HEADERS = ("from", "to", "cc", "reply-to", "sender")
_RFC822_SPECIALS = frozenset('()<>[]:;@,."\\')
_PHRASE_SAFE = frozenset("!*+-/")  # what may stay plain in an encoded-word inside a name (RFC 2047 5.3)
MAX_HEADER_VALUE = 2000


def control_problem(value: str) -> str | None:
    """What makes ``value`` unfit for a header line, or None."""
    found = _CONTROL.search(value)
    if found is not None:
        char = found.group()
        return f"contains {_CONTROL_NAMES.get(char, f'control character U+{ord(char):04X}')}"
    if len(value) > MAX_HEADER_VALUE:
        return f"is {len(value)} characters long (at most {MAX_HEADER_VALUE} fit a mail header)"
    return None


def check_value(where: str, value: str) -> None:
    problem = control_problem(value)
    if problem is not None:
        raise DataError(f"{where} {problem}; it would reach a mail header")


def check_address(where: str, value: str) -> None:
    """One address (``Name <a@b>`` or ``a@b``) that a To:/Cc: header can carry."""
    check_value(where, value)
    try:
        header = POLICY.header_factory("To", value)
        assert isinstance(header, AddressHeader)
        addresses = header.addresses
    except (ValueError, IndexError, TypeError, AttributeError, email.errors.HeaderParseError) as exc:
        raise DataError(f"{where}: {value!r} is not one mail address") from exc
    if len(addresses) != 1 or "@" not in addresses[0].addr_spec or list(getattr(header, "defects", [])):
        raise DataError(f"{where}: {value!r} is not one mail address")


def check_message_id(where: str, value: str) -> str:
    """``value`` as one ``<id@domain>`` (the brackets added when missing); a DataError names ``where`` if it is not."""
    text = value.strip()
    if text and not text.startswith("<"):
        text = f"<{text}>"
    if control_problem(text) is not None or not _MSGID.match(text):
        raise DataError(f"{where}: {value!r} is not a Message-Id (<id@domain>)")
    return text


def check_series(series: Series) -> None:
    """Refuse data whose subjects, names or recipients would break or inject a mail header."""
    where = f"{series.directory / SERIES_FILE}:"
    if series.cover is not None:
        check_value(f"{where} cover.subject", series.cover.subject)
    check_value(f"{where} subject_prefix", series.subject_prefix)
    for key, values in (("to", series.to), ("cc", series.cc)):
        for index, value in enumerate(values):
            check_address(f"{where} {key}[{index}]", value)
    for index, patch in enumerate(series.patches):
        if patch.overlay:
            continue
        check_value(f"{where} patches[{index}].subject", patch.subject)
        check_value(f"{where} patches[{index}].author.name", patch.author.name)
        check_address(f"{where} patches[{index}].author.email", patch.author.email)
        try:
            fold("From", format_person(patch.author))
        except DataError as exc:
            raise DataError(f"{where} patches[{index}].author: {exc.message}") from exc


def format_person(person: Person) -> str:
    """``Name <a@b>`` as text (quoted when the name has specials, never encoded: :func:`fold` encodes)."""
    return _address_text(person.name, person.email)


def _quoted(display: str) -> str:
    return '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _address_text(display: str, address: str) -> str:
    if not display:
        return address
    name = _quoted(display) if any(char in _RFC822_SPECIALS for char in display) else display
    return f"{name} <{address}>"


def fold(name: str, value: str) -> str:
    """``Name: value`` as git writes it (RFC 2047 where needed, folded at 78), ending in a newline.

    Refuses control characters, and any value that would not read back as itself.
    """
    problem = control_problem(value)
    if problem is not None:
        raise DataError(f"header {name}: value {problem}")
    lower = name.lower()
    if lower in _ID_HEADERS:
        ids = value.split()
        if not ids or not all(_MSGID.match(i) for i in ids):
            raise DataError(f"header {name}: {value!r} is not a list of <message-id>s")
        folded = f"{name}: " + "\n ".join(ids) + "\n"
    elif lower in _ADDRESS_HEADERS:
        folded = _fold_addresses(name, value)
    else:
        folded = _fold_text(name, value)
    _check_folded(name, value, folded)
    return folded


def _needs_encoding(text: str) -> bool:
    """git's rule: non-ASCII, or ``=?`` (which a reader would start decoding)."""
    return not text.isascii() or "=?" in text


def _wrap(head: str, text: str) -> str:
    """``head`` + ``text`` wrapped at spaces into lines of at most WIDTH (git's wrap; a word too long stays whole)."""
    words = text.split(" ")
    lines = [head + words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= WIDTH:
            lines[-1] += " " + word
        else:
            lines.append(" " + word)
    return "\n".join(lines)


def _encoded_words(text: str, column: int, *, in_phrase: bool) -> str:
    """``text`` as RFC 2047 Q encoded-words starting at ``column``, split (never inside a character) to fit 76.

    git's encoding: every byte of a non-ASCII character, and space, ``=``, ``?``, ``_`` become ``=XX``; in a
    name (``in_phrase``) so does every character other than letters, digits and ``!*+-/``.
    """
    opening = "=?UTF-8?q?"
    out = [opening]
    used = column + len(opening)
    for char in text:
        plain = char.isascii() and char.isprintable() and char not in " =?_"
        if in_phrase and plain:
            plain = char.isalnum() or char in _PHRASE_SAFE
        encoded = char if plain else "".join(f"={byte:02X}" for byte in char.encode("utf-8"))
        if used + len(encoded) + 2 > _ENCODED_WIDTH:
            out.append("?=\n " + opening)
            used = 1 + len(opening)
        out.append(encoded)
        used += len(encoded)
    out.append("?=")
    return "".join(out)


_SUBJECT_PREFIX = re.compile(r"^\[[ -~]*?\] ")


def _fold_text(name: str, value: str) -> str:
    head = f"{name}: "
    if not _needs_encoding(value):
        return _wrap(head, value) + "\n"
    prefix = _SUBJECT_PREFIX.match(value) if name.lower() == "subject" else None
    if prefix is not None and not _needs_encoding(prefix.group()):
        head += prefix.group()  # git writes "[PATCH v2 1/3] " plain and encodes the title after it
        value = value[prefix.end() :]
    return head + _encoded_words(value, len(head), in_phrase=False) + "\n"


def _address(display: str, address: str, column: int) -> str:
    """One ``Name <a@b>`` as git writes it from ``column`` on: the name encoded, quoted or plain."""
    if not display:
        return address
    if _needs_encoding(display):
        name = _encoded_words(display, column, in_phrase=True)
    elif any(char in _RFC822_SPECIALS for char in display):
        name = _quoted(display)
    else:
        name = display
    end = column + len(name) if "\n" not in name else len(name.rsplit("\n", 1)[-1])
    if end + len(address) + 3 > WIDTH:
        return f"{name}\n <{address}>"  # git moves an address that does not fit to a line of its own
    return f"{name} <{address}>"


def _fold_addresses(name: str, value: str) -> str:
    """Addresses joined by ", ", a new line started (at a comma) when the next one does not fit."""
    pairs = _addresses(value)
    if not pairs or any("@" not in address for _, address in pairs):
        raise DataError(f"header {name}: {value!r} is not a list of mail addresses")
    text = f"{name}: "
    for index, (display, address) in enumerate(pairs):
        column = len(text.rsplit("\n", 1)[-1])
        if index == 0:
            text += _address(display, address, column)
            continue
        here = _address(display, address, column + 2)
        if "\n" not in here and column + 2 + len(here) <= WIDTH:
            text += ", " + here
        else:
            text += ",\n " + _address(display, address, 1)
    return text + "\n"


def _addresses(value: str) -> list[tuple[str, str]]:
    """(name, address) pairs of ``value``; a name already RFC 2047-encoded is decoded (it is encoded again)."""
    pairs = email.utils.getaddresses([value])
    return [(decode(name) if "=?" in name else name, address) for name, address in pairs]


def _check_folded(name: str, value: str, folded: str) -> None:
    """What was folded is one header that reads back as ``value``: defence in depth against a wrong encoder."""
    lines = folded.rstrip("\n").split("\n")
    if "\r" in folded or not lines[0].startswith(f"{name}: ") or any(line[:1] != " " for line in lines[1:]):
        raise DataError(f"header {name}: would not fold into one header")  # pragma: no cover - defence in depth
    if any(len(line) > _HARD_LIMIT for line in lines):
        raise DataError(f"header {name}: a word longer than {_HARD_LIMIT} characters cannot be mailed")
    header = email.message_from_string(folded + "\n", policy=POLICY)[name]
    if isinstance(header, AddressHeader):
        # (a name split over two encoded-words may read back with a space where it was split)
        got = [("".join(a.display_name.split()), a.addr_spec.lower()) for a in header.addresses]
        same = got == [("".join(n.split()), a.lower()) for n, a in _addresses(value)]
    elif isinstance(header, UnstructuredHeader):
        same = str(header).split() == value.split()
    else:  # Date, MIME-Version, Content-*: compared as Python reads both
        same = str(header) == str(POLICY.header_factory(name, value))
    if not same:
        raise DataError(f"header {name}: {value!r} cannot be written as a mail header")


def decode(value: str) -> str:
    """A raw (possibly RFC 2047-encoded, possibly folded) header value as text."""
    text = str(email.header.make_header(email.header.decode_header(value)))
    return re.sub(r"\s*\n\s*", " ", text).strip()


def format_date(when: datetime) -> str:
    """A ``Date:`` value as git and b4 write it: ``Sun, 06 Dec 2026 04:22:19 +0000``."""
    return email.utils.format_datetime(when)


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_DATE_LINE = re.compile(rb"^Date:[^\n]*\n(?:[ \t][^\n]*\n)*", re.IGNORECASE | re.MULTILINE)


def with_date(mail: bytes, when: datetime) -> bytes:
    """``mail`` (as ``format`` wrote it, with or without its mbox ``From `` line, LF or CRLF) dated ``when``.

    Only the ``Date:`` header changes; everything else stays byte for byte. ``format`` dates its mails from
    the data (the same data, the same files); ``send`` calls this (through :func:`with_dates`) so that the
    list sees when they were sent.
    """
    end = _HEADER_END.search(mail)
    if end is None:
        raise DataError("mail has no header/body separator; cannot date it")
    crlf = end.group().startswith(b"\r\n")
    head = mail[: end.start()].replace(b"\r\n", b"\n") + b"\n"
    match = _DATE_LINE.search(head)
    if match is None:
        raise DataError("mail has no Date: header to set")
    line = fold("Date", format_date(when)).encode("ascii")
    head = (head[: match.start()] + line + head[match.end() :])[:-1]
    if crlf:
        head = head.replace(b"\n", b"\r\n")
    return head + mail[end.start() :]


def with_dates(mails: Sequence[bytes], start: datetime) -> list[bytes]:
    """Each of ``mails`` (cover letter first) dated ``start`` + its position in seconds, so the thread sorts."""
    return [with_date(mail, start + timedelta(seconds=index)) for index, mail in enumerate(mails)]


@dataclass
class RawMail:
    """A mail as git format-patch wrote it: the mbox ``From `` line, headers, and body bytes."""

    from_line: str
    headers: list[tuple[str, str]]  # (name, raw value with continuation lines joined)
    body: bytes

    @classmethod
    def parse(cls, raw: bytes) -> RawMail:
        head, sep, body = raw.partition(b"\n\n")
        if not sep:
            raise DataError("git format-patch wrote a mail without a header/body separator")
        lines = head.decode("utf-8", "replace").split("\n")
        from_line = lines.pop(0) if lines and lines[0].startswith("From ") else ""
        headers: list[tuple[str, str]] = []
        for line in lines:
            if line[:1] in (" ", "\t") and headers:
                name, value = headers[-1]
                headers[-1] = (name, value + "\n" + line)
            else:
                name, _, value = line.partition(":")
                headers.append((name, value.strip()))
        return cls(from_line, headers, body)

    def get(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def render(self, headers: list[tuple[str, str]]) -> bytes:
        """The mail with ``headers`` (decoded values) in place of git's, body bytes untouched."""
        head = "".join(fold(name, value) for name, value in headers)
        prefix = self.from_line + "\n" if self.from_line else ""
        return (prefix + head + "\n").encode("ascii") + self.body
