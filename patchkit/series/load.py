"""Load ``series/<name>/series.yaml``: parse, validate against the schema, check files.

Every error names the file, the line and the key path, e.g.
``series/tdx/series.yaml:12: patches[3].author.email: 'x' does not match ...``.

The data may be hostile (a series under review is someone else's work): the
files are read only when they are bounded regular files inside the series
directory, the YAML is parsed by :class:`_StrictLoader` (no tags, merge keys or
duplicate keys; aliases, nesting and size bounded as composed), one-line values
hold no control characters, dates are ones git records exactly, the name makes
a valid branch, and every diff passes :mod:`patchkit.series.diffcheck`, the
paths of the whole series included (no write through a symlink it created).
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

try:
    from yaml._yaml import CParser  # libyaml: optional, the pure-Python parser does the same, slower
except ImportError:  # pragma: no cover
    CParser = yaml.parser.Parser  # type: ignore[assignment,misc]

from patchkit.errors import DataError, UsageError
from patchkit.series.diffcheck import MAX_DIFF_BYTES, SeriesPaths, check_diff, read_limited, require_regular_file
from patchkit.series.model import Series, series_from_data

SERIES_FILE = "series.yaml"
KeyPath = tuple[str | int, ...]

# Bounds far above any real series (the bundled one: ~30 KB, nesting depth 5) and far below what
# would hurt: a hostile series.yaml is refused with one line instead of eating memory or the stack.
MAX_SERIES_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 200_000
MAX_CHARS = 16 * 1024 * 1024
MAX_FRAGMENT_BYTES = 1024 * 1024  # a kconfig fragment; the bundled ones are a few hundred bytes


@cache
def schema() -> dict[str, Any]:
    text = resources.files("patchkit.series").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def load_series(directory: Path, *, check_files: bool = True) -> Series:
    """Load and validate the series in ``directory``."""
    path = directory / SERIES_FILE
    raw = read_limited(path, MAX_SERIES_BYTES, missing="no such file (a series directory holds series.yaml)")
    data, lines = parse_yaml(path, raw)
    check_text(path, data, lines)
    validate(path, data, lines)
    _normalise(data)
    series = series_from_data(directory, data)
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
        raise UsageError(
            f"no series '{name}': neither {candidate}/{SERIES_FILE} nor {series_root / name}/{SERIES_FILE} exists"
        )
    found = sorted(p for p in series_root.iterdir() if _present(p / SERIES_FILE)) if series_root.is_dir() else []
    if not found:
        raise UsageError(f"no series found under {series_root}/ (name one: patchkit apply SERIES)")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise UsageError(f"several series under {series_root}/ ({names}): name one")
    return found[0]


def _present(path: Path) -> bool:
    return os.path.lexists(path) and not path.is_dir()


def parse_yaml(path: Path, raw: bytes) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML and map every key path to its 1-based line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8") from None
    try:
        loader = _StrictLoader(text)
    except yaml.reader.ReaderError as exc:  # the reader checks every character up front
        line = text[: exc.position].count("\n") + 1
        raise DataError(f"{path}:{line}: malformed YAML: character U+{exc.character:04X} is not allowed") from None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        raise DataError(f"{path}:{exc.line}: {exc.reason}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise DataError(f"{path}:{line}: malformed YAML: {_one_line(str(exc.problem or exc.context))}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: malformed YAML: {_one_line(str(exc))}") from None
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _map_lines(node, (), lines)
    return data, lines


class _Refused(Exception):
    def __init__(self, mark: Any, reason: str) -> None:
        super().__init__(reason)
        self.line = mark.line + 1 if mark is not None else 0
        self.reason = reason


class _EventsFromLibyaml(yaml.composer.Composer, CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """SafeLoader with libyaml's scanner and parser (25x faster) under PyYAML's own composer (which we refine)."""

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


if TYPE_CHECKING:
    _Base = yaml.SafeLoader
else:
    _Base = _EventsFromLibyaml if yaml.__with_libyaml__ else yaml.SafeLoader


class _StrictLoader(_Base):
    """YAML as a series file needs it, and nothing else.

    Refused, naming the line: explicit tags (``!!python/...``, ``!!binary``,
    ``!x``), merge keys, non-string and duplicate keys (the last one would
    silently win), nesting deeper than :data:`MAX_DEPTH` (the composer and
    everything after it recurse), and values that would expand to more than
    :data:`MAX_NODES` values or :data:`MAX_CHARS` characters. Anchors and
    aliases are allowed (an author written once, used by every patch), but what
    they expand to is counted as it is composed, so an alias bomb is refused
    after reading a few lines instead of expanding into gigabytes, and an alias
    to the value that contains it is refused too. Timestamps stay text, so the
    schema and the date check judge them; a value Python cannot represent is an
    error, not a crash.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._size: dict[int, tuple[int, int, int]] = {}  # id(node) -> (values, characters, depth) expanded

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            target = super().compose_node(parent, index)
            if target is None or id(target) not in self._size:
                raise _Refused(event.start_mark, f"YAML alias '*{event.anchor}' inside the value it names")
            return target
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise _Refused(event.start_mark, f"YAML tag '{_one_line(tag)}' (tags are not allowed in series data)")
        collection = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
        if collection:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"YAML nested deeper than {MAX_DEPTH} levels")
        try:
            node = super().compose_node(parent, index)
        finally:
            if collection:
                self._depth -= 1
        if node is not None:
            self._measure(node)
        return node

    def _measure(self, node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode):
            values, chars, depth = 1, len(str(node.value)), 0
        else:
            children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
            sizes = [self._size[id(child)] for child in children]
            values = 1 + sum(size[0] for size in sizes)
            chars = sum(size[1] for size in sizes)
            depth = 1 + max((size[2] for size in sizes), default=0)
        if values > MAX_NODES:
            raise _Refused(node.start_mark, f"more than {MAX_NODES} YAML values, aliases expanded")
        if chars > MAX_CHARS:
            raise _Refused(node.start_mark, f"more than {MAX_CHARS} characters of text, aliases expanded")
        if depth > MAX_DEPTH:
            raise _Refused(node.start_mark, f"YAML nested deeper than {MAX_DEPTH} levels, aliases expanded")
        self._size[id(node)] = (values, chars, depth)

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node.start_mark, "a key that is not a plain string")
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(key_node.start_mark, "YAML merge key '<<' (not allowed in series data)")
            key = str(key_node.value)
            if key in seen:
                raise _Refused(
                    key_node.start_mark,
                    f"duplicate key '{_one_line(key)}' (first at line {seen[key]}; the file must say it once)",
                )
            seen[key] = key_node.start_mark.line + 1
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as exc:
            raise _Refused(node.start_mark, f"unreadable value: {_one_line(str(exc))}") from None


