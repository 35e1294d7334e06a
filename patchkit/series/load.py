"""Load ``series/<name>/series.yaml``: parse, validate against the schema, check files.

Every error names the file, the line and the key path, e.g.
``series/tdx/series.yaml:12: patches[3].author.email: 'x' does not match ...``.

The data may be hostile (a series under review is someone else's work): the
files are read only when they are bounded regular files inside the series
directory, the YAML is parsed strictly by :mod:`patchkit.util.yamldata` (no tags, merge keys or
duplicate keys; aliases, nesting and size bounded as composed), one-line values
hold no control characters, dates are ones git records exactly, the name makes
a valid branch, and every diff passes :mod:`patchkit.series.diffcheck`, the
paths of the whole series included (no write through a symlink it created).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from patchkit.errors import DataError, UsageError
from patchkit.series.diffcheck import MAX_DIFF_BYTES, SeriesPaths, check_diff
from patchkit.series.model import MAX_FRAGMENT_BYTES, Series, series_from_data
from patchkit.util import yamldata
from patchkit.util.inputfile import read_limited, require_regular_file
from patchkit.util.yamldata import KeyPath, check_text, format_key_path, parse_yaml
from patchkit.util.yamldata import line_of as _line_of

__all__ = [
    "SERIES_FILE", "KeyPath", "check_text", "find_series", "format_key_path", "load_series", "parse_yaml",
    "series_name_problem",
]  # fmt: skip

SERIES_FILE = "series.yaml"

# Bounds far above any real series (the bundled one: ~30 KB) and far below what would hurt; the YAML
# bounds (nesting, aliases) are :mod:`patchkit.util.yamldata`'s.
MAX_SERIES_BYTES = 8 * 1024 * 1024


def schema() -> dict[str, Any]:
    return yamldata.package_schema("patchkit.series", "schema.json")


@functools.cache
def _name_rule() -> tuple[re.Pattern[str], int]:
    """The schema's rule for a series name (its one home: the schema is the documented format)."""
    rule = schema()["properties"]["name"]
    return re.compile(rule["pattern"]), int(rule["maxLength"])


def series_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a series name (it names series/NAME and branch patchkit/NAME/vN), or None."""
    pattern, longest = _name_rule()
    if not pattern.fullmatch(name) or len(name) > longest:
        return (
            f"a series name is lower-case letters, digits, '.', '_' and '-', at most {longest} (it names "
            "series/NAME and branch patchkit/NAME/vN)"
        )
    why = check_branch_name(name)
    return f"a series name that {why}" if why is not None else None


def load_series(directory: Path, *, check_files: bool = True) -> Series:
    """Load and validate the series in ``directory``."""
    path = directory / SERIES_FILE
    raw = read_limited(path, MAX_SERIES_BYTES, missing="no such file (a series directory holds series.yaml)")
    data, lines = parse_yaml(path, raw)
    check_text(path, data, lines)
    validate(path, data, lines)
    _normalise(data)
    series = dataclasses.replace(series_from_data(directory, data), lines=lines)
    _check_semantics(path, series, lines)
    if check_files:
        paths = SeriesPaths()
        for patch in series.patches:
            where = f"{path}:{lines.get(('patches', patch.number - 1, 'diff'), 0)}: patches[{patch.number - 1}].diff"
            diff_path = series.diff_path(patch)
            named = f"{where}: {patch.diff}"
            require_regular_file(diff_path, MAX_DIFF_BYTES, missing="no such file", where=named)
            _require_inside(directory, diff_path, where, patch.diff)
            diff_raw = read_limited(diff_path, MAX_DIFF_BYTES, missing="no such file", where=named)
            paths.add(diff_path, patch.label(), check_diff(diff_path, diff_raw))
        for index, config in enumerate(series.configs):
            where = f"{path}:{lines.get(('configs', index, 'fragment'), 0)}: configs[{index}].fragment"
            fragment = directory / config.fragment
            require_regular_file(
                fragment, MAX_FRAGMENT_BYTES, missing="no such file", where=f"{where}: {config.fragment}"
            )
            _require_inside(directory, fragment, where, config.fragment)
    return series


def _require_inside(directory: Path, path: Path, where: str, name: str) -> None:
    """Refuse a data file that a symlink takes outside the series directory (or in a loop)."""
    try:
        inside = path.resolve(strict=False).is_relative_to(directory.resolve(strict=False))
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise DataError(f"{where}: {name}: cannot resolve the path: {exc}") from None
    if not inside:
        raise DataError(f"{where}: {name} is a symlink leading outside the series directory")


def find_series(root: Path, name: str | None) -> Path:
    """The series directory: ``root/series/<name>``, or the only one there is.

    A series.yaml that exists in any form (a dangling or looping symlink, a FIFO)
    counts as found: loading it then says exactly what is wrong with it.
    """
    series_root = root / "series"
    if name is not None:
        candidate = Path(name)
        if _present(candidate / SERIES_FILE):
            return candidate
        if _present(series_root / name / SERIES_FILE):
            return series_root / name
        if len(name) > 80:  # never echo a huge argument
            raise UsageError(f"no series {name[:40]!r}... ({len(name)} characters)")
        raise UsageError(
            f"no series '{name}': neither {candidate}/{SERIES_FILE} nor {series_root / name}/{SERIES_FILE} exists"
        )
    found = all_series(root)
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise UsageError(f"several series under {series_root}/ ({names}): name one")
    return found[0]


def all_series(root: Path) -> list[Path]:
    """Every series directory under ``root/series/``, by name; a UsageError when there is none."""
    series_root = root / "series"
    found = sorted(p for p in series_root.iterdir() if _present(p / SERIES_FILE)) if series_root.is_dir() else []
    if not found:
        raise UsageError(f"no series found under {series_root}/ (name one: patchkit apply SERIES)")
    return found


def _present(path: Path) -> bool:
    return os.path.lexists(path) and not path.is_dir()


def validate(path: Path, data: Any, lines: dict[KeyPath, int]) -> None:
    patches = data.get("patches") if isinstance(data, dict) else None
    limit = schema()["properties"]["patches"]["maxItems"]
    if isinstance(patches, list) and len(patches) > limit:  # said before the schema spends seconds on them
        line = _line_of(("patches",), lines)
        raise DataError(f"{path}:{line}: patches: {len(patches)} entries, more than the limit of {limit}")
    yamldata.validate(path, data, lines, schema())


def _normalise(data: dict[str, Any]) -> None:
    # Block scalars carry a trailing newline that is not part of the text.
    for patch in data["patches"]:
        if "body" in patch:
            patch["body"] = patch["body"].strip("\n")
    if "cover" in data:
        data["cover"]["body"] = data["cover"]["body"].strip("\n")
    for entry in data.get("changelog", ()):
        entry["changes"] = entry["changes"].strip("\n")


def check_date(text: str) -> str | None:
    """Why git cannot record ``text`` (ISO 8601 with offset) exactly as written, or None when it can."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        return f"impossible date ({exc})"
    if moment.tzinfo is None:
        return "no UTC offset (write it like 2026-02-03T04:05:06+01:00)"
    if text.endswith("-00:00"):
        return "offset -00:00 (git records it as +00:00; write +00:00)"
    if moment.timestamp() < 0 or moment.year > 2099:
        return "outside the years git can record (1970 to 2099)"
    return None


