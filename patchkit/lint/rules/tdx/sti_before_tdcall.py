"""tdx/sti-before-tdcall: STI sits immediately before TDCALL, and the STI variants have it there.

STI enables interrupts only after the next instruction, so STI followed at once by TDCALL opens no window
before the call (the guest's HLT hypercall from the idle loop needs that); an STI anywhere else lets an
interrupt in before TDCALL. A variant that enables interrupts for the call (options functions and macros:
``*_sti``, TDX_MODULE_CALL with sti on the TDCALL side) must have STI immediately before TDCALL on every
path. Read from each variant's walk (:mod:`patchkit.lint.rules.tdx.paths`).
"""

from __future__ import annotations

from patchkit.lint import options
from patchkit.lint.lang import asmflow
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx import designated
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.paths import owner, report, walks, where

MACROS = designated.macro_conditions(
    "macros",
    "args-struct macros whose variants enable interrupts for TDCALL, so have STI immediately before it: "
    "macro -> a condition over its arguments, or true",
    {"TDX_MODULE_CALL": "sti and not host"},
)
FUNCTIONS = options.strings(
    "functions",
    ["*_sti"],
    "assembly functions (globs) that enable interrupts for TDCALL, so have STI immediately before it",
    kind="list of globs",
)
RULE: StateRule[TdxState] = StateRule("tdx/sti-before-tdcall", options=(MACROS, FUNCTIONS))


def problems(state: TdxState, settings: Settings) -> list[tuple[asmflow.Variant, asmflow.PathProblem]]:
    found: list[tuple[asmflow.Variant, asmflow.PathProblem]] = []
    for variant, walk in walks(state):
        steps = walk.steps
        for sti, following in walk.sti:
            after = steps[following] if following >= 0 else None
            if after is None or after.name != "tdcall":
                shown = " ".join((after.name, ", ".join(after.operands))).strip() if after is not None else "nothing"
                found.append((variant, asmflow.PathProblem("sti-early", "", steps[sti], shown, steps[sti])))
        if not designated.matches(variant, settings[FUNCTIONS], settings[MACROS]):
            continue
        # the function's invocation is at fault when its macro arguments do not ask for STI; else the macro
        invocation = designated.function_fault(variant, settings[FUNCTIONS], settings[MACROS])
        for call in walk.calls:
            if not call.after_sti and steps[call.step].name == "tdcall":
                step = steps[call.step]
                found.append((variant, asmflow.PathProblem("no-sti", "", step, "", invocation or step)))
    return found


def _message(p: asmflow.PathProblem, labels: str) -> str:
    if p.kind == "sti-early":
        return (
            f"STI in {labels} is followed by '{p.detail}', not by TDCALL: interrupts are on before the call (STI "
            "takes effect after the next instruction, so it belongs immediately before TDCALL)"
        )
    return (
        f"{labels} enables interrupts for the call, but TDCALL is not immediately preceded by STI on every path to it"
    )


def _identity(variant: asmflow.Variant, p: asmflow.PathProblem) -> str:
    return f"{owner(variant, where(p))}: {p.kind}"


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    return report(RULE, problems(state, settings), _identity, _message)
