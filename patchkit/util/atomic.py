"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

from patchkit.errors import os_problem


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename.

    The file gets ``mode``; without it, the mode of the file it replaces, or for a new file what ``open()``
    would give it (0666 less the umask): never the temporary file's 0600, so a user's ``series.yaml`` stays
    as readable as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            mode = 0o666 & ~umask()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
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


def write_text(path: Path, text: str, mode: int | None = None) -> None:
    write_bytes(path, text.encode("utf-8"), mode)


def umask() -> int:
    """The process's umask (read from /proc, which changes nothing; else set and set back)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current


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
