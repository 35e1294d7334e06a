"""Running external programs with one consistent failure story: the one place patchkit starts a process.

A program that is not installed becomes :class:`MissingToolError` naming the
Debian package that provides it, never a traceback. :func:`run` runs a program
to completion (its output captured); :func:`start` starts one whose output or
input is streamed (a pipe into ``tar``, ``git mktree --batch``, make's log) and
:func:`stop_group` stops such a child with everything it started. ``env`` is
always added to patchkit's own environment, never a replacement for it.
``tests/test_owners.py`` checks that no other module imports :mod:`subprocess`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TypeAlias

from patchkit.errors import MissingToolError

Completed: TypeAlias = subprocess.CompletedProcess[bytes]
Child: TypeAlias = subprocess.Popen[bytes]
TimeoutExpired = subprocess.TimeoutExpired
PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT
Stream: TypeAlias = int | IO[bytes] | None  # PIPE, DEVNULL, STDOUT, an open file, or None (inherited)

# Which Debian package provides each program patchkit runs (used by doctor too).
DEBIAN_PACKAGE_OF: dict[str, str] = {
    "git": "git",
    "make": "make",
    "gcc": "build-essential",
    "flex": "flex",
    "bison": "bison",
    "bc": "bc",
    "perl": "perl",
    "tar": "tar",
    "xz": "xz-utils",
    "cpio": "cpio",
    "ccache": "ccache",
    "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static",
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg-deb": "dpkg",
    "dpkg-query": "dpkg",
    "python3": "python3",
}


def require(program: str) -> str:
    """Return the path of ``program`` or raise :class:`MissingToolError`."""
    found = shutil.which(program)
    if found is None:
        package = DEBIAN_PACKAGE_OF.get(program)
        raise MissingToolError(f"'{program}' is not installed", packages=(package,) if package else ())
    return found


def run(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
    timeout: float | None = None,
    new_session: bool = False,
) -> Completed:
    """Run ``argv`` to completion, capturing output; never raises on a non-zero exit.

    ``timeout`` (seconds): the child is killed and :data:`TimeoutExpired` raised when it runs longer.
    ``new_session``: the child gets a session of its own, so a terminal's Ctrl-C reaches only patchkit.
    """
    executable = require(argv[0])
    return subprocess.run(
        list(argv),
        executable=executable,
        cwd=cwd,
        env=_with(env),
        input=input_bytes,
        stdin=None if input_bytes is not None else subprocess.DEVNULL,
        capture_output=True,
        check=False,
        timeout=timeout,
        start_new_session=new_session,
    )


def start(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: Stream = DEVNULL,
    stdout: Stream = None,
    stderr: Stream = None,
    new_session: bool = False,
) -> Child:
    """Start ``argv`` and return the running child; the caller streams to or from it and waits for it."""
    executable = require(argv[0])
    return subprocess.Popen(
        list(argv),
        executable=executable,
        cwd=cwd,
        env=_with(env),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=new_session,
    )


def stop_group(child: Child, grace: float = 3.0) -> None:
    """Stop a child started with ``new_session`` and its whole process group: SIGTERM, then SIGKILL after
    ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        except PermissionError:
            child.kill()
        try:
            child.wait(timeout=wait)
            # The leader is gone; make sure its group is too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, 0)
                continue
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=1.0)
    _wait_until_gone(child.pid)
    if child.stdout is not None:
        with contextlib.suppress(OSError):
            child.stdout.close()


def _wait_until_gone(group: int, timeout: float = 5.0) -> None:
    """Wait (bounded) until no process of ``group`` is left: a SIGKILLed grandchild takes a moment to die,
    and "no stray processes" must hold when stop_group returns, not a little later."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)


def _with(env: Mapping[str, str] | None) -> dict[str, str] | None:
    """patchkit's environment with ``env`` added (None: inherited as it is)."""
    if env is None:
        return None
    full = dict(os.environ)
    full.update(env)
    return full
