"""Which commit is which patch: the record ``patchkit apply`` leaves in the tree's git dir.

Stored as ``$GIT_DIR/patchkit/<series>.json`` (:class:`~patchkit.apply.statedir.StateDir`) so later
commands (status, lint, build, format) find the commits without guessing from subjects. Whether the
branch still holds them is :mod:`patchkit.apply.states`' question.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from patchkit.apply.statedir import StateDir
from patchkit.errors import DataError, TreeError
from patchkit.tree.repo import KernelTree
from patchkit.util import atomic, inputfile


@dataclass(frozen=True)
class AppliedPatch:
    number: int
    subject: str
    commit: str
    overlay: bool = False


@dataclass(frozen=True)
class AppliedSeries:
    series: str
    revision: int
    branch: str
    base: str  # base commit
    patches: tuple[AppliedPatch, ...]  # mailed patches, on the branch
    overlays: tuple[AppliedPatch, ...] = ()  # built on top of the branch tip, never on the branch

    @classmethod
    def from_json_data(cls, data: dict[str, Any]) -> AppliedSeries:
        """The record from what :func:`write_record` wrote (also kept in an interrupted apply's intent)."""
        return cls(
            series=data["series"],
            revision=data["revision"],
            branch=data["branch"],
            base=data["base"],
            patches=tuple(AppliedPatch(**p) for p in data["patches"]),
            overlays=tuple(AppliedPatch(**p) for p in data.get("overlays", ())),
        )

    @property
    def tip(self) -> str:
        return self.patches[-1].commit if self.patches else self.base


def record_path(tree: KernelTree, series_name: str) -> Path:
    return StateDir(tree).apply_record(series_name)


def write_record(tree: KernelTree, record: AppliedSeries) -> None:
    data = asdict(record)
    atomic.write_text(record_path(tree, record.series), json.dumps(data, indent=2) + "\n")


def read_record(tree: KernelTree, series_name: str) -> AppliedSeries | None:
    path = record_path(tree, series_name)
    if not os.path.lexists(path):
        return None
    try:
        data = inputfile.read_json(path)
    except DataError as exc:
        reason = exc.message.removeprefix(f"{path}: ")
        raise TreeError(f"{path}: unreadable apply record ({reason}); run 'patchkit apply --force'") from None
    return AppliedSeries.from_json_data(data)


def require_record(tree: KernelTree, series_name: str) -> AppliedSeries:
    record = read_record(tree, series_name)
    if record is None:
        raise TreeError(f"{tree.path}: series '{series_name}' is not applied there; run 'patchkit apply' first")
    return record
