"""tdx/field-exists: uses of an args struct name fields it has in this state.

Designated initializers and member accesses of an args struct name fields it has in this
state, in every C file that uses it (the decompressor's included).
"""

from __future__ import annotations

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import TdxState

RULE: StateRule[TdxState] = StateRule("tdx/field-exists")


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    structs = state.structs()
    for path, facts in sorted(state.c.items()):
        for use in facts.uses:
            struct = state.resolve(use.base)
            if struct not in state.args_structs or struct not in structs:
                continue
            if use.field not in structs[struct][1].field_names():
                what = "designated initializer ." if use.kind == "init" else "member access "
                hits.append(RULE.hit(path, use.line, f"{what}{use.field}: struct {struct} has no field "
                                     f"'{use.field}' in this state"))  # fmt: skip
    return hits
