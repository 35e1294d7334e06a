"""Kconfig: configure an ``O=`` directory from tinyconfig plus a fragment, and check the result.

kconfig silently drops symbols it does not know, so a fragment option that a
patch introduces (``since``) only takes effect once the config is merged again
at a state whose Kconfig files define it: :func:`kconfig_changed` tells the
walker when to do that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from patchkit.errors import DataError
from patchkit.series.model import MAX_FRAGMENT_BYTES
from patchkit.tree.repo import KernelTree
from patchkit.util import inputfile

_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


@dataclass(frozen=True)
class OptionMismatch:
    option: str  # CONFIG_FOO
    wanted: str  # y, m, n or a value
    got: str  # n when absent or "is not set"

    def describe(self) -> str:
        return f"{self.option}={self.wanted} (got {self.option}={self.got})"


def parse_config_text(text: str) -> dict[str, str]:
    """Options of a .config or fragment: CONFIG_FOO -> value ('n' for "is not set")."""
    options: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        match = _SET.match(line)
        if match:
            options[match.group(1)] = match.group(2)
            continue
        match = _UNSET.match(line)
        if match:
            options[match.group(1)] = "n"
    return options


def read_fragment(path: Path, label: str) -> dict[str, str]:
    text = inputfile.read_text(path, MAX_FRAGMENT_BYTES, where=label)
    options = parse_config_text(text)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#") and not _SET.match(line):
            raise DataError(f"{label}:{number}: not a kconfig line (expected CONFIG_NAME=value): {line[:60]}")
    if not options:
        raise DataError(f"{label}: the kconfig fragment sets no options")
    return options


def mismatches(wanted: dict[str, str], config: dict[str, str]) -> list[OptionMismatch]:
    """Options of the fragment whose value did not end up in the config."""
    found = []
    for option, value in wanted.items():
        got = config.get(option, "n")
        if got != value:
            found.append(OptionMismatch(option, value, got))
    return found


def defined_symbols(tree: KernelTree, commit: str, options: list[str]) -> set[str]:
    """Which of ``options`` (CONFIG_FOO) some Kconfig file at ``commit`` defines."""
    if not options:
        return set()
    names = [o.removeprefix("CONFIG_") for o in options]
    pattern = r"^[[:space:]]*(menu)?config[[:space:]]+(" + "|".join(names) + r")[[:space:]]*$"
    result = tree.run_git(["grep", "-h", "-E", "-e", pattern, commit, "--", "*Kconfig*"])
    defined = set()
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            defined.add("CONFIG_" + parts[1])
    return defined


def split_by_since(
    missing: list[OptionMismatch], defined: set[str], state_index: int, since: int
) -> tuple[list[OptionMismatch], list[OptionMismatch]]:
    """(tolerated, errors): before patch ``since`` an option no Kconfig defines yet is fine; nothing else is."""
    tolerated = [m for m in missing if m.option not in defined and state_index < since]
    errors = [m for m in missing if m not in tolerated]
    return tolerated, errors


def kconfig_changed(paths: list[str]) -> bool:
    """Does a change to these paths need the config merged again?"""
    return any(PurePosixPath(p).name.startswith("Kconfig") for p in paths)
