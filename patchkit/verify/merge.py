"""``ci merge``: partial verify reports (one per CI job) joined into the report one run over everything gives.

A partial run (``verify --config NAME --states A..B``) says in its scope what it covered; each contributes
only that (a range's warm-up build of the state before it is left out). The merged report is an ordinary
:class:`~patchkit.verify.report.VerifyReport`, so its table, verdict and job summary come from the same
functions as a single run's. Joining is linear in the number of results: the states are indexed once.

Coverage: the partials together must cover what one run over everything covers (lint, every config built at
every state, every booting config booted at the series' end: each report carries the series' configs and
states), or what the jobs of a matrix ask for (``--expect``, the output of ``ci matrix``). Every part none of
them covered is named in the merged report's ``coverage`` and fails it (exit 1): a job that never reported
cannot pass. Two reports that give one part opposite verdicts are an error naming both (invalid data, exit 3).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from patchkit.errors import DataError, ExitCode, UsageError
from patchkit.verify.matrix import MatrixJob
from patchkit.verify.plan import parse_states
from patchkit.verify.report import (
    BOOT,
    BUILD,
    LINT,
    NOT_LINTED,
    BootCell,
    BootSection,
    BuildCell,
    BuildSection,
    Cell,
    Coverage,
    Scope,
    Verdict,
    VerifyReport,
)

WHOLE_SERIES = "the series' configs and states"
Key = tuple[str, str | None, int | None]  # (stage, config, state index): one part of a run


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
    origin: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (stage, config, state) -> report

    def _keep(self, stage: str, key: tuple[str, str], verdict: str, name: str, kept_verdict: str | None) -> bool:
        """Whether this report's cell is the first for ``key``; the same verdict again is fine, another is not."""
        if kept_verdict is None:
            self.origin[(stage, *key)] = name
            return True
        if kept_verdict != verdict:
            config, state = key
            raise DataError(
                f"{name}: {stage} {config} at {state}: {verdict}, but {kept_verdict} in {self.origin[(stage, *key)]}; "
                "conflicting verdicts for one part (were both runs of the same data, with the same settings?)"
            )
        return False

    def add(self, name: str, partial: VerifyReport, scope: Scope) -> None:
        """What ``partial`` ran inside its scope (not a range's warm-up build of the state before it).

        Its logs and consoles are relative to its own results directory, where its report.json is: in the merged
        report they are prefixed with that directory as given (``results/patchkit-tdx-host/build/...``).
        """
        if not scope.build or partial.build is None:
            return
        beside = Path(name).parent
        self.ccache = self.ccache or partial.build.ccache
        self.configs.update(scope.configs)
        first, last = scope.states
        configs = set(scope.configs)

        def covered(label: str, config: str) -> bool:
            at = self.index.get(label)
            return at is not None and first <= at <= last and config in configs

        for built in partial.build.results:
            if covered(built.state, built.config):
                key = (built.config, built.state)
                kept = self.builds.get(key)
                if self._keep(BUILD, key, built.status, name, kept.status if kept else None):
                    self.builds[key] = replace(built, log=str(beside / built.log))
        boot = partial.boot
        if boot is None:
            return
        for booted in boot.boots:
            if covered(booted.state, booted.config):
                key = (booted.config, booted.state)
                was = self.boots.get(key)
                if self._keep(BOOT, key, _boot_verdict(booted), name, _boot_verdict(was) if was else None):
                    self.boots[key] = replace(booted, console=str(beside / booted.console))
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


def _boot_verdict(boot: BootCell) -> str:
    return "booted" if boot.ok else "did not boot"


def by_series(reports: Sequence[tuple[str, VerifyReport]]) -> dict[str, list[tuple[str, VerifyReport]]]:
    """The reports of each series, series and reports in the order given (a workflow run may verify several)."""
    grouped: dict[str, list[tuple[str, VerifyReport]]] = {}
    for name, report in reports:
        grouped.setdefault(report.series, []).append((name, report))
    return grouped


def _expected(report: VerifyReport, jobs: Sequence[MatrixJob] | None) -> dict[Key, str | None]:
    """Each part the partials must cover together, and the matrix job that was to cover it (None: no matrix)."""
    states = list(report.states)
    indexes = {state.index for state in states}
    end = states[-1].index
    everything = tuple(c.name for c in report.configs)
    expected: dict[Key, str | None] = {}
    for job in jobs if jobs is not None else [None]:
        name = job.name if job is not None else None
        if job is None:
            lint, build, boot, configs, first, last = True, True, True, everything, 0, end
        else:
            unknown = [c for c in job.configs if c not in everything]
            if unknown:
                raise DataError(f"{job.where}.args: --config {unknown[0]}: series {report.series} has no such config "
                                f"(its reports name: {', '.join(everything)})")  # fmt: skip
            try:
                first, last = parse_states(job.states, states) if job.states else (0, end)
            except UsageError as exc:
                raise DataError(f"{job.where}.args: {exc.message}") from None
            lint, build, boot, configs = job.lint, job.build, job.boot, job.configs or everything
        for key in _parts(report, lint, build, boot, configs, (first, last)):
            if key[0] != BUILD or key[2] in indexes:
                expected.setdefault(key, name)
    return expected


