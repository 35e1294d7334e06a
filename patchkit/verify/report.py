"""verify's report, typed: what a run (or ``ci merge`` of partial runs) found, and its table, verdict and Markdown.

:class:`VerifyReport` is ``report.json`` as a value: ``to_json()`` writes it and
``VerifyReport.from_json(data, where)`` reads it back, checked against
``report-schema.json`` beside this module (draft 2020-12) and then for the
references inside it (a result names a state and a config of the report); a
report that is wrong in any way is a :class:`~patchkit.errors.DataError`
naming the file and the key path, never a crash. The verdict and exit code
follow from the report alone (:attr:`VerifyReport.verdict`, computed once per
report), so a single run and a merge of partial runs get them from the same
function, as they do the table and the job summary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Self

import jsonschema

from patchkit.apply.states import BranchState, State
from patchkit.errors import DataError, ExitCode
from patchkit.util import inputfile
from patchkit.util.yamldata import KeyPath, describe_schema_error, format_key_path, one_line, package_schema
from patchkit.verify.prerequisites import FAILING, PRESENT, DependencyCheck

FORMAT = 1
MAX_REPORT_BYTES = 64 * 1024 * 1024  # far above any real report; a bound on what a bad artifact costs to read
Json = dict[str, Any]


@cache
def _validator(definition: str | None) -> jsonschema.Draft202012Validator:
    schema = package_schema("patchkit.verify", "report-schema.json")
    if definition is not None:  # one part of the report, checked on its own
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema)


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For ``boot: object or null``, the error inside the object rather than 'not null'."""
    while error.context:
        inside = [e for e in error.context if not (e.validator == "type" and e.path == error.path)]
        if not inside:
            break
        error = inside[0]
    return error


def _check_schema(data: Any, where: str, definition: str | None = None) -> None:
    """``data`` against the report schema (or one of its ``$defs``); the first error as ``where: key.path: why``."""
    errors = list(_validator(definition).iter_errors(data))
    if not errors:
        return
    error = _deepest(errors[0])
    key_path, why = describe_schema_error(error)
    instance, wanted = error.instance, error.validator_value
    if isinstance(instance, dict) and error.validator == "required" and isinstance(wanted, list):
        missing = [key for key in wanted if key not in instance]
        key_path, why = (*key_path, missing[0]), "missing (a verify report always has it)"
    elif isinstance(instance, dict) and error.validator == "dependentRequired" and isinstance(wanted, dict):
        key, missing = next((k, [d for d in deps if d not in instance]) for k, deps in wanted.items()
                            if k in instance and any(d not in instance for d in deps))  # fmt: skip
        key_path, why = (*key_path, missing[0]), f"missing (a verify report with {key!r} has it)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise DataError(f"{where}: {format_key_path(key_path)}: {why}{more}")


class _Part:
    """A part of the report: ``from_json`` checks it against its schema definition, then reads it."""

    DEFINITION: ClassVar[str]

    @classmethod
    def from_json(cls, data: Any, where: str) -> Self:
        _check_schema(data, where, cls.DEFINITION)
        return cls.read(data)

    @classmethod
    def read(cls, data: Json) -> Self:  # pragma: no cover - every part has its own
        raise NotImplementedError


@dataclass(frozen=True)
class BranchCheck(_Part):
    """The series' branch checked against the data; nothing else runs when it does not match."""

    DEFINITION: ClassVar[str] = "branch"
    name: str
    matches: bool
    detail: str

    @classmethod
    def of(cls, branch: BranchState) -> BranchCheck:
        return cls(branch.branch, branch.matches, branch.detail)

    def to_json(self) -> Json:
        return {"name": self.name, "matches": self.matches, "detail": self.detail}

    @classmethod
    def read(cls, data: Json) -> Self:
        return cls(data["name"], data["matches"], data["detail"])


