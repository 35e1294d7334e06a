"""Checks a diff file before git ever sees it.

git apply refuses most of these too, but late and with less context; checking
on load lets every command fail early with the file and line to fix, and says
*why* a path is refused. Hostile diffs are expected: every path git would use
(``diff --git``, ``---``/``+++``, ``rename``/``copy``, quoted with C escapes or
not) must stay inside the tree and out of ``.git/`` in any spelling a file
system might fold to it; a symlink a patch creates must point inside the tree
and no later path may go through it; the file itself must be a bounded
regular file (a symlink to ``/dev/zero`` or a FIFO is refused unread).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from patchkit.errors import DataError

# A kernel series' largest real diffs are a few hundred KB; mail lists take 100 KB per message.
MAX_DIFF_BYTES = 32 * 1024 * 1024

_HUNK = re.compile(rb"^@@ -\d+(?:,(?P<old>\d+))? \+\d+(?:,(?P<new>\d+))? @@")
_MODE = re.compile(rb"^(?:new file mode|new mode|old mode|deleted file mode) (?P<mode>[0-7]+)$")
_NAME_LINES = (
    (b"--- ", True),
    (b"+++ ", True),
    (b"rename from ", False),
    (b"rename to ", False),
    (b"rename old ", False),
    (b"rename new ", False),
    (b"copy from ", False),
    (b"copy to ", False),
)
_C_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("v"): 11}
_C_ESCAPES.update({ord("\\"): ord("\\"), ord('"'): ord('"')})
# Code points HFS+ ignores in names, so ".g\u200cit" is ".git" there (git refuses them too).
_IGNORABLE = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
_SYMLINK, _GITLINK = "120000", "160000"


@dataclass(frozen=True)
class DiffSummary:
    """What a diff touches, for callers that need paths without reparsing."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    modified: tuple[str, ...]
    symlinks: tuple[str, ...] = ()  # symlinks this diff creates (paths in the tree)
    unlinked: tuple[str, ...] = ()  # symlinks this diff deletes or turns into something else
    touched: tuple[str, ...] = field(default=())  # every path a header names, without a/ b/

    @property
    def paths(self) -> tuple[str, ...]:
        return self.added + self.removed + self.modified


def check_diff(path: Path, raw: bytes) -> DiffSummary:
    """Validate one diff file; raise :class:`DataError` naming ``path`` and the line."""
    if len(raw) > MAX_DIFF_BYTES:
        raise DataError(f"{path}: {len(raw)} bytes, more than the limit of {MAX_DIFF_BYTES}")
    if not raw.strip():
        raise DataError(f"{path}: the diff is empty")
    scan = _scan(path, raw)
    try:
        patch_set = PatchSet(raw.decode("utf-8", "surrogateescape"))
    except UnidiffParseError as exc:
        raise DataError(f"{path}: not a unified diff: {_shown(str(exc))}") from None
    except (ValueError, IndexError, TypeError, KeyError, AttributeError) as exc:  # unidiff on malformed input
        raise DataError(f"{path}: not a unified diff ({type(exc).__name__}: {_shown(str(exc))})") from None
    if len(patch_set) == 0:
        raise DataError(f"{path}: no file changes found (is this a unified diff?)")
    return DiffSummary(
        added=tuple(f.path for f in patch_set.added_files),
        removed=tuple(f.path for f in patch_set.removed_files),
        modified=tuple(f.path for f in patch_set.modified_files),
        symlinks=tuple(scan.symlinks),
        unlinked=tuple(scan.unlinked),
        touched=tuple(scan.touched),
    )


class SeriesPaths:
    """Paths across a whole series: no patch may write through a symlink an earlier patch created."""

    def __init__(self) -> None:
        self._symlinks: dict[str, str] = {}  # path -> which patch created it

    def add(self, diff_path: Path, label: str, summary: DiffSummary) -> None:
        for name in summary.unlinked:  # a patch may replace a symlink by a directory
            self._symlinks.pop(name, None)
        for name in summary.touched:
            link = _through_symlink(name, self._symlinks)
            if link is not None:
                raise DataError(
                    f"{diff_path}: path '{_shown(name)}' goes through the symlink '{_shown(link)}' that "
                    f"{self._symlinks[link]} creates (a patch must not write outside the tree through a link)"
                )
        for name in summary.symlinks:
            self._symlinks[name] = label


@dataclass
class _Scan:
    symlinks: list[str] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)


