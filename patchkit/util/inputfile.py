"""Reading an input file patchkit did not write itself: the one way every reader opens one.

An input may be hostile or simply wrong: a symlink to ``/dev/zero``, a FIFO
nobody writes to, a 2 GB file, a directory. Each is refused here, naming the
path, before a byte is read: only a regular file of at most the reader's
bound is opened (without blocking, and checked again on the open descriptor,
since the file may have been swapped since the first look), and never more
than the bound plus one byte is read. JSON is parsed with its nesting
bounded, so a deeply nested file is a data error, not a crash.

Every reader of an input (series data and its diffs and fragments, mailboxes,
``lint.yaml``, verify's record and ``report.json``, the cache's entries,
manifests of output directories) goes through :func:`read_limited`.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from patchkit.errors import DataError, EnvironmentProblem

# Bounds for what patchkit reads; each is far above any real input and far below what would hurt.
MAX_JSON_BYTES = 64 * 1024 * 1024  # report.json, verify and apply records, manifests, cache entries
MAX_JSON_DEPTH = 64  # patchkit's own JSON nests a few levels; a bomb nests thousands

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


def require_regular_file(
    path: Path, limit: int, *, missing: str = "no such file", where: str | None = None
) -> os.stat_result:
    """Refuse, without opening it, anything but a regular file of at most ``limit`` bytes."""
    label = where or str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{label}: {missing}") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENAMETOOLONG):  # the path itself is wrong
            raise DataError(f"{label}: {exc.strerror}") from None
        raise EnvironmentProblem(f"{label}: cannot read: {exc.strerror}") from exc
    _require_regular(label, info, limit)
    return info


def read_limited(path: Path, limit: int, *, missing: str = "no such file", where: str | None = None) -> bytes:
    """Read an input that must be a regular file of at most ``limit`` bytes; never block or read more."""
    label = where or str(path)
    require_regular_file(path, limit, missing=missing, where=where)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise DataError(f"{label}: {missing}") from None
    except OSError as exc:
        raise EnvironmentProblem(f"{label}: cannot read: {exc.strerror}") from exc
    try:
        _require_regular(label, os.fstat(fd), limit)  # the file may have been swapped since the stat
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise EnvironmentProblem(f"{label}: cannot read: {exc.strerror}") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise DataError(f"{label}: larger than the limit of {limit} bytes")
    return data


def read_text(path: Path, limit: int, *, missing: str = "no such file", where: str | None = None) -> str:
    """:func:`read_limited`, decoded as UTF-8 (a byte that is not is a data error naming the line)."""
    raw = read_limited(path, limit, missing=missing, where=where)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{where or path}:{line}: not valid UTF-8") from None


def parse_json(text: str | bytes, label: str) -> Any:
    """Strict JSON (UTF-8, no duplicate keys, no NaN or Infinity) with its nesting bounded; anything else is a
    :class:`DataError` naming ``label``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{label}: not valid JSON (not UTF-8 at byte {exc.start})") from None
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except RecursionError:
        raise DataError(f"{label}: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{label}: not valid JSON ({exc.msg}, line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # a duplicate key, NaN, a number too long to convert
        raise DataError(f"{label}: not valid JSON ({_short(exc)})") from None
    if _depth_over(data, MAX_JSON_DEPTH):
        raise DataError(f"{label}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {key[:40]!r}")
        data[key] = value
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: Path, limit: int = MAX_JSON_BYTES, *, missing: str = "no such file") -> Any:
    """A bounded regular file holding bounded JSON."""
    return parse_json(read_limited(path, limit, missing=missing), str(path))


def _depth_over(data: Any, limit: int) -> bool:
    """Whether ``data`` nests deeper than ``limit`` (without recursion: the check must not crash either)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _require_regular(label: str, info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a file")
        raise DataError(f"{label}: not a regular file ({kind}); refused without reading it")
    if info.st_size > limit:
        raise DataError(f"{label}: {info.st_size} bytes, more than the limit of {limit}")