@dataclass(frozen=True)
class SeriesConfig(_Part):
    """A kconfig fragment of the series, and whether it boots."""

    DEFINITION: ClassVar[str] = "config"
    name: str
    boots: bool = True

    def to_json(self) -> Json:
        return {"name": self.name, "boot": self.boots}

    @classmethod
    def read(cls, data: Json) -> Self:
        return cls(data["name"], data["boot"])


def _state_to_json(state: State) -> Json:
    return {"index": state.index, "label": state.label, "subject": state.subject, "patch": state.patch_number,
            "commit": state.commit}  # fmt: skip


def _state_read(data: Json) -> State:
    patch = data["patch"]
    return State(
        int(data["index"]), data["label"], data["commit"], data["subject"], None if patch is None else int(patch)
    )


@dataclass(frozen=True)
class Scope(_Part):
    """What a run covered (a partial run is one job of a CI matrix)."""

    DEFINITION: ClassVar[str] = "scope"
    lint: bool
    build: bool
    boot: bool
    configs: tuple[str, ...]
    states: tuple[int, int]  # first and last state index
    keep_going: bool = False

    def to_json(self) -> Json:
        return {"lint": self.lint, "build": self.build, "boot": self.boot, "configs": list(self.configs),
                "states": list(self.states), "keep_going": self.keep_going}  # fmt: skip

    @classmethod
    def read(cls, data: Json) -> Self:
        first, last = data["states"]
        return cls(data["lint"], data["build"], data["boot"], tuple(data["configs"]), (int(first), int(last)),
                   data["keep_going"])  # fmt: skip


@dataclass(frozen=True)
class LintSummary(_Part):
    """Lint's verdict in the report: the table's cells and the one-line summary (the findings are in ``lint``)."""

    DEFINITION: ClassVar[str] = "lint_summary"
    ran: bool
    failed: bool = False
    summary: str = ""  # the one-line summary, or why lint did not run
    per_patch: Mapping[int, str] = field(default_factory=dict)  # patch number -> cell, for patches with findings

    def to_json(self) -> Json:
        return {"ran": self.ran, "failed": self.failed, "summary": self.summary,
                "per_patch": {str(n): cell for n, cell in sorted(self.per_patch.items())}}  # fmt: skip

    @classmethod
    def read(cls, data: Json) -> Self:
        per_patch = {int(n): cell for n, cell in data["per_patch"].items()}
        return cls(data["ran"], data["failed"], data["summary"], per_patch)


NOT_LINTED = LintSummary(False)


@dataclass(frozen=True)
class DependsCheck(_Part):
    """One ``depends:`` entry checked against the base (:mod:`patchkit.verify.prerequisites`)."""

    DEFINITION: ClassVar[str] = "depends_check"
    dependency: str  # the dependency as the data names it (change-id and revision, or its patch-ids)
    change_id: str | None
    revision: int | None
    status: str  # present, missing, unknown (its patch-ids cannot be known) or cannot check
    detail: str  # one line for humans, starting with what was found

    @classmethod
    def of(cls, check: DependencyCheck) -> DependsCheck:
        dependency = check.dependency
        return cls(dependency.label(), dependency.change_id or None, dependency.revision or None, check.status,
                   check.detail)  # fmt: skip

    @property
    def failed(self) -> bool:
        return self.status in FAILING

    def to_json(self) -> Json:
        return {"dependency": self.dependency, "change_id": self.change_id, "revision": self.revision,
                "status": self.status, "failed": self.failed, "detail": self.detail}  # fmt: skip

    @classmethod
    def read(cls, data: Json) -> Self:
        # "failed" is not read: it follows from the status (the schema refuses a report where it does not)
        revision = data["revision"]
        return cls(data["dependency"], data["change_id"], None if revision is None else int(revision),
                   data["status"], data["detail"])  # fmt: skip


