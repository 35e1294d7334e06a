"""Stopping a real patchkit process at each step it takes, from outside: strace's fault injection.

A *step* is one system call by which a command changes something or hands work on: taking a lock
(``flock``), making or removing a directory or file, flushing a file before its rename (``fsync``),
the rename itself, changing a mode, starting a child (git). :func:`steps` runs the command once
under ``strace`` and lists those calls; :func:`stopped_at` runs it again on a fresh copy of its
inputs and has strace deliver a signal to it as it enters step ``k`` (``-e inject=rename:signal=KILL:
when=3`` for a step that is its third rename; strace counts each call on its own): the call has not
happened yet, every step before it has. SIGKILL is a power cut at that
point; SIGINT is a Ctrl-C that Python notices right after the call returns.

Nothing in patchkit knows about this: the process is the one a user runs, stopped from outside.
Only the patchkit process itself is traced (not its children), with bytecode caching off so that
Python's own start-up changes nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import patchkit_argv, process_env

STEP_CALLS = (
    "flock,mkdir,mkdirat,rmdir,unlink,unlinkat,rename,renameat,renameat2,fsync,fdatasync,"
    "chmod,fchmod,fchmodat,clone,clone3,vfork,fork"
)


def require_strace() -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (setup.sh --test installs it)")
    probe = subprocess.run(["strace", "-qq", "-o", os.devnull, "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode(errors='replace').strip()}")


@dataclass(frozen=True)
class Outcome:
    code: int  # the exit status, or -signal
    out: str
    err: str


def _env() -> dict[str, str]:
    return process_env(PYTHONDONTWRITEBYTECODE="1")


@dataclass(frozen=True)
class Step:
    call: str  # the system call's name
    nth: int  # which call of that name it is (1-based), as strace's when= counts
    line: str  # as strace showed it


def steps(args: Sequence[str], cwd: Path, trace: Path) -> list[Step]:
    """The step calls of ``patchkit ARGS`` run to completion in ``cwd`` (which it changes), in order."""
    result = subprocess.run(
        ["strace", "-qq", "-o", str(trace), "-e", f"trace={STEP_CALLS}", "-e", "signal=none", *patchkit_argv(*args)],
        cwd=cwd, capture_output=True, text=True, env=_env(), timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found: list[Step] = []
    seen: dict[str, int] = {}
    for line in trace.read_text().splitlines():
        if not line or line.startswith(("+++", "---")):
            continue
        call = line.split("(", 1)[0]
        seen[call] = seen.get(call, 0) + 1
        found.append(Step(call, seen[call], line))
    return found


def stopped_at(args: Sequence[str], cwd: Path, step: Step, signum: int) -> Outcome:
    """``patchkit ARGS`` in ``cwd``, sent ``signum`` as it enters ``step`` (the same call of the same run)."""
    name = signal.Signals(signum).name.removeprefix("SIG")
    argv = ["strace", "-qq", "-o", os.devnull, "-e", f"trace={STEP_CALLS}",
            "-e", f"inject={step.call}:signal={name}:when={step.nth}", *patchkit_argv(*args)]  # fmt: skip
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=_env(), timeout=300, check=False)
    code = result.returncode
    if code == 128 + signal.SIGKILL or code == -signal.SIGKILL:
        code = -signal.SIGKILL  # strace ends itself with the signal that ended its tracee
    return Outcome(code, result.stdout, result.stderr)


def fresh_copy(template: Path, where: Path) -> Path:
    """A copy of ``template`` (symlinks kept as links) at ``where``, replacing what was there."""
    shutil.rmtree(where, ignore_errors=True)
    shutil.copytree(template, where, symlinks=True)
    return where


def leftovers(root: Path) -> list[str]:
    """Temporary files and staging directories a stopped run may have left (none may survive a rerun)."""
    found = []
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            if name.endswith(".tmp") or name.startswith(".patchkit-staging-"):
                found.append(str(Path(directory, name).relative_to(root)))
    return sorted(found)
