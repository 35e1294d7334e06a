"""tdx/extable-delivers-trap: a fixup that reads the trap number uses an entry type that delivers one.

Only some exception-table entry types put the trap number in RAX before jumping to the fixup
(``_ASM_EXTABLE_FAULT``, i.e. EX_TYPE_FAULT, and the types listed in
:data:`patchkit.lint.rules.tdx.facts.TRAP_TYPES`); a plain ``_ASM_EXTABLE`` jumps with RAX as it was (for
TDCALL/SEAMCALL: the leaf). The walk follows each fault edge with that in RAX and records a fixup that reads
it before writing it.
"""

from __future__ import annotations

from patchkit.lint.lang import asmflow
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.paths import owner, report, walks, where

RULE: StateRule[TdxState] = StateRule("tdx/extable-delivers-trap")


def problems(state: TdxState) -> list[tuple[asmflow.Variant, asmflow.PathProblem]]:
    found: list[tuple[asmflow.Variant, asmflow.PathProblem]] = []
    for variant, walk in walks(state):
        steps = walk.steps
        for entry, reading in walk.fault_reads:
            read = steps[reading]
            shown = " ".join((read.name, ", ".join(read.operands))).strip()
            found.append((variant, asmflow.PathProblem("no-trap", "rax", steps[entry], shown, steps[entry])))
    return found


def _message(p: asmflow.PathProblem, labels: str) -> str:
    return (
        f"the fixup of this {p.step.name} entry in {labels} reads the trap number in %rax ('{p.detail}'), but "
        f"{p.step.name} does not put it there (RAX keeps the leaf): use an entry of type EX_TYPE_FAULT "
        "(_ASM_EXTABLE_FAULT)"
    )


def _identity(variant: asmflow.Variant, p: asmflow.PathProblem) -> str:
    return f"{owner(variant, where(p))}: {p.step.name} without a trap number"


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    return report(RULE, problems(state), _identity, _message)