@dataclass(frozen=True)
class BuildCell(_Part):
    """One config built at one state (a cell of the table)."""

    DEFINITION: ClassVar[str] = "build_result"
    config: str
    state: str  # the state's label
    commit: str
    status: str  # "ok" or "failed"
    seconds: float
    log: str
    new_warnings: tuple[str, ...] = ()
    error: str = ""  # the first error line
    excerpt: str = ""  # the compiler's explanation, a few lines
    reconfigured: bool = False
    cached: str | None = None  # when and where the verdict was computed, when it came from the cache

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> Json:
        return {
            "config": self.config, "state": self.state, "commit": self.commit, "status": self.status,
            "seconds": round(self.seconds, 2), "reconfigured": self.reconfigured,
            "new_warnings": list(self.new_warnings), "error": self.error, "excerpt": self.excerpt, "log": self.log,
            "cached": self.cached,
        }  # fmt: skip

    @classmethod
    def read(cls, data: Json) -> Self:
        return cls(
            data["config"], data["state"], data["commit"], data["status"], float(data["seconds"]), data["log"],
            tuple(data["new_warnings"]), data["error"], data["excerpt"], data["reconfigured"], data["cached"],
        )  # fmt: skip


@dataclass(frozen=True)
class BuildSection(_Part):
    DEFINITION: ClassVar[str] = "build"
    configs: tuple[str, ...]  # the configs built, in the table's column order
    results: tuple[BuildCell, ...] = ()
    ccache: bool = False

    def to_json(self) -> Json:
        return {"ccache": self.ccache, "configs": list(self.configs), "results": [r.to_json() for r in self.results]}

    @classmethod
    def read(cls, data: Json) -> Self:
        return cls(tuple(data["configs"]), tuple(BuildCell.read(r) for r in data["results"]), data["ccache"])


@dataclass(frozen=True)
class BootCell(_Part):
    """One config booted at one state (a cell of the table)."""

    DEFINITION: ClassVar[str] = "boot_result"
    config: str
    state: str  # the state's label
    ok: bool
    reason: str
    console: str  # the console log's path
    accel: str = "tcg"
    excerpt: str = ""
    seconds: float = 0.0
    cmdline: str = ""
    cached: str | None = None

    def to_json(self) -> Json:
        return {
            "config": self.config, "state": self.state, "accel": self.accel, "ok": self.ok, "reason": self.reason,
            "excerpt": self.excerpt, "console": self.console, "seconds": round(self.seconds, 2),
            "cmdline": self.cmdline, "cached": self.cached,
        }  # fmt: skip

    @classmethod
    def read(cls, data: Json) -> Self:
        return cls(
            data["config"], data["state"], data["ok"], data["reason"], data["console"], data["accel"], data["excerpt"],
            float(data["seconds"]), data["cmdline"], data["cached"],
        )  # fmt: skip


@dataclass(frozen=True)
class BootSection(_Part):
    DEFINITION: ClassVar[str] = "boot"
    boots: tuple[BootCell, ...] = ()
    accel: str | None = None  # kvm or tcg (merged: each one used)
    accel_why: str | None = None

    def to_json(self) -> Json:
        return {"accel": self.accel, "accel_why": self.accel_why, "boots": [b.to_json() for b in self.boots]}

    @classmethod
    def read(cls, data: Json) -> Self:
        return cls(tuple(BootCell.read(b) for b in data["boots"]), data["accel"], data.get("accel_why"))


LINT, BUILD, BOOT = "lint", "build", "boot"


@dataclass(frozen=True)
class Cell(_Part):
    """One part of a verify run: lint, or one config built or booted at one state (``ci merge``'s coverage)."""

    DEFINITION: ClassVar[str] = "cell"
    stage: str  # lint, build or boot
    config: str | None = None  # None for lint
    state: str | None = None  # the state's label; None for lint
    job: str | None = None  # the matrix job that was to cover it (ci merge --expect)

    def to_json(self) -> Json:
        return {"stage": self.stage, "config": self.config, "state": self.state, "job": self.job}

    @classmethod
    def read(cls, data: Json) -> Self:
        return cls(data["stage"], data["config"], data["state"], data["job"])