@dataclass
class _Section:
    """One file of a git diff: its header line, paths, new mode and added lines (for symlinks)."""

    line: int
    target: str | None = None
    old_mode: str | None = None
    new_mode: str | None = None
    deleted: bool = False
    added_lines: list[bytes] = field(default_factory=list)


def _scan(path: Path, raw: bytes) -> _Scan:
    scan = _Scan()
    sections: list[_Section] = []
    old_left = new_left = 0  # lines still expected in the current hunk
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if line.endswith(b"\r"):
            raise DataError(f"{path}:{number}: CRLF line ending (diffs must use LF; convert with dos2unix)")
        if old_left > 0 or new_left > 0:
            first = line[:1]
            if first in (b" ", b""):
                old_left, new_left = old_left - 1, new_left - 1
                continue
            if first == b"-":
                old_left -= 1
                continue
            if first == b"+":
                new_left -= 1
                if sections:
                    sections[-1].added_lines.append(line[1:])
                continue
            if first == b"\\":
                continue
            old_left = new_left = 0  # a malformed hunk; git and unidiff say what is wrong with it
        if line.startswith(b"GIT binary patch") or (line.startswith(b"Binary files ") and line.endswith(b" differ")):
            raise DataError(f"{path}:{number}: binary hunk (binary changes cannot be mailed or reviewed)")
        hunk = _HUNK.match(line)
        if hunk:
            old_left = int(hunk["old"]) if hunk["old"] is not None else 1
            new_left = int(hunk["new"]) if hunk["new"] is not None else 1
            continue
        if line.startswith(b"diff --git "):
            names = _git_header_names(path, number, line[len(b"diff --git ") :])
            section = _Section(number)
            sections.append(section)
            for name in names:
                scan.touched.append(_check_path(path, number, name, strip_prefix=True))
            if len(names) == 2:
                section.target = _strip_prefix(names[1])
            continue
        mode = _MODE.match(line)
        if mode and sections:
            _note_mode(path, number, sections[-1], line, mode["mode"].decode())
            continue
        for prefix, strip in _NAME_LINES:
            if line.startswith(prefix):
                name = _header_name(path, number, line[len(prefix) :], tab_ends=prefix in (b"--- ", b"+++ "))
                if name == "/dev/null" and strip:
                    break
                checked = _check_path(path, number, name, strip_prefix=strip)
                scan.touched.append(checked)
                if sections and prefix in (b"+++ ", b"rename to ", b"rename new ", b"copy to "):
                    sections[-1].target = checked
                break
    for section in sections:
        _judge_symlink(path, section, scan)
    own = {s.target: f"line {s.line}" for s in sections if s.target is not None and s.target in scan.symlinks}
    for name in scan.touched:
        link = _through_symlink(name, own)
        if link is not None:
            raise DataError(
                f"{path}: path '{_shown(name)}' goes through the symlink '{_shown(link)}' this diff creates "
                f"({own[link]}); a patch must not write outside the tree through a link"
            )
    return scan


def _note_mode(path: Path, number: int, section: _Section, line: bytes, mode: str) -> None:
    if mode == _GITLINK:
        raise DataError(f"{path}:{number}: a submodule (gitlink, mode 160000) entry; patchkit series hold files only")
    if line.startswith(b"deleted file mode"):
        section.deleted = True
        section.old_mode = mode
    elif line.startswith(b"old mode"):
        section.old_mode = mode
    else:
        section.new_mode = mode


def _judge_symlink(path: Path, section: _Section, scan: _Scan) -> None:
    if section.target is None:
        return
    if section.new_mode == _SYMLINK:
        link = section.target
        target = b"\n".join(section.added_lines).decode("utf-8", "surrogateescape")
        where = f"{path}:{section.line}: symlink '{_shown(link)}'"
        if not target:
            raise DataError(f"{where} has no target")
        if target.startswith("/"):
            raise DataError(f"{where} points outside the tree (absolute target '{_shown(target)}')")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
        if resolved == ".." or resolved.startswith("../"):
            raise DataError(f"{where} points outside the tree (target '{_shown(target)}' leaves it through '..')")
        if any(_is_dot_git(part) for part in resolved.split("/")):
            raise DataError(f"{where} points into .git/ (target '{_shown(target)}')")
        scan.symlinks.append(link)
    elif section.deleted or section.old_mode == _SYMLINK:
        scan.unlinked.append(section.target)


