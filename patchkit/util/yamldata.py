"""YAML data files as patchkit reads them: strict parse, key-path -> line map, JSON-schema check.

Every file patchkit reads as data (series.yaml, lint.yaml, the rule definitions and their cases) goes
through :func:`parse_yaml` and :func:`validate`, so every error is one line naming the file, the line
and the key path: ``series/tdx/series.yaml:12: patches[3].author.email: 'x' does not match ...``.

The data may be hostile (a series under review is someone else's work): :class:`_StrictLoader`
refuses tags, merge keys and duplicate keys, and bounds aliases, nesting and size as it composes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
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

from patchkit.errors import DataError
from patchkit.util import inputfile

KeyPath = tuple[str | int, ...]

# Bounds far above any real data file (the bundled series: ~30 KB, nesting depth 5) and far below what
# would hurt: a hostile file is refused with one line instead of eating memory or the stack.
MAX_DEPTH = 32
MAX_NODES = 200_000
MAX_CHARS = 16 * 1024 * 1024
MAX_FILE_BYTES = 8 * 1024 * 1024  # a data file (lint.yaml, a rule and its cases); series.yaml has its own bound


@dataclass(frozen=True)
class Loaded:
    """A parsed data file: its data and the 1-based line of every key path."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, key_path: KeyPath) -> int:
        return line_of(key_path, self.lines)


@cache
def package_schema(package: str, name: str) -> dict[str, Any]:
    """A JSON schema shipped inside a patchkit package."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def load_file(
    path: Path, schema: dict[str, Any], *, what: str = "patchkit data", multiline: Collection[str] | bool = False
) -> Loaded:
    """Read, strictly parse and validate one data file; every error is a :class:`DataError` with file:line.

    ``multiline``: the keys whose text may span lines (newlines and tabs), or True for every string
    (files of source code), False for none.
    """
    raw = inputfile.read_limited(path, MAX_FILE_BYTES)
    data, lines = parse_yaml(path, raw, what=what)
    if multiline is not True:
        check_text(path, data, lines, multiline_keys=() if multiline is False else multiline)
    validate(path, data, lines, schema)
    return Loaded(path, data, lines)


def parse_yaml(path: Path, raw: bytes, *, what: str = "series data") -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML and map every key path to its 1-based line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8") from None
    try:
        loader = _StrictLoader(text, what)
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
        raise DataError(f"{path}:{line}: malformed YAML: {one_line(str(exc.problem or exc.context))}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: malformed YAML: {one_line(str(exc))}") from None
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
    """YAML as a data file needs it, and nothing else.

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

    def __init__(self, stream: str, what: str) -> None:
        super().__init__(stream)
        self._what = what  # named in refusals: "series data", "lint configuration", ...
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
            raise _Refused(event.start_mark, f"YAML tag '{one_line(tag)}' (tags are not allowed in {self._what})")
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
                raise _Refused(key_node.start_mark, f"YAML merge key '<<' (not allowed in {self._what})")
            key = str(key_node.value)
            if key in seen:
                raise _Refused(
                    key_node.start_mark,
                    f"duplicate key '{one_line(key)}' (first at line {seen[key]}; the file must say it once)",
                )
            seen[key] = key_node.start_mark.line + 1
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as exc:
            raise _Refused(node.start_mark, f"unreadable value: {one_line(str(exc))}") from None


# Dates stay text: the schema and the semantic checks say what is wrong with them, with the line.
def _construct_timestamp_as_text(loader: _StrictLoader, node: yaml.Node) -> str:
    return loader.construct_yaml_str(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


def one_line(text: str, limit: int = 120) -> str:
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
            shown = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else one_line(repr(part), 60)
            text += f".{shown}" if text else shown
    return text or "(top level)"


def line_of(key_path: KeyPath, lines: dict[KeyPath, int]) -> int:
    """The line of ``key_path``, or of its nearest ancestor that has one (1: the top)."""
    while key_path not in lines and key_path:
        key_path = key_path[:-1]
    return lines.get(key_path, 1)


# Text that spans lines may hold newlines and tabs; every other string is one line and holds no
# control character at all (a CR in a subject or an address would become a mail header of its own).
MULTILINE_KEYS = frozenset({"body", "changes"})
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_NAMES = {"\r": "a carriage return", "\n": "a newline", "\t": "a tab", "\x00": "a NUL character"}
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def check_text(
    path: Path,
    data: Any,
    lines: dict[KeyPath, int],
    key_path: KeyPath = (),
    multiline_keys: Collection[str] | None = None,
) -> None:
    """Refuse control characters: none in one-line values, only newline and tab in multi-line text.

    ``multiline_keys``: the keys whose values may span lines; None: :data:`MULTILINE_KEYS`.
    """
    keys = MULTILINE_KEYS if multiline_keys is None else multiline_keys
    if isinstance(data, dict):
        for key, value in data.items():
            check_text(path, value, lines, (*key_path, str(key)), keys)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_text(path, value, lines, (*key_path, index), keys)
    elif isinstance(data, str):
        multiline = bool(key_path) and key_path[-1] in keys
        found = (_CONTROL_MULTILINE if multiline else _CONTROL).search(data)
        if found is not None:
            char = found.group()
            what = "a multi-line text may hold newlines and tabs only" if multiline else "one line of text"
            raise DataError(
                f"{path}:{line_of(key_path, lines)}: {format_key_path(key_path)} contains "
                f"{_CONTROL_NAMES.get(char, 'a control character')} (U+{ord(char):04X} at position "
                f"{found.start() + 1}; {what})"
            )


def validate(path: Path, data: Any, lines: dict[KeyPath, int], schema: dict[str, Any]) -> None:
    """Check ``data`` against a JSON schema; the first error (by line) as ``file:line: key.path: message``."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: line_of(tuple(e.absolute_path), lines))
    if not errors:
        return
    key_path, message = describe_schema_error(errors[0])
    line = line_of(key_path, lines)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise DataError(f"{path}:{line}: {format_key_path(key_path)}: {message}{more}")


def describe_schema_error(error: jsonschema.ValidationError) -> tuple[KeyPath, str]:
    """A schema error as the key path it is about and one line saying what is wrong there."""
    key_path: KeyPath = tuple(error.absolute_path)
    message = one_line(error.message, 200)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        unknown = sorted(str(k) for k in instance if k not in allowed)
        if unknown:
            key_path = (*key_path, unknown[0])
            message = f"unknown key (allowed: {', '.join(sorted(allowed))})"
    elif error.validator == "type":
        message = f"expected {error.validator_value}, got {type(instance).__name__} {one_line(repr(instance))}"
    elif error.validator == "maxLength" and isinstance(instance, str):
        message = f"{len(instance)} characters, more than the limit of {error.validator_value}"
    elif error.validator == "maxItems" and isinstance(instance, list):
        message = f"{len(instance)} entries, more than the limit of {error.validator_value}"
    elif error.validator == "pattern" and isinstance(instance, str):
        message = f"{one_line(repr(instance))} does not match {error.validator_value!r}"
    return key_path, message