@dataclass(frozen=True)
class Coverage(_Part):
    """What partial reports had to cover together (ci merge), and every part none of them covered."""

    DEFINITION: ClassVar[str] = "coverage"
    expected: str  # "the series' configs and states", or the matrix file given to --expect
    missing: tuple[Cell, ...] = ()

    def to_json(self) -> Json:
        return {"expected": self.expected, "missing": [cell.to_json() for cell in self.missing]}

    @classmethod
    def read(cls, data: Json) -> Self:
        return cls(data["expected"], tuple(Cell.read(c) for c in data["missing"]))


def describe_cells(cells: tuple[Cell, ...] | list[Cell], state_index: Mapping[str, int]) -> str:
    """Cells as one line, every one named: runs of consecutive states of one stage, config and job as a range
    (``lint; build host at patch 6..overlay (job tdx-host-6-11); boot host at overlay``)."""
    parts: list[str] = []
    run: list[Cell] = []

    def close() -> None:
        if not run:
            return
        first, last = run[0], run[-1]
        where = first.state if first is last else f"{first.state}..{last.state}"
        text = LINT if first.stage == LINT else f"{first.stage} {first.config} at {where}"
        parts.append(text + (f" (job {first.job})" if first.job else ""))
        run.clear()

    for cell in cells:
        previous = run[-1] if run else None
        joins = (
            previous is not None
            and cell.stage != LINT
            and (previous.stage, previous.config, previous.job) == (cell.stage, cell.config, cell.job)
            and state_index.get(cell.state or "", -2) == state_index.get(previous.state or "", -9) + 1
        )
        if not joins:
            close()
        run.append(cell)
    close()
    return "; ".join(parts)


class Verdict(NamedTuple):
    """verify's exit code and its one line: 5 build, else 6 boot, else 1 branch, lint or depends, else 0."""

    code: int
    text: str