def _through_symlink(name: str, symlinks: dict[str, str]) -> str | None:
    """The symlink among ``symlinks`` that ``name`` lies beneath, if any."""
    parts = name.split("/")
    for end in range(1, len(parts)):
        prefix = "/".join(parts[:end])
        if prefix in symlinks:
            return prefix
    return None


def _git_header_names(path: Path, number: int, rest: bytes) -> list[str]:
    """The two names of a ``diff --git`` line, as git reads them (quoted, or unquoted and equal)."""
    if rest.startswith(b'"'):
        first, after = _unquote(path, number, rest)
        if not after.startswith(b" "):
            raise DataError(f"{path}:{number}: malformed 'diff --git' line (no second path)")
        second = after[1:]
        return [first, _header_name(path, number, second, tab_ends=False)]
    quoted = rest.find(b' "')
    if quoted >= 0:
        return [_decode(rest[:quoted]), _unquote(path, number, rest[quoted + 1 :])[0]]
    text = _decode(rest)
    # Unquoted names may hold spaces: git takes the split where both sides name the same file.
    for index, char in enumerate(text):
        if char == " " and _strip_prefix(text[:index]) == _strip_prefix(text[index + 1 :]):
            return [text[:index], text[index + 1 :]]
    return text.split(" ")  # no consistent split: judge every word (git will refuse the line anyway)


def _header_name(path: Path, number: int, rest: bytes, *, tab_ends: bool) -> str:
    if rest.startswith(b'"'):
        return _unquote(path, number, rest)[0]
    if tab_ends:
        rest = rest.split(b"\t", 1)[0]
    return _decode(rest)


def _unquote(path: Path, number: int, text: bytes) -> tuple[str, bytes]:
    """A C-quoted name as git writes it (``"a/\\303\\251"``): the name and what follows the closing quote."""
    out = bytearray()
    index = 1
    while index < len(text):
        char = text[index]
        if char == ord('"'):
            return _decode(bytes(out)), text[index + 1 :]
        if char == ord("\\"):
            escape = text[index + 1 : index + 2]
            if escape in (b"0", b"1", b"2", b"3") and re.fullmatch(rb"[0-3][0-7]{2}", text[index + 1 : index + 4]):
                out.append(int(text[index + 1 : index + 4], 8))
                index += 4
                continue
            if escape and escape[0] in _C_ESCAPES:
                out.append(_C_ESCAPES[escape[0]])
                index += 2
                continue
            raise DataError(f"{path}:{number}: malformed quoted path (unknown escape '\\{_decode(escape)}')")
        out.append(char)
        index += 1
    raise DataError(f"{path}:{number}: malformed quoted path (no closing quote)")


def _strip_prefix(name: str) -> str:
    return name.split("/", 1)[1] if "/" in name else name


def _check_path(diff_file: Path, line: int, name: str, *, strip_prefix: bool) -> str:
    """Refuse a path that could leave the tree or reach .git/; return it without its a/ or b/ prefix."""
    shown = _shown(name)
    if not name:
        raise DataError(f"{diff_file}:{line}: empty path")
    if re.search(r"[\x00-\x1f\x7f]", name):
        raise DataError(f"{diff_file}:{line}: path '{shown}' holds a control character")
    if name.startswith("/"):
        raise DataError(f"{diff_file}:{line}: absolute path '{shown}' (paths must be inside the tree)")
    relative = _strip_prefix(name) if strip_prefix and name[:2] in ("a/", "b/") else name
    for part in name.split("/"):
        if part == "..":
            raise DataError(f"{diff_file}:{line}: path '{shown}' leaves the tree through '..'")
        if _is_dot_git(part):
            spelled = "" if part == ".git" else f" (written '{_shown(part)}', which file systems may fold to .git)"
            raise DataError(f"{diff_file}:{line}: path '{shown}' is inside .git/{spelled}")
    for part in relative.split("/"):
        if part in ("", "."):
            raise DataError(f"{diff_file}:{line}: path '{shown}' has an empty or '.' component")
    return relative


def _is_dot_git(part: str) -> bool:
    """``.git`` as git's own protections read it: any case, HFS-ignorable characters, NTFS dots and spaces."""
    folded = _IGNORABLE.sub("", part).casefold().rstrip(" .")
    return folded == ".git" or re.fullmatch(r"git~\d+", folded) is not None


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _shown(text: str, limit: int = 200) -> str:
    """``text`` fit for a one-line message: non-printable characters escaped, long text cut."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return shown if len(shown) <= limit else shown[:limit] + "..."
