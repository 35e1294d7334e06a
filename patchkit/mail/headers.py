"""Mail headers that cannot be injected into and are RFC 2047-correct.

Every header patchkit writes goes through :func:`fold`: the value is checked
for control characters (a bare CR or LF would start a new header such as
``Bcc:``), then encoded and folded by Python's email package, so non-ASCII
names and subjects become RFC 2047 encoded-words. Data that would reach a
header is checked up front by :func:`check_series`, whose errors name the key.
"""

from __future__ import annotations

import email.errors
import email.header
import email.policy
import email.utils
import re
from dataclasses import dataclass
from email.headerregistry import AddressHeader

from patchkit.errors import DataError
from patchkit.series.load import SERIES_FILE
from patchkit.series.model import Person, Series

POLICY = email.policy.default.clone(linesep="\n", max_line_length=78)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_NAMES = {"\r": "a carriage return", "\n": "a newline", "\t": "a tab", "\x00": "a NUL byte"}
_MSGID = re.compile(r"^<[!-;=?-~]+@[!-;=?-~]+>$")
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
    return email.utils.formataddr((person.name, person.email))


def fold(name: str, value: str) -> str:
    """``Name: value`` encoded (RFC 2047) and folded, ending in a newline; refuses control characters."""
    problem = control_problem(value)
    if problem is not None:
        raise DataError(f"header {name}: value {problem}")
    if name.lower() in ("message-id", "in-reply-to", "references"):
        ids = value.split()
        if not ids or not all(_MSGID.match(i) for i in ids):
            raise DataError(f"header {name}: {value!r} is not a list of <message-id>s")
        return f"{name}: " + "\n ".join(ids) + "\n"
    try:
        folded: str = POLICY.header_factory(name, value).fold(policy=POLICY)
    except (ValueError, IndexError, TypeError, AttributeError, email.errors.HeaderParseError) as exc:
        raise DataError(f"header {name}: {value!r} cannot be written as a mail header ({exc})") from exc
    if "\r" in folded or any(line[:1] not in (" ", "\t") for line in folded.rstrip("\n").split("\n")[1:]):
        raise DataError(f"header {name}: would not fold into one header")  # pragma: no cover - defence in depth
    return folded


def decode(value: str) -> str:
    """A raw (possibly RFC 2047-encoded, possibly folded) header value as text."""
    text = str(email.header.make_header(email.header.decode_header(value)))
    return re.sub(r"\s*\n\s*", " ", text).strip()


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
