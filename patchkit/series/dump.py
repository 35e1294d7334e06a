"""Write a series directory canonically, so import → apply → import is byte-identical."""

from __future__ import annotations

import re
from typing import Any

import yaml

from patchkit.errors import DataError
from patchkit.series.load import SERIES_FILE, check_text, parse_yaml, validate
from patchkit.series.model import Series
from patchkit.util import atomic
from patchkit.util.signals import deferred_interrupts


class _SeriesDumper(yaml.SafeDumper):
    """Block style for multi-line text; no key sorting; no line folding."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_SeriesDumper.add_representer(str, _represent_str)


def series_yaml(series: Series) -> str:
    """``series.yaml``'s text for ``series``, checked as loading it will check it: a command never writes data
    that every later command would refuse (a trailer over the schema's length, a 101st trailer, ...)."""
    text = dump_yaml(series.to_data())
    path = series.directory / SERIES_FILE
    try:
        data, lines = parse_yaml(path, text.encode("utf-8"))
        check_text(path, data, lines)
        validate(path, data, lines)
    except DataError as exc:
        raise DataError(f"{path}: not written: the change would make it invalid ({exc.message})") from None
    return text


def dump_yaml(data: Any) -> str:
    text: str = yaml.dump(
        data, Dumper=_SeriesDumper, sort_keys=False, allow_unicode=True, width=1_000_000, default_flow_style=False
    )
    return text


def write_series(series: Series, diffs: dict[str, bytes]) -> None:
    """Write ``series.yaml`` and the diff files (each atomically), diff files first, with Ctrl-C and SIGTERM
    held until all are written (the caller holds the series lock)."""
    with deferred_interrupts():
        for name, raw in diffs.items():
            atomic.write_bytes(series.directory / name, raw)
        atomic.write_text(series.directory / SERIES_FILE, series_yaml(series))


def diff_file_name(number: int, subject: str) -> str:
    """``0003-x86-tdx-rename-foo.diff``, like git format-patch names its files."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", subject).strip("-.").lower()
    slug = re.sub(r"\.+", ".", slug)[:52].rstrip("-.")
    return f"{number:04d}-{slug or 'patch'}.diff"
