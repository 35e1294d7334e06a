"""tdx/offset-struct-matches-pointer: an offset indexes a pointer to its own struct.

``TDX_<KIND>_x(%reg)`` uses the KIND of the struct %reg points to (known
from the C prototype, or from the KIND the rest of the same code indexes %reg with).
"""

from __future__ import annotations

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import TdxState, pointer_mismatches

RULE: StateRule[TdxState] = StateRule("tdx/offset-struct-matches-pointer")


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    return [RULE.hit(m.path, m.line, m.message, m.identity, m.evidence) for m in pointer_mismatches(state)]
