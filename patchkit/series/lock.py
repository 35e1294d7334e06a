"""The series lock: one patchkit process at a time reads, changes and writes a series' data.

Whatever does a read-modify-write of ``series.yaml`` (``send`` recording each
Message-Id as the server accepts it; ``trailers``, ``revise``) holds it::

    with series_lock(series.directory):
        series = load_series(series.directory)  # read again: another process may have changed it
        ...
        atomic.write_text(series.directory / SERIES_FILE, series_yaml(changed))

It is an ``flock`` on the series directory itself: no lock file is left in the
data, and the lock survives the rename by which :mod:`patchkit.util.atomic` replaces
``series.yaml`` (a lock on that file would not). It dies with its process, so a
killed run never blocks the next one. A process that already holds the lock
may take it again (nested ``with``), so a helper that locks can be called from
a command that holds the lock already. Taking it removes the temporary files
a writer killed before its rename left in the directory (see
:func:`patchkit.util.atomic.remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from patchkit.errors import PatchkitError, os_problem
from patchkit.util import atomic, locking

# The files patchkit writes into a series directory (atomically, under this lock).
LEFTOVERS = atomic.leftover_pattern(r"series\.yaml|[^/]+\.diff")

# The series directories (device, inode) this process holds the lock of, with how deep it is nested.
_held: dict[tuple[int, int], int] = {}


@contextlib.contextmanager
def series_lock(
    series_dir: Path, notify: Callable[[str], None] | None = None, *, busy: PatchkitError | None = None
) -> Iterator[None]:
    """Hold the lock of the series in ``series_dir``; when another process holds it, raise ``busy``, else wait
    (saying so through ``notify``) until it lets go."""
    try:
        fd = os.open(series_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise os_problem(series_dir, exc, "open the series directory to lock it") from exc
    try:
        status = os.fstat(fd)
        key = (status.st_dev, status.st_ino)
        if key in _held:  # this process holds it already: a nested use
            _held[key] += 1
            try:
                yield
            finally:
                _held[key] -= 1
            return
        waiting = f"waiting for another patchkit process that is changing the series in {series_dir}"
        locking.take(fd, waiting, notify, busy=busy)
        _held[key] = 1
        if os.path.lexists(series_dir / "series.yaml"):  # a series (not the directory a new one is made in)
            atomic.remove_leftovers(series_dir, LEFTOVERS)  # of a writer killed before its rename
        try:
            yield
        finally:
            del _held[key]
    finally:
        os.close(fd)  # releases the lock (when this use took it)
