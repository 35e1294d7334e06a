"""tdx/asm-offset-defined: every ``TDX_<KIND>_<reg>`` an assembly file uses is made by that state's asm-offsets."""

from __future__ import annotations

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import OFFSET_SYMBOL, TdxState, pointer_mismatches

RULE: StateRule[TdxState] = StateRule("tdx/asm-offset-defined")


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    kinds = state.kinds()
    defined = {off.symbol for _p, off in state.asm_offsets()}
    # an offset used on a pointer to another struct is reported once, as that (the cause), not again here
    # when a later patch removes the offset
    wrong = {(m.path, m.line, m.symbol) for m in pointer_mismatches(state)}
    hits: list[Hit] = []
    for path, facts in sorted(state.asm.items()):
        for item in facts.items:
            if item.kind not in ("insn", "directive"):
                continue
            for m in OFFSET_SYMBOL.finditer(" ".join(item.operands)):
                if m.group(1) in kinds and m.group(0) not in defined and (path, item.line, m.group(0)) not in wrong:
                    hits.append(RULE.hit(path, item.line, f"{m.group(0)} is not defined by asm-offsets in this state"))
    return hits