def _parts(
    report: VerifyReport, lint: bool, build: bool, boot: bool, configs: Iterable[str], states: tuple[int, int]
) -> Iterator[Key]:
    """The parts a run of these stages, configs and states covers: each config built at each state of the range
    (only the range: linear in what it covers), booted when the range ends at the series' end and it boots."""
    if lint:
        yield (LINT, None, None)
    if not build:
        return
    first, last = states
    end = report.states[-1].index
    boots = {c.name for c in report.configs if c.boots}
    for config in configs:
        for index in range(first, last + 1):
            yield (BUILD, config, index)
        if boot and last == end and config in boots:
            yield (BOOT, config, end)


def coverage(
    first: VerifyReport, scopes: Sequence[tuple[VerifyReport, Scope]], jobs: Sequence[MatrixJob] | None, against: str
) -> Coverage:
    """What no partial covered of what was expected, lint first, then by stage, config and state."""
    expected = _expected(first, jobs)
    for partial, scope in scopes:
        # what a partial covered, as its scope says (the cells it holds are in them)
        for key in _parts(partial, scope.lint, scope.build, scope.boot, scope.configs, scope.states):
            expected.pop(key, None)
    column = {c.name: n for n, c in enumerate(first.configs)}
    rank = {LINT: 0, BUILD: 1, BOOT: 2}
    label = {s.index: s.label for s in first.states}

    def order(key: Key) -> tuple[int, int, int]:
        stage, config, index = key
        return (rank[stage], column.get(config or "", -1), -1 if index is None else index)

    missing = tuple(
        Cell(stage, config, None if index is None else label[index], expected[(stage, config, index)])
        for stage, config, index in sorted(expected, key=order)
    )
    return Coverage(against, missing)


def merge(
    reports: Sequence[tuple[str, VerifyReport]], jobs: Sequence[MatrixJob] | None = None, against: str = WHOLE_SERIES
) -> VerifyReport:
    """Join partial reports (name, report) into the report one run over everything would have written.

    Without --keep-going, a single run stops after the first state that fails to build, so results and
    boots after that state are dropped here too. ``jobs`` (a matrix's, ``against`` naming it): what the
    partials must cover together; without, what one run over the whole series covers.
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
    for (name, partial), scope in zip(reports, scopes, strict=True):
        cells.add(name, partial, scope)
    if jobs is not None:
        jobs = [job for job in jobs if job.series == first.series]
    covered = coverage(first, [(partial, scope) for (_, partial), scope in zip(reports, scopes, strict=True)],
                       jobs, against)  # fmt: skip
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
        coverage=covered,
    )  # fmt: skip


@dataclass(frozen=True)
class SeriesMerge:
    """One series' part of a ``ci merge``: its merged report, or the matrix jobs of a series no report is of."""

    series: str
    report: VerifyReport | None
    jobs: tuple[str, ...] = ()  # the series' jobs in the matrix, named when none of them reported

    @property
    def verdict(self) -> Verdict:
        if self.report is not None:
            return self.report.verdict
        return Verdict(
            int(ExitCode.FINDINGS), f"FAILED: no report of series {self.series} (jobs: {', '.join(self.jobs)})"
        )


def merge_all(
    reports: Sequence[tuple[str, VerifyReport]], jobs: Sequence[MatrixJob] | None = None, matrix: str = ""
) -> list[SeriesMerge]:
    """Each series' reports merged; with ``jobs`` (the matrix file ``matrix``'s), every series of the matrix, and
    no report of another (a report the plan does not know is invalid data, exit 3)."""
    grouped = by_series(reports)
    planned = list(dict.fromkeys(job.series for job in jobs)) if jobs is not None else list(grouped)
    for series, of_series in grouped.items():
        if series not in planned:
            raise DataError(
                f"{of_series[0][0]}: series {series!r} is not in {matrix} (its series: {', '.join(planned)})"
            )
    against = f"the jobs of {matrix}" if jobs is not None else WHOLE_SERIES
    merged: list[SeriesMerge] = []
    for series in planned:
        if series in grouped:
            merged.append(SeriesMerge(series, merge(grouped[series], jobs, against)))
        else:
            merged.append(SeriesMerge(series, None, tuple(j.name for j in jobs or () if j.series == series)))
    return merged


_PRECEDENCE = (ExitCode.BUILD, ExitCode.BOOT, ExitCode.FINDINGS)  # verify's own order


def combined_verdict(merges: Sequence[SeriesMerge]) -> Verdict:
    """The verdict of a merge of several series: the first by verify's precedence (a build failure, a boot
    failure, any other), naming its series when there are several; passed when every series passed."""
    verdicts = [(m.series, m.verdict) for m in merges]
    failed = sum(1 for _, verdict in verdicts if verdict.code != ExitCode.OK)
    for code in _PRECEDENCE:
        series, verdict = next(((s, v) for s, v in verdicts if v.code == code), ("", None))
        if verdict is not None:
            if len(verdicts) == 1:
                return verdict
            return Verdict(verdict.code, f"{verdict.text} (series {series}; {failed} of {len(verdicts)} failed)")
    return Verdict(int(ExitCode.OK), "passed")