def check_branch_name(name: str) -> str | None:
    """Why ``patchkit/<name>/vN`` is not a valid git branch name, or None when it is."""
    if ".." in name:
        return "contains '..' (git branch names cannot)"
    if name.endswith(".lock"):
        return "ends in '.lock' (git branch names cannot)"
    if name.endswith("."):
        return "ends in '.'"
    return None


def _check_semantics(path: Path, series: Series, lines: dict[KeyPath, int]) -> None:
    why = check_branch_name(series.name)
    if why is not None:
        raise DataError(f"{path}:{lines.get(('name',), 0)}: name: '{series.name}' {why}")
    dated: list[tuple[KeyPath, str]] = [(("patches", p.number - 1, "date"), p.date) for p in series.patches]
    dated += [(("history", index, "date"), r.date) for index, r in enumerate(series.history)]
    for key_path, text in dated:
        why = check_date(text)
        if why is not None:
            raise DataError(f"{path}:{_line_of(key_path, lines)}: {format_key_path(key_path)}: '{text}': {why}")
    seen_overlay = False
    diffs: dict[str, int] = {}
    for index, patch in enumerate(series.patches):
        if patch.overlay:
            seen_overlay = True
        elif seen_overlay:
            line = lines.get(("patches", index), 0)
            raise DataError(f"{path}:{line}: patches[{index}]: overlay patches must come after every mailed patch")
        if patch.diff in diffs:
            line = lines.get(("patches", index, "diff"), 0)
            raise DataError(
                f"{path}:{line}: patches[{index}].diff: {patch.diff} is also used by patches[{diffs[patch.diff]}]"
            )
        diffs[patch.diff] = index
    if not series.mailed_patches:
        line = lines.get(("patches",), 0)
        raise DataError(f"{path}:{line}: patches: only overlay patches; a series needs at least one real patch")
    for index, config in enumerate(series.configs):
        for number, pattern in enumerate(config.boot.expect):
            try:
                re.compile(pattern)
            except re.error as exc:
                where: KeyPath = ("configs", index, "boot", "expect", number)
                raise DataError(
                    f"{path}:{_line_of(where, lines)}: {format_key_path(where)}: not a valid regex: {exc}"
                ) from None
    for index, dependency in enumerate(series.depends):
        if series.change_id is not None and dependency.change_id == series.change_id:
            line = lines.get(("depends", index, "change_id"), 0)
            raise DataError(f"{path}:{line}: depends[{index}].change_id: is this series' own change_id")
    names = [c.name for c in series.configs]
    for index, config in enumerate(series.configs):
        if names.count(config.name) > 1:
            line = lines.get(("configs", index, "name"), 0)
            raise DataError(f"{path}:{line}: configs[{index}].name: '{config.name}' is used twice")
        if config.since > len(series.mailed_patches):
            line = lines.get(("configs", index, "since"), 0)
            raise DataError(f"{path}:{line}: configs[{index}].since: {config.since} is past the last patch")
