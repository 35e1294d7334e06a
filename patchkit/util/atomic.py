"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

from patchkit.errors import os_problem


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        _unlink_quietly(tmp_name)
        raise os_problem(path, exc) from exc
    except BaseException:
        _unlink_quietly(tmp_name)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def leftover_pattern(names: str) -> re.Pattern[str]:
    """What :func:`write_bytes` leaves when killed before its rename, for files whose names match ``names``
    (a regex): ``.<name>.<8 random characters>.tmp``."""
    return re.compile(rf"\.(?:{names})\.[a-z0-9_]{{8}}\.tmp")


def remove_leftovers(directory: Path, pattern: re.Pattern[str]) -> list[str]:
    """Remove the temporary files (named as ``pattern`` says) killed writers left in ``directory``.

    Only for a directory whose writers take turns under a lock the caller holds now: a temporary
    file there is then never a live writer's. Returns the names removed.
    """
    removed: list[str] = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name) and stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return sorted(removed)


def _unlink_quietly(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)
