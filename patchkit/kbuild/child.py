"""Long-running children (make, QEMU): output to a log file, stopped for sure on Ctrl-C or timeout.

Each child runs in its own session, so a terminal Ctrl-C reaches only
patchkit; patchkit then stops the child's whole process group (make's
sub-makes and compilers, QEMU) before the interrupt goes on. Nothing is left
running whichever way the call ends.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import os_problem
from patchkit.util import proc

# Called with each complete output line; returning True stops the child early (not a failure).
LineHandler = Callable[[str], bool]


@dataclass(frozen=True)
class ChildResult:
    returncode: int | None  # None when patchkit stopped the child
    timed_out: bool
    stopped_by_handler: bool
    seconds: float


def run_logged(
    argv: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    first_output_timeout: float | None = None,
    on_line: LineHandler | None = None,
) -> ChildResult:
    """Run ``argv`` with stdout+stderr appended to ``log_path``; return how it ended.

    ``timeout`` bounds the whole run; ``first_output_timeout`` bounds the wait
    for the first line a handler accepts as progress (see :class:`ChildResult`).
    """
    proc.require(argv[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        log = log_path.open("ab", buffering=0)  # unbuffered: a full disk fails the write, not a silent flush
    except OSError as exc:
        raise os_problem(log_path, exc) from exc
    with log:
        child = proc.start(argv, cwd=cwd, env=env, stdout=proc.PIPE, stderr=proc.STDOUT, new_session=True)
        try:
            timed_out, stopped = _pump(child, log, log_path, started, timeout, first_output_timeout, on_line)
        except BaseException:
            proc.stop_group(child)
            raise
        if timed_out or stopped:
            proc.stop_group(child)
            return ChildResult(None, timed_out, stopped, time.monotonic() - started)
        returncode = child.wait()
        # Grandchildren that outlived their parent (rare) go with the group.
        proc.stop_group(child)
    return ChildResult(returncode, False, False, time.monotonic() - started)


def _pump(
    child: proc.Child,
    log: object,
    log_path: Path,
    started: float,
    timeout: float | None,
    first_output_timeout: float | None,
    on_line: LineHandler | None,
) -> tuple[bool, bool]:
    """Copy the child's output to the log line by line; return (timed_out, stopped_by_handler)."""
    assert child.stdout is not None
    stream = child.stdout
    os.set_blocking(stream.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    pending = b""
    seen_output = False
    write = log.write  # type: ignore[attr-defined]
    try:
        while True:
            now = time.monotonic()
            deadlines = []
            if timeout is not None:
                deadlines.append(started + timeout)
            if first_output_timeout is not None and not seen_output:
                deadlines.append(started + first_output_timeout)
            wait = max(0.0, min(deadlines) - now) if deadlines else None
            if deadlines and wait == 0.0:
                return True, False
            events = selector.select(wait if wait is None else min(wait, 1.0))
            if not events:
                continue
            chunk = stream.read(65536)
            if chunk is None:
                continue
            if not chunk:
                # An unterminated last line is already in the log (written with its chunk); show it to the handler.
                if pending and on_line is not None and on_line(pending.decode("utf-8", "replace")):
                    return False, True
                return False, False
            try:
                write(chunk)
            except OSError as exc:
                raise os_problem(log_path, exc) from exc
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                seen_output = True
                if on_line is not None and on_line(raw.decode("utf-8", "replace").rstrip("\r")):
                    return False, True
    finally:
        selector.close()
        with contextlib.suppress(OSError):
            log.flush()  # type: ignore[attr-defined]
