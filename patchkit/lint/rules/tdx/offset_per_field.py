"""tdx/offset-per-field: every field of an args struct has exactly one well-named asm-offset.

Every field of an args struct has exactly one ``OFFSET(TDX_<KIND>_<field>, <struct>,
<field>)`` in asm-offsets; no OFFSET names a missing struct or field, or is misnamed.
"""

from __future__ import annotations

from collections import Counter

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import TdxState

RULE: StateRule[TdxState] = StateRule("tdx/offset-per-field")


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    structs = state.structs()
    offsets = state.asm_offsets()
    if not offsets and not any(p.rsplit("/", 1)[-1].startswith("asm-offsets") for p in state.c):
        return hits
    seen: Counter[tuple[str, str]] = Counter()
    for path, off in offsets:
        struct, fld, sym = off.struct, off.field, off.symbol
        line = off.line
        if struct not in state.args_structs:
            continue
        kind = state.args_structs[struct]
        if struct not in structs:
            hits.append(RULE.hit(path, line, f"OFFSET({sym}, {struct}, {fld}) names struct {struct}, which is not "
                                 "defined in this state"))  # fmt: skip
            continue
        if fld not in structs[struct][1].field_names():
            hits.append(RULE.hit(path, line, f"OFFSET({sym}, {struct}, {fld}) names a field that struct {struct} "
                                 "does not have"))  # fmt: skip
            continue
        expected = f"TDX_{kind}_{fld}"
        if sym != expected:
            hits.append(RULE.hit(path, line, f"OFFSET({sym}, {struct}, {fld}) should be named {expected}"))
        seen[(struct, fld)] += 1
        if seen[(struct, fld)] == 2:
            hits.append(RULE.hit(path, line, f"{struct}.{fld} has more than one OFFSET() in asm-offsets"))
    for struct, kind in state.args_structs.items():
        if struct not in structs:
            continue
        path, sdef = structs[struct]
        for f in sdef.fields:
            if seen[(struct, f.name)] == 0:
                hits.append(RULE.hit(path, f.line, f"{struct}.{f.name} has no OFFSET(TDX_{kind}_{f.name}, {struct}, "
                                     f"{f.name}) in asm-offsets"))  # fmt: skip
    return hits
