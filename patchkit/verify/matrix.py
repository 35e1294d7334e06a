"""The CI job matrix: per series, a lint job and one ``verify`` job per kconfig fragment (or range of states).

Printed by ``patchkit ci matrix`` as JSON for GitHub's ``strategy.matrix`` (``{"include": [...]}``); the
shape is ``matrix-schema.json`` beside this file. Each entry names its series, and its ``args`` are
``patchkit verify`` options, so a job runs exactly what a user would type (``patchkit verify SERIES ARGS``);
``patchkit ci merge`` joins the jobs' reports and, given this matrix (``--expect``), checks that every job's
part is there. Exactly one entry per base says ``save_base``: the one job that saves the prepared base tree
to the CI cache (every job restores it; several saving one key would race).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from patchkit.errors import DataError, UsageError
from patchkit.series.model import Series
from patchkit.util import inputfile
from patchkit.util.yamldata import describe_schema_error, format_key_path, package_schema


@cache
def schema() -> dict[str, Any]:
    return package_schema("patchkit.verify", "matrix-schema.json")


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


def _series_jobs(series: Series, split: int, lint: bool) -> list[dict[str, Any]]:
    """One series' entries: a lint job, then each fragment's job(s); ``name`` is the job within the series."""
    jobs: list[dict[str, Any]] = []
    common = {"series": series.name, "base": base_key(series)}
    if lint:
        jobs.append({"name": "lint", **common, "config": "", "states": "", "lint": True, "args": "--no-build"})
    count = state_count(series)
    for config in series.configs:
        for first, last in split_states(count, split):
            whole = (first, last) == (0, count - 1)
            states = "" if whole else f"{first}..{last}"
            args = f"--no-lint --config {config.name}" + ("" if whole else f" --states {states}")
            jobs.append({
                "name": config.name if whole else f"{config.name}-{first}-{last}",
                **common, "config": config.name, "states": states, "lint": False, "args": args,
            })  # fmt: skip
    return jobs


def job_matrix(series: Series | Sequence[Series], split: int = 1, lint: bool = True) -> dict[str, Any]:
    """The matrix for one series or several: each one's lint job, then each fragment's job(s).

    ``name`` is unique in the matrix: the series' name, then the job's (``tdx-lint``, ``tdx-host-0-5``), with a
    number added in the unlikely case that two series' names run together into the same one. The first job
    of each base saves that base's tree (``save_base``).
    """
    if split < 1:
        raise UsageError("--split must be at least 1")
    several = [series] if isinstance(series, Series) else list(series)
    include: list[dict[str, Any]] = []
    names: set[str] = set()
    bases: set[str] = set()
    for one in several:
        for job in _series_jobs(one, split, lint):
            name = f"{one.name}-{job['name']}"
            suffix = 1
            while name in names:
                suffix += 1
                name = f"{one.name}-{job['name']}-{suffix}"
            names.add(name)
            include.append({**job, "name": name, "save_base": job["base"] not in bases})
            bases.add(job["base"])
    return {"include": include}


MAX_MATRIX_BYTES = 16 * 1024 * 1024  # far above any real matrix; a bound on what a bad file costs to read


@dataclass(frozen=True)
class MatrixJob:
    """One entry of a job matrix, as the verify run its ``args`` make (what ``ci merge --expect`` expects of it)."""

    name: str
    series: str
    where: str  # "FILE: include[N]", for messages
    lint: bool
    build: bool
    boot: bool
    configs: tuple[str, ...]  # empty: every config of the series
    states: str | None  # --states A..B, None: every state


def job_of(entry: dict[str, Any], where: str) -> MatrixJob:
    """What ``patchkit verify SERIES ARGS`` runs for one (schema-valid) matrix entry: its stages, configs, states."""
    words = entry["args"].split()
    options: list[tuple[str, str | None]] = []
    for word in words:
        if word.startswith("--"):
            options.append((word, None))
        else:  # the schema allows one value word after an option
            options[-1] = (options[-1][0], word)
    flags = {name for name, value in options if value is None}
    configs = tuple(value for name, value in options if name == "--config" and value is not None)
    states = next((value for name, value in options if name == "--states"), None)
    build = "--no-build" not in flags
    return MatrixJob(entry["name"], entry["series"], where, "--no-lint" not in flags, build,
                     build and "--no-boot" not in flags, configs, states)  # fmt: skip


def read_matrix(path: Path) -> list[MatrixJob]:
    """The jobs of a ``patchkit ci matrix`` output file; anything else is a DataError naming the file and key."""
    where = str(path)
    data = inputfile.read_json(
        path, MAX_MATRIX_BYTES, missing="no such job matrix (the output of 'patchkit ci matrix')"
    )
    errors = list(jsonschema.Draft202012Validator(schema()).iter_errors(data))
    if errors:
        key_path, why = describe_schema_error(errors[0])
        raise DataError(f"{where}: {format_key_path(key_path)}: {why}")
    jobs = [job_of(entry, f"{where}: include[{n}]") for n, entry in enumerate(data["include"])]
    seen: dict[str, str] = {}
    for job in jobs:
        if job.name in seen:
            raise DataError(f"{job.where}.name: {job.name!r} names two jobs (also {seen[job.name]})")
        seen[job.name] = job.where
    return jobs
