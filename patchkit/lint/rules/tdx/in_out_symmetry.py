"""tdx/in-out-symmetry: a register a variant treats as an output was an input it loaded from the struct.

A register the variant stores to its slot or clears after TDCALL/SEAMCALL is one it expects the other
side to see and change; at the call it must hold what the variant loaded from its slot of the struct.
Otherwise a kernel value crosses to the other side in it: the struct pointer, the leaf number, or the
caller's callee-saved register. A variant that takes its inputs in registers (the 6.1 form: nothing loaded
from the struct) may pass the C arguments; only the struct pointer, the leaf and callee-saved values are
findings there. Read from each variant's walk (:mod:`patchkit.lint.rules.tdx.paths`).
"""

from __future__ import annotations

from patchkit.lint.lang import asmflow
from patchkit.lint.lang.x86 import CALLEE_SAVED
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.paths import owner, report, walks, where

RULE: StateRule[TdxState] = StateRule("tdx/in-out-symmetry")


def problems(state: TdxState) -> list[tuple[asmflow.Variant, asmflow.PathProblem]]:
    found: list[tuple[asmflow.Variant, asmflow.PathProblem]] = []
    for variant, walk in walks(state):
        back = walk.back
        outputs = (back.stored | back.cleared) - {"rax", "rsp"}
        for call in walk.calls:
            step = walk.steps[call.step]
            for reg in sorted(outputs):
                what = _crossing(call.holds(reg), reg, call.holds("rax"), walk.pointers, bool(back.loaded))
                if what:
                    how = "stores" if reg in back.stored else "clears"
                    found.append((variant, asmflow.PathProblem("not-loaded", reg, step, f"{how}|{what}", step)))
    return found


def _crossing(value: str, reg: str, leaf: str, pointers: frozenset[str], loads: bool) -> str:
    """The kernel value that crosses in ``reg`` (``value`` at the call), in words; "" when it is an input."""
    if value == "slot:" + reg or value.startswith(("slot:", "const:", "ret:")) or value in ("zero", "x", "trap"):
        return ""  # loaded (another slot by name is tdx/mov-register-matches-offset's), a constant, or unknown
    if value.startswith("stray:"):
        return f"a load of {value[6:]}'s slot through a register that no longer held the struct pointer"
    if value in pointers:
        return "the struct pointer"
    if value == leaf:
        return "the leaf number"
    source = value.partition(":")[2]
    if source in CALLEE_SAVED:
        return f"the caller's callee-saved %{source}"
    return f"the caller's %{source}" if loads else ""


def _message(p: asmflow.PathProblem, labels: str) -> str:
    how, _, what = p.detail.partition("|")
    return (
        f"%{p.reg} reaches the other side of the call in {labels} holding {what}: the variant {how} it after the "
        "call as an output but does not load it from its slot of the struct before (a kernel value crosses)"
    )


def _identity(variant: asmflow.Variant, p: asmflow.PathProblem) -> str:
    return f"{owner(variant, where(p))}: {p.reg} not loaded"


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    return report(RULE, problems(state), _identity, _message)
