"""Load ``series/<name>/series.yaml``: parse, validate against the schema, check files.

Every error names the file, the line and the key path, e.g.
``series/tdx/series.yaml:12: patches[3].author.email: 'x' does not match ...``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from patchkit.errors import DataError, UsageError
from patchkit.series.diffcheck import check_diff
from patchkit.series.model import Series, series_from_data

SERIES_FILE = "series.yaml"
KeyPath = tuple[str | int, ...]


@cache
def schema() -> dict[str, Any]:
    text = resources.files("patchkit.series").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def load_series(directory: Path, *, check_files: bool = True) -> Series:
    """Load and validate the series in ``directory``."""
    path = directory / SERIES_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (a series directory holds series.yaml)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from exc
    data, lines = parse_yaml(path, raw)
    validate(path, data, lines)
    _normalise(data)
    series = series_from_data(directory, data)
    _check_semantics(path, series, lines)
    if check_files:
        for patch in series.patches:
            diff_path = series.diff_path(patch)
            try:
                diff_raw = diff_path.read_bytes()
            except FileNotFoundError:
                line = lines.get(("patches", patch.number - 1, "diff"), 0)
                raise DataError(
                    f"{path}:{line}: patches[{patch.number - 1}].diff: {patch.diff}: no such file"
                ) from None
            check_diff(diff_path, diff_raw)
        for index, config in enumerate(series.configs):
            if not (directory / config.fragment).is_file():
                line = lines.get(("configs", index, "fragment"), 0)
                raise DataError(f"{path}:{line}: configs[{index}].fragment: {config.fragment}: no such file")
    return series


def find_series(root: Path, name: str | None) -> Path:
    """The series directory: ``root/series/<name>``, or the only one there is."""
    series_root = root / "series"
    if name is not None:
        candidate = Path(name)
        if (candidate / SERIES_FILE).is_file():
            return candidate
        if (series_root / name / SERIES_FILE).is_file():
            return series_root / name
        raise UsageError(
            f"no series '{name}': neither {candidate}/{SERIES_FILE} nor {series_root / name}/{SERIES_FILE} exists"
        )
    found = sorted(p.parent for p in series_root.glob(f"*/{SERIES_FILE}")) if series_root.is_dir() else []
    if not found:
        raise UsageError(f"no series found under {series_root}/ (name one: patchkit apply SERIES)")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise UsageError(f"several series under {series_root}/ ({names}): name one")
    return found[0]


def parse_yaml(path: Path, raw: bytes) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML and map every key path to its 1-based line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise DataError(f"{path}:{line}: malformed YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: malformed YAML: {exc}") from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _map_lines(node, (), lines)
    return data, lines


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
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def validate(path: Path, data: Any, lines: dict[KeyPath, int]) -> None:
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: _line_of(tuple(e.absolute_path), lines))
    if not errors:
        return
    error = errors[0]
    key_path: KeyPath = tuple(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        if unknown:
            key_path = (*key_path, unknown[0])
            message = f"unknown key (allowed: {', '.join(sorted(allowed))})"
    elif error.validator == "type":
        message = f"expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
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


def _check_semantics(path: Path, series: Series, lines: dict[KeyPath, int]) -> None:
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
    names = [c.name for c in series.configs]
    for index, config in enumerate(series.configs):
        if names.count(config.name) > 1:
            line = lines.get(("configs", index, "name"), 0)
            raise DataError(f"{path}:{line}: configs[{index}].name: '{config.name}' is used twice")
        if config.since > len(series.mailed_patches):
            line = lines.get(("configs", index, "since"), 0)
            raise DataError(f"{path}:{line}: configs[{index}].since: {config.since} is past the last patch")
