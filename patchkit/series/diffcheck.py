"""Checks a diff file before git ever sees it.

git apply refuses most of these too, but late and with less context; checking
on load lets every command fail early with the file and line to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from patchkit.errors import DataError

_PATH_HEADERS = re.compile(
    rb"^(?:diff --git (?P<a>\S+) (?P<b>\S+)|--- (?P<minus>\S+)|\+\+\+ (?P<plus>\S+)"
    rb"|(?:rename|copy) (?:from|to) (?P<moved>.+))$"
)


@dataclass(frozen=True)
class DiffSummary:
    """What a diff touches, for callers that need paths without reparsing."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    modified: tuple[str, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return self.added + self.removed + self.modified


def check_diff(path: Path, raw: bytes) -> DiffSummary:
    """Validate one diff file; raise :class:`DataError` naming ``path`` and the line."""
    if not raw.strip():
        raise DataError(f"{path}: the diff is empty")
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if line.endswith(b"\r"):
            raise DataError(f"{path}:{number}: CRLF line ending (diffs must use LF; convert with dos2unix)")
        if line.startswith(b"GIT binary patch") or (line.startswith(b"Binary files ") and line.endswith(b" differ")):
            raise DataError(f"{path}:{number}: binary hunk (binary changes cannot be mailed or reviewed)")
        match = _PATH_HEADERS.match(line)
        if match:
            for name in (n for n in match.groupdict().values() if n is not None):
                _check_path(path, number, name.decode("utf-8", "surrogateescape"))
    try:
        patch_set = PatchSet(raw.decode("utf-8", "surrogateescape"))
    except UnidiffParseError as exc:
        raise DataError(f"{path}: not a unified diff: {exc}") from exc
    if len(patch_set) == 0:
        raise DataError(f"{path}: no file changes found (is this a unified diff?)")
    return DiffSummary(
        added=tuple(f.path for f in patch_set.added_files),
        removed=tuple(f.path for f in patch_set.removed_files),
        modified=tuple(f.path for f in patch_set.modified_files),
    )


def _check_path(diff_file: Path, line: int, name: str) -> None:
    if name == "/dev/null":
        return
    stripped = name[2:] if name[:2] in ("a/", "b/") else name
    parts = stripped.split("/")
    if name.startswith("/"):
        raise DataError(f"{diff_file}:{line}: absolute path '{name}' (paths must be inside the tree)")
    if ".." in parts:
        raise DataError(f"{diff_file}:{line}: path '{name}' leaves the tree through '..'")
    if ".git" in parts:
        raise DataError(f"{diff_file}:{line}: path '{name}' is inside .git/")
