"""tdx/extable-on-call: an exception-table entry next to TDCALL/SEAMCALL covers that instruction itself.

The entry's from-label must sit on the instruction that faults: SEAMCALL raises #UD or #GP when the CPU
is not in VMX operation or TDX is off; an entry whose label sits on the instruction before or after it
leaves the fault unhandled (an oops) and fixes up an instruction that does not fault.
"""

from __future__ import annotations

from patchkit.lint.lang import asmflow
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import CROSSING, TdxState
from patchkit.lint.rules.tdx.paths import owner, report, walks, where

RULE: StateRule[TdxState] = StateRule("tdx/extable-on-call")


def problems(state: TdxState) -> list[tuple[asmflow.Variant, asmflow.PathProblem]]:
    found: list[tuple[asmflow.Variant, asmflow.PathProblem]] = []
    for variant, walk in walks(state):
        steps = walk.steps
        calls = [i for i, s in enumerate(steps) if s.kind == "insn" and s.name in CROSSING.calls]
        if not calls:
            continue
        for entry in walk.entries:
            if entry.faulting < 0 or entry.faulting in calls:
                continue
            near = min(calls, key=lambda i: abs(i - entry.faulting))
            side = "after" if entry.faulting > near else "before"
            covered = steps[entry.faulting]
            detail = f"{covered.name}|{side}|{steps[near].name.upper()}"
            found.append((variant, asmflow.PathProblem("extable-off", "", steps[entry.at], detail, steps[entry.at])))
    return found


def _message(p: asmflow.PathProblem, labels: str) -> str:
    covered, side, call = p.detail.split("|")
    return (
        f"this exception-table entry in {labels} covers '{covered}', an instruction {side} {call}, not {call} "
        f"itself: a fault on {call} is not fixed up (put the entry's label on the {call} instruction)"
    )


def _identity(variant: asmflow.Variant, p: asmflow.PathProblem) -> str:
    return f"{owner(variant, where(p))}: entry on {p.detail.split('|')[0]}"


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    return report(RULE, problems(state), _identity, _message)