@dataclass(frozen=True)
class VerifyReport:
    """What ``report.json`` says: the series, the branch check and, when it matched, what ran and what it found."""

    series: str
    revision: int
    branch: BranchCheck
    configs: tuple[SeriesConfig, ...]  # every config of the series
    results: str | None = None  # the run's results directory (None: a merged report)
    merged_from: tuple[str, ...] | None = None  # the partial reports a merge joined
    states: tuple[State, ...] = ()  # empty when nothing ran (the branch does not match the data)
    scope: Scope | None = None
    lint_summary: LintSummary | None = None
    lint: Mapping[str, Any] | None = None  # lint's own JSON report, passed through
    build: BuildSection | None = None
    boot: BootSection | None = None  # None with a build: built but not booted
    depends: tuple[DependsCheck, ...] | None = None  # None: not checked (the branch does not match the data)
    coverage: Coverage | None = None  # ci merge: what the partials had to cover, and what none of them did

    @cached_property
    def verdict(self) -> Verdict:
        """The exit code and the one-line verdict, computed once per report."""
        if not self.branch.matches:
            return Verdict(int(ExitCode.FINDINGS), "FAILED (branch)")
        failure = first_build_failure(self)
        if failure is not None:
            return Verdict(int(ExitCode.BUILD), f"FAILED: {failure.state} does not build (config {failure.config})")
        bad = first_boot_failure(self)
        if bad is not None:
            return Verdict(
                int(ExitCode.BOOT), f"FAILED: config {bad.config} at {bad.state} did not boot ({bad.reason})"
            )
        if self.coverage is not None and self.coverage.missing:
            return Verdict(int(ExitCode.FINDINGS), f"FAILED: not covered by any report: {self.missing_text}")
        if self.lint_summary is not None and self.lint_summary.failed:
            return Verdict(int(ExitCode.FINDINGS), f"FAILED: lint ({self.lint_summary.summary})")
        missing = next((check for check in self.depends or () if check.failed), None)
        if missing is not None:
            return Verdict(int(ExitCode.FINDINGS), f"FAILED: depends ({missing.dependency}: {missing.detail})")
        return Verdict(int(ExitCode.OK), "passed")

    @cached_property
    def missing_text(self) -> str:
        """Every part of the run no partial report covered, in one line (empty when all were)."""
        return describe_cells(self.coverage.missing, self.state_index) if self.coverage is not None else ""

    @cached_property
    def state_by_label(self) -> dict[str, State]:
        return {s.label: s for s in self.states}

    @cached_property
    def state_index(self) -> dict[str, int]:
        """Each state's label to its index (built once: merge and the verdict look states up per result)."""
        return {s.label: s.index for s in self.states}

    def to_json(self) -> Json:
        """The ``report.json`` data, verdict and exit code included."""
        data: Json = {"format": FORMAT, "series": self.series, "revision": self.revision}
        if self.results is not None:
            data["results"] = self.results
        if self.merged_from is not None:
            data["merged_from"] = list(self.merged_from)
        data["branch"] = self.branch.to_json()
        data["configs"] = [c.to_json() for c in self.configs]
        if self.states or self.scope is not None:
            data["states"] = [_state_to_json(s) for s in self.states]
        if self.scope is not None:
            data["scope"] = self.scope.to_json()
        if self.lint_summary is not None:
            data["lint_summary"] = self.lint_summary.to_json()
        if self.lint is not None:
            data["lint"] = dict(self.lint)
        if self.depends is not None:
            data["depends"] = [check.to_json() for check in self.depends]
        if self.build is not None:
            data["build"] = self.build.to_json()
            data["boot"] = self.boot.to_json() if self.boot is not None else None
        if self.coverage is not None:
            data["coverage"] = self.coverage.to_json()
        data["verdict"], data["exit_code"] = self.verdict.text, self.verdict.code
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> VerifyReport:
        """A report from ``report.json`` data; anything wrong is a DataError naming ``where`` and the key path.

        The verdict and exit code in the data are not read: they follow from the rest.
        """
        if isinstance(data, dict) and "format" in data and data["format"] != FORMAT:
            raise DataError(
                f"{where}: format: {one_line(repr(data['format']))} is not a report format this patchkit reads "
                f"({FORMAT}); was it written by another version?"
            )
        _check_schema(data, where)
        build, boot = data.get("build"), data.get("boot")
        report = cls(
            series=data["series"],
            revision=int(data["revision"]),
            branch=BranchCheck.read(data["branch"]),
            configs=tuple(SeriesConfig.read(c) for c in data["configs"]),
            results=data.get("results"),
            merged_from=tuple(data["merged_from"]) if "merged_from" in data else None,
            states=tuple(_state_read(s) for s in data.get("states", [])),
            scope=Scope.read(data["scope"]) if "scope" in data else None,
            lint_summary=LintSummary.read(data["lint_summary"]) if "lint_summary" in data else None,
            lint=data.get("lint"),
            build=BuildSection.read(build) if build is not None else None,
            boot=BootSection.read(boot) if boot is not None else None,
            depends=tuple(DependsCheck.read(d) for d in data["depends"]) if "depends" in data else None,
            coverage=Coverage.read(data["coverage"]) if "coverage" in data else None,
        )
        _check_references(report, where)
        return report


