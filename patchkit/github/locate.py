"""Where a finding lives in the series repository, for code scanning and pull-request annotations.

Lint findings name a kernel path and a line in one tree state (``arch/x86/virt/vmx/tdx/tdxcall.S:103`` at
``patch 1``); the repository under review holds series data, not a kernel tree. So a finding on a line a
patch adds (or keeps as context) points at that line of the patch's diff file
(``series/tdx/0001-....diff``), one in a file the patch touches elsewhere at that file's header in the
diff, and one about the patch's message (hygiene, checkpatch without a file, suppressions) at the line of
``series.yaml`` that holds the subject, body line, trailer or suppression. Paths are relative to the
source root (the repository's top, by default the git top-level of the series directory).

It takes plain values (path, line, patch number, and for a finding on series.yaml the part of the
patch's entry it concerns), so it knows nothing of lint's types or rule ids.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from patchkit.errors import MissingToolError
from patchkit.series.load import MAX_SERIES_BYTES, SERIES_FILE, KeyPath, parse_yaml
from patchkit.series.model import Patch, Series
from patchkit.util import inputfile, proc

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
# the parts of a patch's entry in series.yaml a finding about the patch's data can concern
PARTS = ("subject", "trailers", "body", "suppress")


@dataclass(frozen=True)
class Location:
    path: str  # relative to the source root, '/'-separated
    line: int  # 1-based; 0: the file as a whole


@dataclass
class DiffIndex:
    """One diff file: for each path it changes, its header line and new-file line -> diff line."""

    headers: dict[str, int] = field(default_factory=dict)
    lines: dict[str, dict[int, int]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> DiffIndex:
        index = cls()
        path = old_path = ""
        new_line = old_left = new_left = 0
        for number, raw in enumerate(text.split("\n"), start=1):
            if old_left > 0 or new_left > 0:  # inside a hunk: counts from its header say where it ends
                if raw.startswith("+"):
                    index.lines.setdefault(path, {})[new_line] = number
                    new_line += 1
                    new_left -= 1
                elif raw.startswith("-"):
                    old_left -= 1
                elif raw.startswith("\\"):
                    pass  # "\ No newline at end of file"
                else:  # context (a blank line is context whose space was stripped)
                    index.lines.setdefault(path, {})[new_line] = number
                    new_line += 1
                    new_left -= 1
                    old_left -= 1
                continue
            if raw.startswith("diff --git "):
                m = re.match(r"^diff --git a/(.+) b/(.+)$", raw)
                path = m.group(2) if m else ""
                if path:
                    index.headers.setdefault(path, number)
            elif raw.startswith("--- "):
                old_path = raw[6:] if raw.startswith("--- a/") else ""
            elif raw.startswith("+++ "):
                path = raw[6:] if raw.startswith("+++ b/") else old_path
                if path:
                    index.headers.setdefault(path, number)
            elif (m := _HUNK.match(raw)) is not None and path:
                old_left = int(m.group(2)) if m.group(2) is not None else 1
                new_line = int(m.group(3))
                new_left = int(m.group(4)) if m.group(4) is not None else 1
        return index


def default_source_root(directory: Path) -> Path:
    """The git top-level holding ``directory``, else the current directory."""
    try:
        result = proc.run(["git", "-C", str(directory), "rev-parse", "--show-toplevel"])
    except (MissingToolError, OSError):
        return Path.cwd()
    top = result.stdout.decode("utf-8", "surrogateescape").strip()
    return Path(top) if result.returncode == 0 and top else Path.cwd()


class Locator:
    """Maps findings of one series onto its files, relative to ``source_root``."""

    def __init__(self, series: Series, source_root: Path | None = None) -> None:
        self.series = series
        self.root = (source_root or default_source_root(series.directory)).resolve()
        yaml_file = series.directory / SERIES_FILE
        # a series made in memory (tests, tools): findings on the data point at the file's top
        raw = inputfile.read_limited(yaml_file, MAX_SERIES_BYTES) if os.path.lexists(yaml_file) else b""
        self._yaml_text = raw.decode("utf-8", "replace").split("\n")
        # The loader's line map when the series was loaded from its file; parsed here only for one made in memory.
        self._yaml_lines = dict(series.lines) if series.lines or not raw else parse_yaml(yaml_file, raw)[1]
        self.yaml_path = self.relative(yaml_file)
        self._diffs: dict[int, DiffIndex] = {}

    def relative(self, path: Path) -> str:
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return Path(os.path.relpath(absolute.resolve(), self.root)).as_posix()

    def _patch(self, number: int | None) -> Patch | None:
        if number is None or not 1 <= number <= len(self.series.patches):
            return None
        return self.series.patches[number - 1]

    def _diff(self, patch: Patch) -> DiffIndex:
        if patch.number not in self._diffs:
            # read as every input is; a series made in memory has no diff file: nothing to point into
            raw = self.series.diff_bytes(patch) if os.path.lexists(self.series.diff_path(patch)) else b""
            self._diffs[patch.number] = DiffIndex.parse(raw.decode("utf-8", "replace"))
        return self._diffs[patch.number]

    def yaml(self, key_path: KeyPath) -> Location:
        while key_path and key_path not in self._yaml_lines:
            key_path = key_path[:-1]
        return Location(self.yaml_path, self._yaml_lines.get(key_path, 1))

    def in_patch(self, number: int, path: str, line: int) -> Location | None:
        """The diff line of ``path:line`` (a line of the state after patch ``number``), or its file header."""
        patch = self._patch(number)
        if patch is None:
            return None
        diff = self._diff(patch)
        where = self.relative(self.series.diff_path(patch))
        hit = diff.lines.get(path, {}).get(line)
        if hit is not None:
            return Location(where, hit)
        if path in diff.headers:
            return Location(where, diff.headers[path])
        return None

    def is_series_file(self, path: str) -> bool:
        return Path(path).name == SERIES_FILE and (
            os.path.abspath(path) == os.path.abspath(self.series.directory / SERIES_FILE) or path == self.yaml_path
        )

    def place(self, path: str, line: int, patch: int | None, part: str | None = None, text: str = "") -> Location:
        """Where a finding at ``path:line`` of the state after patch ``patch`` (None: present at the base) shows
        in the series files. For a finding on series.yaml, ``part`` (one of :data:`PARTS`, None: the whole
        entry) and ``text`` (its message: which trailer, suppression or body line it names) find the line."""
        found = self._patch(patch)
        if found is None:  # present at the base: the series' base is where it comes from
            return self.yaml(("base",))
        if not self.is_series_file(path):
            located = self.in_patch(found.number, path, line)
            if located is not None:
                return located
            return Location(self.relative(self.series.diff_path(found)), 1)
        return self._entry_location(found, part, text)

    def _entry_location(self, patch: Patch, part: str | None, text: str) -> Location:
        entry: KeyPath = ("patches", patch.number - 1)
        if part == "suppress":
            index = next((i for i, s in enumerate(patch.suppress) if s.rule and s.rule in text), None)
            return self.yaml((*entry, "suppress", index) if index is not None else (*entry, "suppress"))
        if part == "trailers":
            index = next((i for i, t in enumerate(patch.trailers) if t and t in text), None)
            return self.yaml((*entry, "trailers", index) if index is not None else (*entry, "trailers"))
        if part == "body":
            return self._body_line(entry, text)
        if part is not None:
            return self.yaml((*entry, part))
        return self.yaml(entry)

    def _body_line(self, entry: KeyPath, message: str) -> Location:
        key = self.yaml((*entry, "body"))
        m = re.search(r"\bbody line (\d+)\b", message)
        if m is None or key.line < 1 or key.line > len(self._yaml_text):
            return key
        text = self._yaml_text[key.line - 1].split(":", 1)[-1].strip()
        if not text.startswith(("|", ">")):
            return key
        return Location(key.path, key.line + int(m.group(1)))
