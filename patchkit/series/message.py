"""Split a commit message into subject, body and trailers, the inverse of ``Patch.message()``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TRAILER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*: \S")


@dataclass(frozen=True)
class ParsedMessage:
    subject: str
    body: str
    trailers: tuple[str, ...]


def parse_message(message: str) -> ParsedMessage:
    """Subject is the first line; trailers are the last paragraph when every line is one."""
    text = message.strip("\n")
    subject, _, rest = text.partition("\n")
    rest = rest.strip("\n")
    body = rest
    trailers: tuple[str, ...] = ()
    head, sep, last = rest.rpartition("\n\n")
    candidate = last if sep else rest
    lines = candidate.split("\n")
    if candidate and all(_TRAILER.match(line) for line in lines):
        trailers = tuple(lines)
        body = head.strip("\n") if sep else ""
    return ParsedMessage(subject=subject.strip(), body=body, trailers=trailers)