def _check_references(report: VerifyReport, where: str) -> None:
    """What the schema cannot say: states are unique, and every name in the report is one of its states or configs."""

    def refuse(key_path: KeyPath, why: str) -> DataError:
        return DataError(f"{where}: {format_key_path(key_path)}: {why}")

    labels: dict[str, int] = {}
    indexes: set[int] = set()
    for position, state in enumerate(report.states):
        if state.label in labels:
            raise refuse(("states", position, "label"), f"{one_line(repr(state.label))} names two states")
        if state.index in indexes:
            raise refuse(("states", position, "index"), f"{state.index} is the index of two states")
        labels[state.label] = state.index
        indexes.add(state.index)
    configs = {c.name: c for c in report.configs}
    if len(configs) != len(report.configs):
        raise refuse(("configs",), "a config is named twice")

    def known(key_path: KeyPath, value: str, names: Mapping[str, object], what: str) -> None:
        if value not in names:
            shown = one_line(", ".join(names), 80) or "none"  # in the report's order
            raise refuse(key_path, f"{one_line(repr(value))} is not {what} of this report ({shown})")

    if report.scope is not None:
        for position, name in enumerate(report.scope.configs):
            known(("scope", "configs", position), name, configs, "a config")
        first, last = report.scope.states
        if not (first <= last and {first, last} <= indexes):
            raise refuse(("scope", "states"), f"[{first}, {last}] is not a range of this report's state indexes")
    if report.build is not None:
        for position, name in enumerate(report.build.configs):
            known(("build", "configs", position), name, configs, "a config")
        for position, result in enumerate(report.build.results):
            known(("build", "results", position, "state"), result.state, labels, "a state")
            known(("build", "results", position, "config"), result.config, configs, "a config")
    if report.boot is not None:
        for position, boot in enumerate(report.boot.boots):
            known(("boot", "boots", position, "state"), boot.state, labels, "a state")
            known(("boot", "boots", position, "config"), boot.config, configs, "a config")
    if report.coverage is not None:
        for position, cell in enumerate(report.coverage.missing):
            if cell.stage != LINT:
                known(("coverage", "missing", position, "state"), cell.state or "", labels, "a state")
                known(("coverage", "missing", position, "config"), cell.config or "", configs, "a config")


def read_report(path: Path) -> VerifyReport:
    """A report.json, or a directory holding one; anything but a readable, valid report is a DataError."""
    target = path / "report.json" if path.is_dir() else path
    data = inputfile.read_json(
        target, MAX_REPORT_BYTES, missing="no such report (verify writes report.json into its results directory)"
    )
    return VerifyReport.from_json(data, str(target))


def built_configs(report: VerifyReport) -> tuple[str, ...]:
    return report.build.configs if report.build is not None else ()


def boot_configs(report: VerifyReport) -> list[str]:
    """Configs with a boot column: booting ran and the config boots."""
    if report.scope is None or not report.scope.boot or report.build is None:
        return []
    boots = {c.name for c in report.configs if c.boots}
    return [c for c in built_configs(report) if c in boots]


def _first(report: VerifyReport, items: list[BuildCell] | list[BootCell]) -> Any:
    """The item of the earliest state, then of the first config in the table's order."""
    index = report.state_index
    column = {c: i for i, c in enumerate(built_configs(report))}
    return min(
        items, key=lambda item: (index.get(item.state, 1 << 30), column.get(item.config, len(column))), default=None
    )


def first_build_failure(report: VerifyReport) -> BuildCell | None:
    failed = [r for r in report.build.results if not r.ok] if report.build is not None else []
    first: BuildCell | None = _first(report, failed)
    return first


def first_boot_failure(report: VerifyReport) -> BootCell | None:
    failed = [b for b in report.boot.boots if not b.ok] if report.boot is not None else []
    first: BootCell | None = _first(report, failed)
    return first


def depends_summary(report: VerifyReport) -> str | None:
    """The ``depends:`` line: FAILED, cannot check or ok, then each dependency's finding (None: none declared)."""
    if not report.depends:
        return None
    checks = report.depends
    if any(c.failed for c in checks):
        head = "FAILED"
    elif all(c.status == PRESENT for c in checks):
        head = "ok"
    else:
        head = "cannot check"
    return f"{head} (" + "; ".join(f"{c.dependency}: {c.detail}" for c in checks) + ")"


def verdict(report: VerifyReport) -> Verdict:
    """The exit code and the one-line verdict (:attr:`VerifyReport.verdict`)."""
    return report.verdict


_CACHED_MARK = " (c)"


