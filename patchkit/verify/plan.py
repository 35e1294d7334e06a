"""What one verify run does: the stages to run and the states they cover, from plain values (no I/O).

A plan per stage (:class:`LintPlan`, :class:`BuildPlan`, :class:`BootPlan`) is what
:func:`patchkit.verify.stages.run_stages` runs; :func:`plan` makes them for ``verify`` from what the user
asked for (stages, ``--states A..B``, build and boot settings), with the scope its report records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from patchkit.apply.states import OVERLAY, State
from patchkit.boot import ACCELERATORS, BOOT_TIMEOUT
from patchkit.errors import UsageError
from patchkit.lint.severity import FAIL_ON_DEFAULT
from patchkit.series.model import KconfigSpec
from patchkit.verify.report import Scope


@dataclass(frozen=True)
class LintPlan:
    checkpatch: bool = True
    source_root: Path | None = None  # SARIF and annotation paths are relative to it
    fail_on: str = FAIL_ON_DEFAULT
    fresh: bool = False  # lint again even when a result for the same content is cached


@dataclass(frozen=True)
class BuildPlan:
    configs: list[KconfigSpec]
    states: list[State]  # in walk order
    keep_going: bool = False
    jobs: int | None = None
    fresh: bool = False  # ignore cached verdicts (new ones are still stored)


@dataclass(frozen=True)
class BootPlan:
    states: frozenset[int]  # indexes of the states to boot (after they are built)
    end_state: int  # the console expectations apply here only
    accel: str = ACCELERATORS[0]
    timeout: float = BOOT_TIMEOUT
    cmdline: str = ""
    reboot: bool = False  # boot again even when the same inputs have a cached verdict


@dataclass(frozen=True)
class VerifyPlan:
    """What one verify run does: its scope (for the report) and a plan per stage (None: not run)."""

    scope: Scope
    lint: LintPlan | None
    build: BuildPlan | None
    boot: BootPlan | None


def plan(
    states: list[State],
    configs: list[KconfigSpec],
    *,
    lint: LintPlan | None = None,
    build: bool = True,
    boot: bool = True,
    states_range: str | None = None,
    keep_going: bool = False,
    jobs: int | None = None,
    fresh: bool = False,
    accel: str = ACCELERATORS[0],
    timeout: float = BOOT_TIMEOUT,
    reboot: bool = False,
) -> VerifyPlan:
    """The stages to run over ``states`` (``states_range`` "A..B" narrows the builds, not lint).

    ``lint`` None: no lint; ``build`` False: no build and so no boot; ``boot``: boot the series' end
    when this run builds it.
    """
    end = states[-1].index
    first, last = parse_states(states_range, states) if states_range is not None else (0, end)
    booting = boot and build
    scope = Scope(lint is not None, build, booting, tuple(c.name for c in configs), (first, last), keep_going)
    if not build:
        return VerifyPlan(scope, lint, None, None)
    # A range starts from the state before it (warm from ccache), so each patch of the range is an
    # incremental build and its new warnings are blamed as in a full run. That warm-up build is in this
    # run's table and report (a failure there fails this run too); 'ci merge' takes only the range.
    build_plan = BuildPlan(
        configs, [s for s in states if max(first - 1, 0) <= s.index <= last], keep_going=keep_going, jobs=jobs,
        fresh=fresh,
    )  # fmt: skip
    # The console expectations are about the series' end: only a run that reaches it boots.
    boot_plan = BootPlan(
        frozenset({end} if booting and last == end else ()), end, accel=accel, timeout=timeout, reboot=reboot
    )
    return VerifyPlan(scope, lint, build_plan, boot_plan)


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
