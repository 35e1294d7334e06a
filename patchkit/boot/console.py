"""Judging a serial console log: did userspace come up, did the kernel complain, did the expectations match."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from patchkit.boot.initramfs import MARKER

_TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
# What a kernel prints when something went wrong; each names the failure kind.
_TROUBLE = (
    ("panic", re.compile(r"Kernel panic - not syncing")),
    ("BUG", re.compile(r"kernel BUG at |^BUG: ")),
    ("oops", re.compile(r"^Oops: |general protection fault|Unable to handle (?:kernel|page fault)|^invalid opcode: ")),
    ("WARNING", re.compile(r"^WARNING: CPU: \d+ PID: \d+|^WARNING: at ")),
    ("call trace", re.compile(r"^Call Trace:|^ <TASK>$")),
)
_EXCERPT_BEFORE = 3
_EXCERPT_AFTER = 25
_TAIL = 15


@dataclass
class ConsoleVerdict:
    ok: bool
    reason: str  # one line: "reached userspace", "kernel panic", "timed out after 60 s", ...
    excerpt: str = ""
    marker_seen: bool = False
    expects_missing: list[str] = field(default_factory=list)


def clean_lines(text: str) -> list[str]:
    """Console lines without carriage returns and printk timestamps (expectations match these)."""
    return [_TIMESTAMP.sub("", line.rstrip("\r")) for line in text.splitlines()]


def judge(text: str, *, exited: bool, timed_out: bool, timeout: float, expects: tuple[str, ...] = ()) -> ConsoleVerdict:
    """Classify one boot's console output."""
    lines = clean_lines(text)
    marker_seen = any(MARKER in line for line in lines)
    for kind, pattern in _TROUBLE:
        index = next((i for i, line in enumerate(lines) if pattern.search(line)), None)
        if index is not None:
            first_line = lines[index].strip()
            excerpt = "\n".join(lines[max(0, index - _EXCERPT_BEFORE) : index + _EXCERPT_AFTER])
            return ConsoleVerdict(False, f"{kind}: {first_line}", excerpt, marker_seen)
    tail = "\n".join(line for line in lines[-_TAIL:])
    if not marker_seen:
        if timed_out:
            return ConsoleVerdict(False, f"no userspace marker within {timeout:g} s (killed at the timeout)", tail)
        how = "QEMU exited" if exited else "the boot stopped"
        return ConsoleVerdict(False, f"{how} before userspace was reached", tail)
    missing = [pattern for pattern in expects if not _matches(pattern, lines)]
    if missing:
        return ConsoleVerdict(
            False, f"console does not match expectation {missing[0]!r}", tail, True, expects_missing=missing
        )
    return ConsoleVerdict(True, "reached userspace" + (f", {len(expects)} expectation(s) matched" if expects else ""),
                          "", True)  # fmt: skip


def _matches(pattern: str, lines: list[str]) -> bool:
    regex = re.compile(pattern, re.MULTILINE)
    return regex.search("\n".join(lines)) is not None
