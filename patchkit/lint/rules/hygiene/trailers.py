"""What the trailer rules share: a trailer read as key and value, and whether two trailers name one person."""

from __future__ import annotations

import re
from collections.abc import Iterable

TRAILER = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9-]*): (?P<value>.+)$")


def parse(trailers: Iterable[str]) -> list[tuple[str, str]]:
    """(key in lower case, value) of every trailer in the ``Key: value`` form, in order."""
    out: list[tuple[str, str]] = []
    for trailer in trailers:
        m = TRAILER.match(trailer)
        if m is not None:
            out.append((m.group("key").lower(), m.group("value").strip()))
    return out


def same_person(a: str, b: str) -> bool:
    def email(text: str) -> str:
        m = re.search(r"<([^>]+)>", text)
        return (m.group(1) if m else text).strip().lower()

    def name(text: str) -> str:
        return text.split("<", 1)[0].strip().lower()

    return email(a) == email(b) and name(a) == name(b)
