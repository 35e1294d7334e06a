"""Reading make's output: compiler warnings as data, and the excerpt that explains a failure."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

_WARNING = re.compile(
    r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+):(?:(?P<column>\d+):)? warning: "
    r"(?P<message>.*?)(?: \[(?P<flag>-W[^\]]+)\])?$"
)
# objtool, modpost and the linker report per object, without a line number.
_OBJECT_WARNING = re.compile(r"^(?P<file>[^\s:]+\.(?:o|ko)|vmlinux[^\s:]*): warning: (?P<message>.+)$")
_ERROR_START = re.compile(
    r": (?:fatal )?error: |: undefined reference to |^ld: |^ERROR: modpost: |^make(?:\[\d+\])?: \*\*\* No rule|"
    r"Error: |: multiple definition of "
)
_MAKE_STOP = re.compile(r"^make(?:\[\d+\])?: \*\*\* ")
_CONTEXT_BEFORE = re.compile(r": In function |: At top level:|^In file included from |^\s+from ")
_EXCERPT_LINES = 24
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_colour(text: str) -> str:
    """ccache may ask gcc for coloured diagnostics; the parsers and the excerpts want plain text."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class CompilerWarning:
    file: str  # relative to the top of the source tree
    line: int  # 0 when the tool gives none
    message: str
    flag: str  # e.g. -Wunused-variable; empty when none

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity across states: line numbers move when patches add lines above."""
        return (self.file, self.flag, self.message)

    def to_json_data(self) -> dict[str, str | int]:
        return {"file": self.file, "line": self.line, "message": self.message, "flag": self.flag}

    @classmethod
    def from_json_data(cls, data: dict[str, Any]) -> CompilerWarning:
        return cls(str(data["file"]), int(data["line"]), str(data["message"]), str(data["flag"]))

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        flag = f" [{self.flag}]" if self.flag else ""
        return f"{where}: warning: {self.message}{flag}"


def relative_path(path: str, src: str, out: str) -> str:
    """``path`` as make printed it, relative to the top of the source tree."""
    absolute = os.path.normpath(os.path.join(out, path))  # join keeps an absolute path as it is
    for root in (src, out):
        if absolute == root or absolute.startswith(root.rstrip("/") + "/"):
            return os.path.relpath(absolute, root)
    return path


def parse_warnings(text: str, src: str, out: str) -> list[CompilerWarning]:
    """Every warning make's output mentions, deduplicated (a header warns once per includer)."""
    found: dict[tuple[str, int, str, str], CompilerWarning] = {}
    for raw in strip_colour(text).splitlines():
        line = raw.rstrip()
        match = _WARNING.match(line)
        if match:
            warning = CompilerWarning(
                file=relative_path(match["file"], src, out),
                line=int(match["line"]),
                message=match["message"].strip(),
                flag=match["flag"] or "",
            )
        else:
            match = _OBJECT_WARNING.match(line)
            if not match:
                continue
            warning = CompilerWarning(relative_path(match["file"], src, out), 0, match["message"].strip(), "")
        found.setdefault((warning.file, warning.line, warning.message, warning.flag), warning)
    return list(found.values())


def error_excerpt(text: str, src: str, out: str) -> str:
    """The lines that explain why the build failed: the first compiler/linker error and its context.

    Falls back to the last lines before make gave up when no error line is recognised.
    """
    prefixes = (src.rstrip("/") + "/", os.path.relpath(src, out) + "/")
    lines = [_shorten(line.rstrip(), prefixes) for line in strip_colour(text).splitlines()]
    start = next((i for i, line in enumerate(lines) if _ERROR_START.search(line)), None)
    if start is None:
        stop = next((i for i, line in enumerate(lines) if _MAKE_STOP.match(line)), len(lines))
        tail = [line for line in lines[max(0, stop - _EXCERPT_LINES // 2) : stop + 2] if line]
        return "\n".join(tail)
    first = start
    while first > 0 and start - first < 4 and _CONTEXT_BEFORE.search(lines[first - 1]):
        first -= 1
    excerpt: list[str] = []
    for line in lines[first:]:
        if _MAKE_STOP.match(line) or len(excerpt) >= _EXCERPT_LINES:
            break
        excerpt.append(line)
    return "\n".join(excerpt)


def first_error_line(excerpt: str) -> str:
    for line in excerpt.splitlines():
        if _ERROR_START.search(line):
            return line.strip()
    lines = [line for line in excerpt.splitlines() if line.strip()]
    return lines[0].strip() if lines else "no error message found"


def _shorten(line: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        line = line.replace(prefix, "")
    return line