def table(report: VerifyReport) -> tuple[list[str], list[list[str]]]:
    """Headers and one row per state: state, lint, build per config, boot per config, subject."""
    configs = built_configs(report)
    booting = boot_configs(report)
    lint = report.lint_summary or NOT_LINTED
    builds = {(r.config, r.state): r for r in report.build.results} if report.build is not None else {}
    boots = {(b.config, b.state): b for b in report.boot.boots} if report.boot is not None else {}
    headers = ["state", "lint", *(f"build:{c}" for c in configs), *(f"boot:{c}" for c in booting), "subject"]
    rows: list[list[str]] = []
    for state in report.states:
        label = state.label
        row = [label]
        if not lint.ran:
            row.append("-")
        elif state.patch_number is None:
            row.append("")
        else:
            row.append(lint.per_patch.get(state.patch_number, "ok"))
        for config in configs:
            result = builds.get((config, label))
            if result is None:
                row.append("-")
            elif result.ok:
                warnings = len(result.new_warnings)
                row.append((f"ok +{warnings}w" if warnings else "ok") + _CACHED_MARK * bool(result.cached))
            else:
                row.append("FAIL" + _CACHED_MARK * bool(result.cached))
        for config in booting:
            boot = boots.get((config, label))
            cell = "" if boot is None else ("ok" if boot.ok else "FAIL")
            row.append(cell + _CACHED_MARK * bool(boot and boot.cached))
        row.append(state.subject[:60])
        rows.append(row)
    return headers, rows


def text_table(report: VerifyReport) -> list[str]:
    """The summary table's lines: a row per state, a column per stage and config."""
    headers, rows = table(report)
    if not rows:
        return ["  ".join(headers)]
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if any(_CACHED_MARK in cell for row in rows for cell in row):
        lines.append(f"({_CACHED_MARK.strip()}: verdict from the cache; when and where it was computed: report.json)")
    return lines


def explanation(report: VerifyReport) -> list[str]:
    """The first build and boot failure again, for the end of the output, where the eye lands."""
    lines: list[str] = []
    failure = first_build_failure(report)
    if failure is not None:
        state = report.state_by_label.get(failure.state)
        subject = f" ({state.subject})" if state is not None and state.subject else ""
        lines.append(f"first failing state: {failure.state}{subject}, config {failure.config}:")
        lines += [f"  | {line}" for line in failure.excerpt.splitlines()]
        lines.append(f"  log: {_where(report, failure.log)}")
    bad = first_boot_failure(report)
    if bad is not None:
        lines.append(f"boot failure: config {bad.config} at {bad.state}: {bad.reason}")
        lines += [f"  | {line}" for line in bad.excerpt.splitlines()]
        lines.append(f"  console: {_where(report, bad.console)}")
    return lines


def _where(report: VerifyReport, path: str) -> str:
    """A log or console of the report where a person finds it: report.json keeps it relative to the results."""
    return str(Path(report.results) / path) if report.results is not None else path


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md_cell(text: str) -> str:
    """Text shown as itself in a Markdown table cell (subjects hold ``__tdcall()`` and such)."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;").replace(">", "&gt;")


def markdown(report: VerifyReport, title: str | None = None) -> str:
    """The table and verdict as GitHub-flavoured Markdown, for ``$GITHUB_STEP_SUMMARY``."""
    code, verdict_text = report.verdict
    heading = title or f"patchkit verify: {report.series} v{report.revision}"
    mark = "✅" if code == 0 else "❌"
    out = [f"### {_md_cell(heading)}", "", f"{mark} **{_md_cell(verdict_text)}** (exit {code})", ""]
    out += [f"branch `{report.branch.name}`: {_md_cell(report.branch.detail)}", ""]
    headers, rows = table(report)
    if rows:
        out.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
        out.append("|" + "|".join("---" for _ in headers) + "|")
        for row in rows:
            cells = [f"**{_md_cell(c)}**" if c == "FAIL" else _md_cell(c) for c in row]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    if report.lint_summary is not None and report.lint_summary.ran:
        out += [f"lint: {_md_cell(report.lint_summary.summary)}", ""]
    dependencies = depends_summary(report)
    if dependencies is not None:
        out += [f"depends: {_md_cell(dependencies)}", ""]
    if report.coverage is not None and report.coverage.missing:
        out += [f"not covered by any report: {_md_cell(report.missing_text)}", ""]
    return "\n".join(out) + "\n"
