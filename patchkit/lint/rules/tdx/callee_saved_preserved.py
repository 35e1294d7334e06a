"""tdx/callee-saved-preserved: an assembly function gives back the callee-saved registers it uses.

Rbx, rbp, r12-r15 a function writes are pushed before and popped after, in
reverse order, with nothing left on the stack, on every path to its return (fault paths included). Every
variant of an args-struct macro is walked, invoked or not (:mod:`patchkit.lint.rules.tdx.paths`).
"""

from __future__ import annotations

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.clear_before_return import walked_family
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.paths import hits

RULE: StateRule[TdxState] = StateRule("tdx/callee-saved-preserved")


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    return hits(RULE, walked_family(state, settings, "callee-saved"))
