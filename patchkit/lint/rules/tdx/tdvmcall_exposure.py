"""tdx/tdvmcall-exposure: a TDG.VP.VMCALL sets RCX, and its bitmap covers the hypercall's registers.

For TDCALL leaf 0 (TDG.VP.VMCALL) RCX is the bitmap of the GPRs the VMM may see and change (bit N: GPR
N). Where assembly issues the hypercall (the leaf a constant 0 in RAX at the call, such as 6.1's
``__tdx_hypercall``), RCX must be set to a constant; every register the hypercall sets (loads from the
struct) or reads back (stores to it after the call) must be in the bitmap, or the VMM never sees the
argument / what is stored is not its answer; and every register the bitmap exposes must be set, or the
kernel's value in it reaches the VMM. The constant is evaluated from the state's ``#define`` lines
(:mod:`patchkit.lint.rules.tdx.constants`). A hypercall issued from C through a generic TDCALL function
(RCX set in the struct) is not seen here.
"""

from __future__ import annotations

from patchkit.lint.lang import asmflow
from patchkit.lint.lang.x86 import GPRS, NUMBER
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx import constants
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.paths import owner, report, walks, where

RULE: StateRule[TdxState] = StateRule("tdx/tdvmcall-exposure")
_NOT_EXPOSABLE = frozenset(("rax", "rcx", "rsp"))  # the leaf and status, the bitmap itself, the stack


def _number(value: str, names: dict[str, tuple[str, str, int]]) -> int | None:
    if value == "zero":
        return 0
    if value.startswith("const:"):
        return constants.value(value[6:], names)
    return None


def problems(state: TdxState) -> list[tuple[asmflow.Variant, asmflow.PathProblem]]:
    found: list[tuple[asmflow.Variant, asmflow.PathProblem]] = []
    for variant, walk in walks(state):
        steps = walk.steps
        for call in walk.calls:
            step = steps[call.step]
            leaf = call.holds("rax")
            if step.name != "tdcall" or not leaf.startswith(("zero", "const:")):
                continue
            names = constants.defines(state)
            if _number(leaf, names) != 0 and "VMCALL" not in leaf:
                continue  # another TDCALL leaf (or one whose value the state does not give)
            bitmap = call.holds("rcx")
            if not bitmap.startswith(("const:", "zero")):
                if not bitmap.startswith("slot:"):  # set in the struct by the C caller: not seen here
                    found.append((variant, asmflow.PathProblem("rcx-unset", "rcx", step, bitmap, step)))
                continue
            mask = _number(bitmap, names)
            if mask is None:
                continue
            shown = "0" if bitmap == "zero" else f"{bitmap[6:]} = {mask:#x}"
            loads = dict(walk.first_loads)
            for reg in GPRS:
                if reg in _NOT_EXPOSABLE:
                    continue
                exposed = bool(mask >> NUMBER[reg] & 1)
                held = call.holds(reg)
                if not exposed and held.startswith("slot:"):
                    at = steps[loads.get(reg, call.step)]
                    found.append((variant, asmflow.PathProblem("not-exposed", reg, at, f"sets|{shown}", at)))
                elif not exposed and reg in walk.back.stored:
                    at = _first_store(walk, reg) or step
                    found.append((variant, asmflow.PathProblem("not-exposed", reg, at, f"reads|{shown}", at)))
                elif exposed and held.startswith("orig:"):
                    found.append((variant, asmflow.PathProblem("exposed-unset", reg, step, shown, step)))
    return found


def _first_store(walk: asmflow.Walk, reg: str) -> asmflow.Step | None:
    stores = sorted(s.step for s in walk.stores if s.field == reg)
    return walk.steps[stores[0]] if stores else None


def _message(p: asmflow.PathProblem, labels: str) -> str:
    if p.kind == "rcx-unset":
        return (
            f"TDG.VP.VMCALL in {labels} is issued with RCX holding {asmflow.describe(p.detail)}: RCX is the bitmap "
            "of the registers the VMM may see and change; set it to the exposure mask before TDCALL"
        )
    if p.kind == "exposed-unset":
        return (
            f"the RCX bitmap of TDG.VP.VMCALL in {labels} ({p.detail}) exposes %{p.reg}, which the hypercall does "
            "not set: the VMM sees the kernel's value in it (and may change it)"
        )
    how, _, shown = p.detail.partition("|")
    what = f"passes %{p.reg} to the VMM, but" if how == "sets" else f"reads %{p.reg} back from the VMM, but"
    return (
        f"TDG.VP.VMCALL in {labels} {what} its RCX bitmap ({shown}) does not expose %{p.reg}: the VMM never "
        "sees that register (keep hypercall arguments within the exposed registers, or expose it)"
    )


def _identity(variant: asmflow.Variant, p: asmflow.PathProblem) -> str:
    return f"{owner(variant, where(p))}: tdvmcall {p.kind} {p.reg}"


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    def bitmap_lines(p: asmflow.PathProblem) -> set[tuple[str, int]]:
        # the bitmap's #define lines are part of what makes the defect: a patch that narrows it wrote it
        if p.kind == "rcx-unset":
            return set()
        return constants.used(p.detail.rpartition("|")[2].partition(" = ")[0], constants.defines(state))

    return report(RULE, problems(state), _identity, _message, bitmap_lines)
