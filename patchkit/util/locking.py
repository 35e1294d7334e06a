"""Cross-process locks on patchkit's caches (the prepared trees, the downloaded packages).

``flock`` locks die with their process, so a run killed with SIGKILL never
leaves a lock that blocks the next one; what it half made is cleaned up by the
next holder of the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from patchkit.errors import PatchkitError, os_problem


@contextlib.contextmanager
def exclusive(
    lock_path: Path, what: str, notify: Callable[[str], None] | None = None, *, busy: PatchkitError | None = None
) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path``; when another process holds it, raise ``busy``, else say so and wait."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise os_problem(lock_path, exc, "create the lock file") from exc
    try:
        take(fd, f"waiting for another patchkit process that is {what} ({lock_path})", notify, busy=busy)
        yield
    finally:
        os.close(fd)  # releases the lock


def take(
    fd: int, waiting: str, notify: Callable[[str], None] | None = None, *, busy: PatchkitError | None = None
) -> None:
    """Lock the open file ``fd`` exclusively; when another process holds it, raise ``busy``, else say
    ``waiting`` through ``notify`` and wait until it lets go."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if busy is not None:
            raise busy from None
        if notify is not None:
            notify(waiting)
        fcntl.flock(fd, fcntl.LOCK_EX)
