"""``ci merge``: partial verify reports (one per CI job) joined into the report one run over everything gives.

A partial run (``verify --config NAME --states A..B``) says in its scope what it covered; each contributes
only that (a range's warm-up build of the state before it is left out). The merged report is an ordinary
:class:`~patchkit.verify.report.VerifyReport`, so its table, verdict and job summary come from the same
functions as a single run's. Joining is linear in the number of results: the states are indexed once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
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
            inside = sorted(  # symlinks are not followed: a link loop, or one out of the directory, is not searched
                Path(top) / "report.json" for top, _, names in os.walk(path) if "report.json" in names
            )
            if not inside:
                raise DataError(f"{path}: no report.json under this directory")
            found.extend(inside)
        else:
            found.append(path)
    return found


@dataclass
class _Cells:
    """The build and boot cells the partials covered, first report first, keyed by (config, state label)."""

    index: dict[str, int]  # state label -> index, the same in every report
    builds: dict[tuple[str, str], BuildCell] = field(default_factory=dict)
    boots: dict[tuple[str, str], BootCell] = field(default_factory=dict)
    configs: set[str] = field(default_factory=set)  # the configs some partial built
    ccache: bool = False
    accels: list[str] = field(default_factory=list)

    def add(self, partial: VerifyReport, scope: Scope) -> None:
        """What ``partial`` ran inside its scope (not a range's warm-up build of the state before it)."""
        if not scope.build or partial.build is None:
            return
        self.ccache = self.ccache or partial.build.ccache
        self.configs.update(scope.configs)
        first, last = scope.states
        configs = set(scope.configs)

        def covered(label: str, config: str) -> bool:
            at = self.index.get(label)
            return at is not None and first <= at <= last and config in configs

        for built in partial.build.results:
            if covered(built.state, built.config):
                self.builds.setdefault((built.config, built.state), built)
        boot = partial.boot
        if boot is None:
            return
        for booted in boot.boots:
            if covered(booted.state, booted.config):
                self.boots.setdefault((booted.config, booted.state), booted)
        if boot.accel and boot.accel not in self.accels:
            self.accels.append(boot.accel)

    def stop_after_first_failure(self) -> None:
        """Drop what a single run without --keep-going would not have reached."""
        failed_at = [self.index[b.state] for b in self.builds.values() if not b.ok]
        if failed_at:
            stop = min(failed_at)
            self.builds = {k: v for k, v in self.builds.items() if self.index[k[1]] <= stop}
            self.boots = {k: v for k, v in self.boots.items() if self.index[k[1]] <= stop}

    def sections(self, order: list[str]) -> tuple[BuildSection, BootSection]:
        """The build and boot sections, cells in a single run's order: by state, then config column."""
        column = {config: position for position, config in enumerate(order)}

        def cell_order(key: tuple[str, str]) -> tuple[int, int]:
            config, label = key
            return (self.index[label], column.get(config, len(order)))

        builds = tuple(self.builds[k] for k in sorted(self.builds, key=cell_order))
        boots = tuple(self.boots[k] for k in sorted(self.boots, key=cell_order))
        return BuildSection(tuple(order), builds, self.ccache), BootSection(boots, ", ".join(self.accels) or None)


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
    scopes: list[Scope] = []
    for name, other in reports:
        if [(s.index, s.label, s.commit) for s in other.states] != states:
            raise DataError(f"{name}: its states (commits) differ from {first_name}'s; was the same data applied?")
        if other.scope is None:
            raise DataError(f"{name}: the branch matches the data but the report says nothing ran (no scope)")
        scopes.append(other.scope)

    cells = _Cells(first.state_index)  # the same states in every report: one index for every result
    for (_, partial), scope in zip(reports, scopes, strict=True):
        cells.add(partial, scope)
    keep_going = any(s.keep_going for s in scopes)
    if not keep_going:
        cells.stop_after_first_failure()
    order = [c.name for c in first.configs if c.name in cells.configs]
    build, boot = cells.sections(order) if cells.configs else (None, None)
    linted = next((partial for (_, partial), scope in zip(reports, scopes, strict=True) if scope.lint), None)
    scope = Scope(
        lint=linted is not None,
        build=bool(cells.configs),
        boot=any(s.boot for s in scopes),
        configs=tuple(order),
        states=(min(s.states[0] for s in scopes), max(s.states[1] for s in scopes)),
        keep_going=keep_going,
    )
    return VerifyReport(
        first.series, first.revision, first.branch, first.configs, merged_from=names, states=first.states,
        scope=scope, lint_summary=(linted.lint_summary if linted else None) or NOT_LINTED,
        lint=linted.lint if linted else None, build=build, boot=boot,
        depends=first.depends,  # every part checks the same data against the same base
    )  # fmt: skip
