"""``ci merge``: partial verify reports (one per CI job) joined into the report one run over everything gives.

A partial run (``verify --config NAME --states A..B``) says in its scope what it covered; each contributes
only that (a range's warm-up build of the state before it is left out). The merged report is an ordinary
:class:`~patchkit.verify.report.VerifyReport`, so its table, verdict and job summary come from the same
functions as a single run's. Joining is linear in the number of results: the states are indexed once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from patchkit.errors import DataError
from patchkit.verify.report import (
    NOT_LINTED,
    BootCell,
    BootSection,
    BuildCell,
    BuildSection,
    Scope,
    VerifyReport,
)


def find_reports(paths: Iterable[Path]) -> list[Path]:
    """Each path as given when it is a file; each report.json under a directory (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(path.rglob("report.json"))
            if not inside:
                raise DataError(f"{path}: no report.json under this directory")
            found.extend(inside)
        else:
            found.append(path)
    return found


class _Covered:
    """Whether a partial's scope covers a cell (config at state): its configs and its range of states."""

    def __init__(self, index: dict[str, int], scope: Scope) -> None:
        self.index = index
        self.first, self.last = scope.states
        self.configs = set(scope.configs)

    def __call__(self, label: str, config: str) -> bool:
        at = self.index.get(label)
        return at is not None and self.first <= at <= self.last and config in self.configs


def merge(reports: Sequence[tuple[str, VerifyReport]]) -> VerifyReport:
    """Join partial reports (name, report) into the report one run over everything would have written.

    Without --keep-going, a single run stops after the first state that fails to build, so results and
    boots after that state are dropped here too.
    """
    if not reports:
        raise DataError("no reports to merge")
    names = tuple(name for name, _ in reports)
    first_name, first = reports[0]
    for name, other in reports[1:]:
        for key, mine, theirs in (("series", other.series, first.series), ("revision", other.revision, first.revision)):
            if mine != theirs:
                raise DataError(
                    f"{name}: {key} {mine!r} differs from {first_name}'s {theirs!r}; "
                    "only partial runs of the same series data merge"
                )
    stale = next(((name, r) for name, r in reports if not r.branch.matches), None)
    if stale is not None:
        name, bad = stale
        branch = replace(bad.branch, detail=f"{bad.branch.detail} (in {name})")
        return VerifyReport(first.series, first.revision, branch, first.configs, merged_from=names)
    states = [(s.index, s.label, s.commit) for s in first.states]
    for name, other in reports[1:]:
        if [(s.index, s.label, s.commit) for s in other.states] != states:
            raise DataError(f"{name}: its states (commits) differ from {first_name}'s; was the same data applied?")

    index = first.state_index  # the same states in every report: one index for all
    scopes: list[Scope] = []
    for name, partial in reports:
        if partial.scope is None:
            raise DataError(f"{name}: the branch matches the data but the report says nothing ran (no scope)")
        scopes.append(partial.scope)
    lint_report = next((partial for (_, partial), scope in zip(reports, scopes, strict=True) if scope.lint), None)
    builds: dict[tuple[str, str], BuildCell] = {}
    boots: dict[tuple[str, str], BootCell] = {}
    configs_built: set[str] = set()
    ccache = False
    accels: list[str] = []
    for (_, partial), scope in zip(reports, scopes, strict=True):
        if not scope.build or partial.build is None:
            continue
        ccache = ccache or partial.build.ccache
        configs_built.update(scope.configs)
        covered = _Covered(index, scope)
        for result in partial.build.results:
            if covered(result.state, result.config):
                builds.setdefault((result.config, result.state), result)
        boot = partial.boot
        for booted in boot.boots if boot is not None else ():
            if covered(booted.state, booted.config):
                boots.setdefault((booted.config, booted.state), booted)
        if boot is not None and boot.accel and boot.accel not in accels:
            accels.append(boot.accel)
    keep_going = any(s.keep_going for s in scopes)
    failed_at = [index[r.state] for r in builds.values() if not r.ok]
    if failed_at and not keep_going:
        stop = min(failed_at)
        builds = {k: v for k, v in builds.items() if index[k[1]] <= stop}
        boots = {k: v for k, v in boots.items() if index[k[1]] <= stop}
    order = [c.name for c in first.configs if c.name in configs_built]
    column = {config: position for position, config in enumerate(order)}

    def cell_order(key: tuple[str, str]) -> tuple[int, int]:
        config, label = key
        return (index[label], column.get(config, len(order)))

    scope = Scope(
        lint=lint_report is not None,
        build=bool(configs_built),
        boot=any(s.boot for s in scopes),
        configs=tuple(order),
        states=(min(s.states[0] for s in scopes), max(s.states[1] for s in scopes)),
        keep_going=keep_going,
    )
    build = boot_section = None
    if configs_built:
        build = BuildSection(tuple(order), tuple(builds[k] for k in sorted(builds, key=cell_order)), ccache)
        boot_section = BootSection(tuple(boots[k] for k in sorted(boots, key=cell_order)), ", ".join(accels) or None)
    return VerifyReport(
        first.series,
        first.revision,
        first.branch,
        first.configs,
        merged_from=names,
        states=first.states,
        scope=scope,
        lint_summary=(lint_report.lint_summary if lint_report is not None else None) or NOT_LINTED,
        lint=lint_report.lint if lint_report is not None else None,
        build=build,
        boot=boot_section,
    )
