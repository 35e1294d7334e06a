"""Crash safety for apply: what an interrupted run left behind is recognised, finished and said.

Before the one step of apply that touches what the user sees (``git checkout
-B`` of the series branch), apply writes an *intent* to
``$GIT_DIR/patchkit/apply-in-progress.json``: who is switching (pid and
process start time, then the git child's), from which HEAD to which tip, when,
and the record to write afterwards. It is removed once the record is written.
A run killed with SIGKILL (or a machine that went down) leaves it behind, and
the next apply, holding the tree's apply lock, uses it to decide:

- a git ``index.lock`` (or ``HEAD.lock`` / the branch's ref lock) is patchkit's
  own leftover only when the intent says a checkout was under way, the file is
  no older than the intent, the processes the intent names are gone and no
  process has the file open; only then is it removed, and the user is told.
  A lock some live process holds is waited for or named, never removed;
- a half-done checkout is finished (``checkout -f -B`` to the recorded tip)
  when every change in the tree is one that switch makes; anything else in the
  tree is the user's, and apply refuses, naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from patchkit.apply.record import AppliedSeries, write_record
from patchkit.apply.statedir import StateDir
from patchkit.errors import DataError, TreeError, os_problem
from patchkit.tree.repo import KernelTree
from patchkit.util import inputfile, proc

_WAIT_FOR_GIT = 60.0  # seconds to wait for a checkout an interrupted run left running
_CLOCK_SLACK = 2.0  # file times and time.time() may differ a little (coarse timestamps)


@dataclass(frozen=True)
class Intent:
    pid: int
    pid_start: int | None
    started: float  # time.time() when the intent was written
    branch: str
    tip: str
    from_commit: str  # HEAD before the switch
    record: dict[str, Any]  # the AppliedSeries to write once switched
    git_pid: int | None = None
    git_start: int | None = None


def intent_path(tree: KernelTree) -> Path:
    return StateDir(tree).intent


def write_intent(tree: KernelTree, intent: Intent) -> None:
    """Write the note whole or not at all, without fsync: it guards against the process dying (SIGKILL),
    which leaves the page cache intact, and apply must stay fast. After a power cut the note may be
    gone while git's own lock stayed; the next apply then names that lock instead of removing it."""
    path = intent_path(tree)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(asdict(intent), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise os_problem(path, exc) from exc


def clear_intent(tree: KernelTree) -> None:
    with contextlib.suppress(FileNotFoundError):
        intent_path(tree).unlink()


def read_intent(tree: KernelTree) -> Intent | None:
    path = intent_path(tree)
    if not os.path.lexists(path):
        return None
    try:
        return Intent(**inputfile.read_json(path))
    except (DataError, TypeError) as exc:
        raise TreeError(
            f"{path}: unreadable note of an interrupted apply ({exc}); check the tree with 'git status', "
            "then remove the file"
        ) from exc


def process_start(pid: int) -> int | None:
    """The start time (clock ticks since boot) of ``pid``, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of proc(5), counted after "pid (comm)"
    except (IndexError, ValueError):
        return None


def alive(pid: int | None, start: int | None) -> bool:
    """Is the process ``pid`` that started at ``start`` still running (and not a reused pid)?"""
    if pid is None:
        return False
    now = process_start(pid)
    if now is None:
        return False
    return start is None or now == start


def holders(path: Path) -> list[int]:
    """Processes that have ``path`` open (from /proc; those of other users are visible to root only)."""
    found: list[int] = []
    target = str(path)
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        found.append(pid)
                        break
    return found


def _command_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)[:80] or "?"


def _git_locks(tree: KernelTree, branch: str | None) -> list[Path]:
    locks = [tree.git_dir / "index.lock", tree.git_dir / "HEAD.lock"]
    if branch is not None:
        locks.append(tree.common_dir / "refs" / "heads" / f"{branch}.lock")
    return [lock for lock in locks if lock.exists()]


def refuse_foreign_locks(tree: KernelTree) -> None:
    """Name a git lock that is not patchkit's leftover: a running git, or one that crashed."""
    for lock in _git_locks(tree, None):
        held = holders(lock.resolve())
        who = f" (held by pid {held[0]}: {_command_of(held[0])})" if held else ""
        raise TreeError(
            f"{lock} exists: another git process is working in this tree{who}; "
            "wait for it to finish, or remove the file if no git process is running (a crashed one leaves it)"
        )


def recover(tree: KernelTree, say: Callable[[str], None]) -> None:
    """Finish what an interrupted apply left (see the module docstring); called under the tree's apply lock."""
    intent = read_intent(tree)
    if intent is None:
        refuse_foreign_locks(tree)
        return
    who = f"an interrupted patchkit apply (pid {intent.pid})"
    if alive(intent.git_pid, intent.git_start):
        say(f"waiting for the git checkout {who} left running (pid {intent.git_pid})")
        deadline = time.monotonic() + _WAIT_FOR_GIT
        while alive(intent.git_pid, intent.git_start):
            if time.monotonic() > deadline:
                raise TreeError(f"{tree.path}: the git checkout {who} started (pid {intent.git_pid}) is still running")
            time.sleep(0.1)
    for lock in _git_locks(tree, intent.branch):
        _remove_own_lock(tree, lock, intent, who, say)
    _finish_switch(tree, intent, who, say)
    clear_intent(tree)


def _remove_own_lock(tree: KernelTree, lock: Path, intent: Intent, who: str, say: Callable[[str], None]) -> None:
    if not Path("/proc/self/fd").is_dir():  # no way to see who holds it: never remove it
        raise TreeError(f"{lock} exists, left by {who} or by another git process; remove it if none is running")
    held = holders(lock.resolve())
    if held:
        raise TreeError(
            f"{lock} is held by a running process (pid {held[0]}: {_command_of(held[0])}); wait for it to finish"
        )
    if alive(intent.pid, intent.pid_start):
        raise TreeError(f"{lock} exists and {who} is still running; wait for it to finish")
    try:
        made = lock.stat().st_mtime
    except FileNotFoundError:
        return
    if made < intent.started - _CLOCK_SLACK:
        raise TreeError(
            f"{lock} is older than {who}, so some other git process left it; remove it if no git process is running"
        )
    lock.unlink(missing_ok=True)
    say(f"removed {lock}, left by {who} that was killed during its checkout")


def _finish_switch(tree: KernelTree, intent: Intent, who: str, say: Callable[[str], None]) -> None:
    branch_tip = tree.rev_parse(f"refs/heads/{intent.branch}")
    on_branch = tree.current_branch() == intent.branch and branch_tip == intent.tip
    dirty = tree.dirty_paths()
    in_the_way = _untracked_additions(tree, intent)
    if on_branch and not dirty and not in_the_way:
        _write_recorded(tree, intent)
        say(f"{who} had switched to {intent.branch}; its record is written now")
        return
    if not dirty and not in_the_way and tree.rev_parse("HEAD") == intent.from_commit:
        say(f"{who} had not started its checkout; the tree is as it was")
        return
    switched = set(_changed_paths(tree, intent.from_commit, intent.tip))
    foreign = [path for path in dirty if path not in switched]
    if foreign or tree.rev_parse("HEAD") not in (intent.from_commit, intent.tip):
        what = f"changes in {foreign[0]}" if foreign else "a HEAD that moved"
        raise TreeError(
            f"{tree.path}: {who} left its switch to {intent.branch} half done, and the tree has {what} that the "
            f"switch does not explain; look at 'git status', then remove {intent_path(tree)}"
        )
    with _own_session_checkout(tree, intent) as result:
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise TreeError(
                f"{tree.path}: finishing the switch {who} left half done failed: {detail[-1] if detail else '?'}"
            )
    _write_recorded(tree, intent)
    say(f"finished the switch to {intent.branch} that {who} left half done")


@contextlib.contextmanager
def _own_session_checkout(tree: KernelTree, intent: Intent) -> Iterator[proc.Completed]:
    from patchkit.util.signals import deferred_interrupts

    with deferred_interrupts():
        yield proc.run(
            ["git", "-C", str(tree.path), "-c", "advice.detachedHead=false",
             "checkout", "-q", "-f", "-B", intent.branch, intent.tip],
            new_session=True,
        )  # fmt: skip


def _changed_paths(tree: KernelTree, old: str, new: str) -> list[str]:
    out = tree.git("diff", "--name-only", "--no-renames", "-z", old, new)
    return [name for name in out.split("\0") if name]


def _untracked_additions(tree: KernelTree, intent: Intent) -> list[str]:
    """Files the switch adds that sit in the work tree untracked (written before the index was)."""
    added = tree.git("diff", "--name-only", "--no-renames", "--diff-filter=A", "-z", "HEAD", intent.tip)
    names = [name for name in added.split("\0") if name]
    return [name for name in names if (tree.path / name).exists() or (tree.path / name).is_symlink()]


def _write_recorded(tree: KernelTree, intent: Intent) -> None:
    write_record(tree, AppliedSeries.from_json_data(intent.record))
