"""tdx/copy-out-complete: a variant that returns outputs hands back exactly what the call returned.

Every register it passes (loads from the struct, or stores to it after the call) is stored to its own slot
on every path where the other side ran (the CF=1 branch after SEAMCALL and exception-table paths excepted),
from the value the call returned in that register: not after clearing it, not a value reloaded from the
stack or taken from another register, and through the struct pointer. Read from each variant's walk
(:mod:`patchkit.lint.rules.tdx.paths`).
"""

from __future__ import annotations

from patchkit.lint import options
from patchkit.lint.lang import asmflow
from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx import designated
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.paths import owner, report, walks, where

MACROS = designated.macro_conditions(
    "macros",
    "args-struct macros whose variants return outputs, so copy every register out on every path where the "
    "other side ran: macro -> a condition over its arguments, or true",
    {"TDX_MODULE_CALL": "ret"},
)
FUNCTIONS = options.strings(
    "functions",
    ["*_ret", "*_ret_*"],
    "assembly functions (globs) that return outputs, so copy every register out on every path where the other "
    "side ran (any other variant that copies out on a path copies out everything it passes there)",
    kind="list of globs",
)
RULE: StateRule[TdxState] = StateRule("tdx/copy-out-complete", options=(MACROS, FUNCTIONS))


def problems(state: TdxState, settings: Settings) -> list[tuple[asmflow.Variant, asmflow.PathProblem]]:
    found: list[tuple[asmflow.Variant, asmflow.PathProblem]] = []
    for variant, walk in walks(state):
        if not walk.calls:
            continue
        steps = walk.steps
        leaves = {call.holds("rax") for call in walk.calls}
        for store in walk.stores:
            step = steps[store.step]
            if not asmflow.holds_pointer(store.base_value):
                found.append((variant, asmflow.PathProblem("copy-base", store.base, step, store.base_value, step)))
                continue
            if store.value == "ret:" + store.field:
                continue
            source = step.operands[0] if step.name.startswith("mov") and step.operands else ""
            if source.strip().startswith("%") and canonical(source) != store.field:
                continue  # another register by name: tdx/mov-register-matches-offset's finding
            what = _what(store.value, store.base_value, leaves)
            found.append((variant, asmflow.PathProblem("copy-wrong", store.field, step, what, step)))
        passed = (walk.back.loaded | walk.back.stored) - {"rax", "rsp"}
        always = designated.matches(variant, settings[FUNCTIONS], settings[MACROS])
        # no copy-out at all in a function named for one: its invocation of the macro asks for none
        invocation = designated.function_fault(variant, settings[FUNCTIONS], settings[MACROS])
        for out in walk.exits:
            if out.phase != "after" or not (always or out.stored):
                continue
            missing = sorted(passed - out.stored)
            if not out.stored and missing:
                at = invocation or steps[out.call]
                shown = ", ".join("%" + reg for reg in missing)
                found.append((variant, asmflow.PathProblem("copy-none", shown, steps[out.step], "", at)))
                continue
            for reg in missing:
                at = steps[out.last_store]
                found.append((variant, asmflow.PathProblem("copy-missing", reg, steps[out.step], "", at)))
    return found


def _what(value: str, pointer: str, leaves: set[str]) -> str:
    """What a wrong store writes, in words."""
    if value == pointer:
        return "the struct pointer"
    if value in leaves and value.startswith("orig:"):
        return "the leaf number"
    if value == "zero":
        return "0: the register was cleared before it was stored"
    if value.startswith("orig:"):
        return f"the caller's %{value[5:]}, which the call did not return"
    if value.startswith("slot:"):
        return f"the input loaded from {value[5:]}'s slot, not the output"
    return asmflow.describe(value)


def _message(p: asmflow.PathProblem, labels: str) -> str:
    if p.kind == "copy-base":
        return (
            f"the copy-out in {labels} writes through %{p.reg}, which holds {asmflow.describe(p.detail)}, not the "
            "struct pointer: the outputs go to an address the other side chose"
        )
    if p.kind == "copy-wrong":
        how = " (from the stack)" if p.where is not None and p.where.name.startswith("pop") else ""
        return (
            f"{labels} stores {p.detail}{how} to %{p.reg}'s slot instead of what the call returned in %{p.reg}; "
            "store each output from its own register, before any clearing"
        )
    if p.kind == "copy-none":
        return (
            f"{labels} returns outputs but a path where the call ran copies none out: what the call returned in "
            f"{p.reg} never reaches the struct"
        )
    return (
        f"the copy-out of {labels} leaves %{p.reg} out on a path where the call ran: the caller gets its input "
        "back, not what the call returned in it"
    )


def _identity(variant: asmflow.Variant, p: asmflow.PathProblem) -> str:
    if p.kind == "copy-none":  # which registers it passes changes with the patches; the defect does not
        return f"{owner(variant, where(p))}: copy-none"
    return f"{owner(variant, where(p))}: {p.kind} {p.reg} {p.detail}".strip()


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    return report(RULE, problems(state, settings), _identity, _message)
