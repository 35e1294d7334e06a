"""The CI job matrix: one ``verify`` job per kconfig fragment (optionally per range of states), one for lint.

Printed by ``patchkit ci matrix`` as JSON for GitHub's ``strategy.matrix`` (``{"include": [...]}``); the
shape is ``matrix-schema.json`` beside this file. Each entry's ``args`` are ``patchkit verify`` options, so
a job runs exactly what a user would type; ``patchkit ci merge`` joins the jobs' reports.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from patchkit.errors import UsageError
from patchkit.series.model import Series


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        resources.files("patchkit.verify").joinpath("matrix-schema.json").read_text(encoding="utf-8")
    )
    return loaded


def state_count(series: Series) -> int:
    """Base, one state per mailed patch, and the overlay state when the series has overlay patches."""
    return 1 + len(series.mailed_patches) + (1 if series.overlay_patches else 0)


def split_states(count: int, parts: int) -> list[tuple[int, int]]:
    """``count`` states 0..count-1 as ``parts`` contiguous ranges of nearly equal size."""
    parts = max(1, min(parts, count))
    size, extra = divmod(count, parts)
    ranges: list[tuple[int, int]] = []
    start = 0
    for part in range(parts):
        end = start + size + (1 if part < extra else 0) - 1
        ranges.append((start, end))
        start = end + 1
    return ranges


def base_key(series: Series) -> str:
    """The series' base in a cache key: package, exact version (or kernel version) and tree hash prefix."""
    base = series.base
    version = (base.package_version or base.version).replace(":", "%3a").replace("~", "_")
    return f"{base.package}_{version}_{base.tree[:12]}"


def job_matrix(series: Series, split: int = 1, lint: bool = True) -> dict[str, Any]:
    """The matrix for ``series``: a lint job, then each fragment's job(s)."""
    if split < 1:
        raise UsageError("--split must be at least 1")
    include: list[dict[str, Any]] = []
    common = {"series": series.name, "base": base_key(series)}
    if lint:
        include.append({"name": "lint", **common, "config": "", "states": "", "lint": True, "args": "--no-build"})
    count = state_count(series)
    for config in series.configs:
        for first, last in split_states(count, split):
            whole = (first, last) == (0, count - 1)
            states = "" if whole else f"{first}..{last}"
            args = f"--no-lint --config {config.name}" + ("" if whole else f" --states {states}")
            include.append({
                "name": config.name if whole else f"{config.name}-{first}-{last}",
                **common, "config": config.name, "states": states, "lint": False, "args": args,
            })  # fmt: skip
    return {"include": include}