# Dates stay text: the schema and the semantic checks say what is wrong with them, with the line.
def _construct_timestamp_as_text(loader: _StrictLoader, node: yaml.Node) -> str:
    return loader.construct_yaml_str(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


def _one_line(text: str, limit: int = 120) -> str:
    """``text`` safe inside a one-line message: control characters escaped, long text cut."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return shown if len(shown) <= limit else shown[:limit] + f"... ({len(text)} characters)"


def _map_lines(node: yaml.Node, key_path: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines[key_path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*key_path, str(key_node.value))
            _map_lines(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, (*key_path, index), lines)


def format_key_path(key_path: KeyPath) -> str:
    text = ""
    for part in key_path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            shown = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else _one_line(repr(part), 60)
            text += f".{shown}" if text else shown
    return text or "(top level)"


# Text that spans lines may hold newlines and tabs; every other string is one line and holds no
# control character at all (a CR in a subject or an address would become a mail header of its own).
_MULTILINE_KEYS = frozenset({"body", "changes"})
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_NAMES = {"\r": "a carriage return", "\n": "a newline", "\t": "a tab", "\x00": "a NUL character"}
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def check_text(path: Path, data: Any, lines: dict[KeyPath, int], key_path: KeyPath = ()) -> None:
    """Refuse control characters: none in one-line values, only newline and tab in bodies."""
    if isinstance(data, dict):
        for key, value in data.items():
            check_text(path, value, lines, (*key_path, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_text(path, value, lines, (*key_path, index))
    elif isinstance(data, str):
        multiline = bool(key_path) and key_path[-1] in _MULTILINE_KEYS
        found = (_CONTROL_MULTILINE if multiline else _CONTROL).search(data)
        if found is not None:
            char = found.group()
            what = "a multi-line text may hold newlines and tabs only" if multiline else "one line of text"
            raise DataError(
                f"{path}:{_line_of(key_path, lines)}: {format_key_path(key_path)} contains "
                f"{_CONTROL_NAMES.get(char, 'a control character')} (U+{ord(char):04X} at position "
                f"{found.start() + 1}; {what})"
            )


def validate(path: Path, data: Any, lines: dict[KeyPath, int]) -> None:
    patches = data.get("patches") if isinstance(data, dict) else None
    limit = schema()["properties"]["patches"]["maxItems"]
    if isinstance(patches, list) and len(patches) > limit:  # said before the schema spends seconds on them
        line = _line_of(("patches",), lines)
        raise DataError(f"{path}:{line}: patches: {len(patches)} entries, more than the limit of {limit}")
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: _line_of(tuple(e.absolute_path), lines))
    if not errors:
        return
    error = errors[0]
    key_path: KeyPath = tuple(error.absolute_path)
    message = _one_line(error.message, 200)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(str(k) for k in instance if k not in allowed)
        if unknown:
            key_path = (*key_path, unknown[0])
            message = f"unknown key (allowed: {', '.join(sorted(allowed))})"
    elif error.validator == "type":
        message = f"expected {error.validator_value}, got {type(instance).__name__} {_one_line(repr(instance))}"
    elif error.validator == "maxLength" and isinstance(instance, str):
        message = f"{len(instance)} characters, more than the limit of {error.validator_value}"
    elif error.validator == "maxItems" and isinstance(instance, list):
        message = f"{len(instance)} entries, more than the limit of {error.validator_value}"
    elif error.validator == "pattern" and isinstance(instance, str):
        message = f"{_one_line(repr(instance))} does not match {error.validator_value!r}"
    line = _line_of(key_path, lines)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise DataError(f"{path}:{line}: {format_key_path(key_path)}: {message}{more}")


def _line_of(key_path: KeyPath, lines: dict[KeyPath, int]) -> int:
    while key_path not in lines and key_path:
        key_path = key_path[:-1]
    return lines.get(key_path, 1)


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
    names = [c.name for c in series.configs]
    for index, config in enumerate(series.configs):
        if names.count(config.name) > 1:
            line = lines.get(("configs", index, "name"), 0)
            raise DataError(f"{path}:{line}: configs[{index}].name: '{config.name}' is used twice")
        if config.since > len(series.mailed_patches):
            line = lines.get(("configs", index, "since"), 0)
            raise DataError(f"{path}:{line}: configs[{index}].since: {config.since} is past the last patch")
