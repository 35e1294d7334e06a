"""A README block that a test generates: the text between its two marker lines, checked and rewritten.

A test compares :func:`current` with the block it makes; ``python -m tests.<that test>`` calls
:func:`rewrite` to put the freshly made block in place.
"""

from __future__ import annotations

from pathlib import Path


def _span(text: str, begin: str, end: str) -> tuple[int, int]:
    start = text.index(begin)
    return start, text.index(end, start) + len(end)


def current(readme: Path, begin: str, end: str) -> str:
    """The block as ``readme`` holds it now, both markers included."""
    text = readme.read_text(encoding="utf-8")
    start, stop = _span(text, begin, end)
    return text[start:stop]


def rewrite(readme: Path, begin: str, end: str, block: str) -> None:
    """Replace the block (markers included) in ``readme`` with ``block``."""
    text = readme.read_text(encoding="utf-8")
    start, stop = _span(text, begin, end)
    readme.write_text(text[:start] + block + text[stop:], encoding="utf-8")
