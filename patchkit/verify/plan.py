"""verify's outcome as one typed value, and the report, table and exit code that follow from it alone.

:class:`VerifyResult` holds what a verify run found (the branch check, the
states, what it covered and the stages' results); :meth:`VerifyResult.report`
is the ``report.json`` data, from which :mod:`patchkit.verify.report` computes
the table and the verdict exactly as ``ci merge`` does for joined partial runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchkit.apply.states import OVERLAY, BranchState, State
from patchkit.cli.options import VerifyOptions
from patchkit.errors import UsageError
from patchkit.series.model import KconfigSpec
from patchkit.verify import report as verify_report
from patchkit.verify.prerequisites import DependencyCheck
from patchkit.verify.stages import BootPlan, BuildPlan, LintOutcome, LintPlan, StagesResult

LINT_SKIPPED = LintOutcome(False, "skipped (--no-lint)")


@dataclass(frozen=True)
class Scope:
    """What a run covered (a partial run is one job of a CI matrix)."""

    lint: bool
    build: bool
    boot: bool
    configs: list[str]
    states: tuple[int, int]  # first and last state index
    keep_going: bool = False

    def to_json_data(self) -> dict[str, Any]:
        return {"lint": self.lint, "build": self.build, "boot": self.boot, "configs": self.configs,
                "states": list(self.states), "keep_going": self.keep_going}  # fmt: skip


@dataclass(frozen=True)
class VerifyPlan:
    """What one verify run does: its scope (for the report) and a plan per stage (None: not run)."""

    scope: Scope
    lint: LintPlan | None
    build: BuildPlan | None
    boot: BootPlan | None


def plan(request: VerifyOptions, states: list[State], configs: list[KconfigSpec]) -> VerifyPlan:
    """The stages a request asks for over ``states`` (``--states A..B`` narrows the builds, not lint)."""
    end = states[-1].index
    first, last = parse_states(request.states_range, states) if request.states_range is not None else (0, end)
    booting = request.boot and request.build
    scope = Scope(request.lint, request.build, booting, [c.name for c in configs], (first, last), request.keep_going)
    lint = LintPlan(request.checkpatch, request.source_root, request.fail_on, request.fresh) if request.lint else None
    if not request.build:
        return VerifyPlan(scope, lint, None, None)
    # A range starts from the state before it (warm from ccache), so each patch of the range is an
    # incremental build and its new warnings are blamed as in a full run. That warm-up build is in this
    # run's table and report (a failure there fails this run too); 'ci merge' takes only the range.
    build = BuildPlan(
        configs, [s for s in states if max(first - 1, 0) <= s.index <= last], keep_going=request.keep_going,
        jobs=request.jobs, fresh=request.fresh,
    )  # fmt: skip
    # The console expectations are about the series' end: only a run that reaches it boots.
    boot = BootPlan(
        frozenset({end} if booting and last == end else ()), end, accel=request.accel, timeout=request.timeout,
        reboot=request.reboot,
    )  # fmt: skip
    return VerifyPlan(scope, lint, build, boot)


@dataclass
class VerifyResult:
    series: str
    revision: int
    results: Path
    branch: BranchState
    configs: list[tuple[str, bool]]  # every config of the series, and whether it boots
    states: list[State] = field(default_factory=list)  # empty when the branch does not match the data
    scope: Scope | None = None  # None: nothing ran (the branch does not match the data)
    stages: StagesResult | None = None
    depends: list[DependencyCheck] | None = None  # None: not checked (the branch does not match the data)

    def report(self) -> dict[str, Any]:
        """The report.json data (without the verdict, which :func:`verdict` adds)."""
        report: dict[str, Any] = {
            "series": self.series,
            "revision": self.revision,
            "results": str(self.results),
            "branch": {"name": self.branch.branch, "matches": self.branch.matches, "detail": self.branch.detail},
            "configs": [{"name": name, "boot": boots} for name, boots in self.configs],
        }
        if self.depends is not None:
            report["depends"] = [check.to_json_data() for check in self.depends]
        if self.scope is None or self.stages is None:
            return report
        report["states"] = [s.to_json_data() for s in self.states]
        report["scope"] = self.scope.to_json_data()
        report["lint_summary"] = self.stages.lint.to_json_data()
        if self.stages.lint.data is not None:
            report["lint"] = self.stages.lint.data
        if self.stages.build is not None:
            report["build"] = self.stages.build.to_json_data()
            report["boot"] = self.stages.boot.to_json_data() if self.stages.boot is not None else None
        return report


def verdict(result: VerifyResult) -> tuple[int, str]:
    """The exit code and the one-line verdict: 5 build, else 6 boot, else 1 branch or lint, else 0."""
    return verify_report.verdict(result.report())


def table(result: VerifyResult) -> list[str]:
    """The summary table's lines: a row per state, a column per stage and config."""
    return verify_report.text_table(result.report())


def explanation(stages: StagesResult) -> list[str]:
    """The first build and boot failure again, for the end of the output, where the eye lands."""
    lines: list[str] = []
    if stages.build is not None and stages.build.first_failure is not None:
        failure = stages.build.first_failure
        subject = f" ({failure.state.subject})" if failure.state.subject else ""
        lines.append(f"first failing state: {failure.state.label}{subject}, config {failure.config}:")
        lines += [f"  | {line}" for line in failure.excerpt.splitlines()]
        lines.append(f"  log: {failure.log}")
    if stages.boot is not None and stages.boot.first_failure is not None:
        bad = stages.boot.first_failure
        lines.append(f"boot failure: config {bad.config} at {bad.state}: {bad.reason}")
        lines += [f"  | {line}" for line in bad.excerpt.splitlines()]
        lines.append(f"  console: {bad.console}")
    return lines


def shown(value: str, longest: int = 40) -> str:
    """``value`` quoted, cut to its first ``longest`` characters."""
    return repr(value) if len(value) <= longest else repr(value[:longest]) + "..."


def parse_states(text: str, states: list[State]) -> tuple[int, int]:
    """``A..B`` (or one state) as first and last state index; a state is base, a patch number, overlay or end."""
    last = states[-1].index
    names = {"base": 0, "end": last, **({OVERLAY: last} if states[-1].label == OVERLAY else {})}

    def one(token: str) -> int:
        token = token.strip().lower()
        if token in names:
            return names[token]
        if re.fullmatch(r"[0-9]{1,6}", token) and int(token) <= last:  # ASCII digits only: '²' is no number
            return int(token)
        raise UsageError(f"--states: {shown(token)} is not a state of this series (base, 1..{last}, overlay or end)")

    m = re.fullmatch(r"\s*([^.\s][^.]*?)\s*(?:\.\.\s*([^.\s][^.]*?)\s*)?", text)
    if m is None:
        raise UsageError(f"--states: {shown(text)} is not A..B (e.g. base..3, 5, 2..end)")
    first = one(m.group(1))
    end = one(m.group(2)) if m.group(2) is not None else first
    if end < first:
        raise UsageError(f"--states: {shown(text)} ends before it starts: an empty range")
    return first, end
