"""``depends:``: the series a series must be applied on top of, as b4 names prerequisites.

A dependency is named by its b4 change-id (and the revision needed), or by its patches' patch-ids.
:func:`resolve` finds what the project knows of each: a series beside this one (``series/*/``) with
that change-id gives the patch-ids recorded for the revision asked for (or of its data, when that is
its current revision). :func:`prerequisite_lines` is what ``format`` writes into the cover's
basement, as b4 writes it: ``prerequisite-change-id: ID:vN`` and one ``prerequisite-patch-id:`` per
patch, which is what b4 looks up to fetch and apply the prerequisites first. ``verify`` checks that
each is below the series' base (:mod:`patchkit.verify.prerequisites`).
"""

from __future__ import annotations

from dataclasses import dataclass

from patchkit.errors import PatchkitError
from patchkit.series import patchids
from patchkit.series.load import SERIES_FILE, load_series
from patchkit.series.model import Dependency, Series


@dataclass(frozen=True)
class Resolved:
    dependency: Dependency
    series: Series | None  # the project's series with that change-id, when it has one
    patch_ids: tuple[str, ...]  # the declared ones, else the ones found; () when unknown
    problem: str | None = None  # why the patch-ids are unknown (None: known)


def resolve(series: Series) -> list[Resolved]:
    """What the project knows of each of ``series``' dependencies, in the order declared."""
    if not series.depends:
        return []
    siblings = _siblings(series) if any(d.change_id for d in series.depends) else {}
    return [_resolve(series, dependency, siblings) for dependency in series.depends]


def _resolve(series: Series, dependency: Dependency, siblings: dict[str, Series]) -> Resolved:
    if not dependency.change_id:
        return Resolved(dependency, None, dependency.patch_ids)
    other = siblings.get(dependency.change_id)
    if other is None:
        if dependency.patch_ids:
            return Resolved(dependency, None, dependency.patch_ids)
        return Resolved(dependency, None, (), f"not a series in {series.directory.parent}")
    wanted = dependency.revision or other.revision
    recorded = other.revision_record(wanted)
    if dependency.patch_ids:
        found = dependency.patch_ids
    elif recorded is not None and recorded.patches:
        found = tuple(p.patch_id for p in recorded.patches)
    elif wanted == other.revision:
        found = tuple(patchids.series_patch_ids(other))
    else:
        return Resolved(dependency, other, (), f"{other.directory / SERIES_FILE} has no record of v{wanted}")
    return Resolved(dependency, other, found)


def _siblings(series: Series) -> dict[str, Series]:
    """The series beside ``series`` by change-id (each loaded once; the first by name wins a change-id)."""
    found: dict[str, Series] = {}
    for candidate in sorted(series.directory.parent.glob(f"*/{SERIES_FILE}")):
        if candidate.parent == series.directory:
            continue
        try:
            other = load_series(candidate.parent)
        except PatchkitError:
            continue  # another series' broken data is that series' problem (its own commands say so)
        if other.change_id:
            found.setdefault(other.change_id, other)
    return found


def prerequisite_lines(resolved: list[Resolved]) -> list[str]:
    """The cover's ``prerequisite-*:`` lines, each once, in the order declared."""
    lines: list[str] = []
    for entry in resolved:
        dependency = entry.dependency
        if dependency.change_id:
            version = f":v{dependency.revision}" if dependency.revision else ""
            lines.append(f"prerequisite-change-id: {dependency.change_id}{version}")
        lines += [f"prerequisite-patch-id: {pid}" for pid in entry.patch_ids]
    return list(dict.fromkeys(lines))
