"""tdx/clear-before-return: what came back from the other side does not reach C by accident.

Every register that came back from the other side of TDCALL/SEAMCALL is, on every
path to the return, stored for the caller or cleared (or restored); in the variants that must clear, storing
is not enough. Every variant is walked (:mod:`patchkit.lint.rules.tdx.paths`).
"""

from __future__ import annotations

from patchkit.lint import options
from patchkit.lint.lang import asmflow
from patchkit.lint.model import Hit
from patchkit.lint.options import Option, Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx import designated
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.paths import Family, Walked, hits, walked

MACROS = designated.macro_conditions(
    "macros",
    "args-struct macros whose variants must clear every register that came back, even one stored for the "
    "caller: macro -> a condition over its arguments (&&, ||, !, and, or, not, comparisons), or true",
    {"TDX_MODULE_CALL": "saved and ret"},
)
FUNCTIONS: Option[dict[str, bool]] = Option(
    "functions",
    "assembly functions that must clear every register that came back (true) or are not checked (false)",
    "mapping: function -> boolean",
    {"__tdx_hypercall": True},
    {"type": "object", "additionalProperties": {"type": "boolean"}},
    lambda value: {str(k): bool(v) for k, v in value.items()},
    merge="add",
)
MODE = options.choice(
    "mode",
    "stored-or-cleared",
    ("stored-or-cleared", "cleared", "off"),
    "every other variant: each register that came back is stored for the caller or cleared (stored-or-cleared), "
    "must be cleared (cleared), or is not checked (off)",
)
RULE: StateRule[TdxState] = StateRule("tdx/clear-before-return", options=(MACROS, FUNCTIONS, MODE))


def clear_mode(variant: asmflow.Variant, settings: Settings) -> str | None:
    """How strictly the variant must clear what came back: None, "cleared" or "stored-or-cleared"."""
    functions, macros, mode = settings[FUNCTIONS], settings[MACROS], settings[MODE]
    if not variant.synthetic and variant.function.name in functions:
        return "cleared" if functions[variant.function.name] else None
    if variant.macro in macros and designated.condition(macros[variant.macro], variant.args):
        return "cleared"
    return None if mode == "off" else mode


def walked_family(state: TdxState, settings: Settings, family: Family) -> list[Walked]:
    """The path walk's findings of one family; one walk per variant finds them all, following what came back
    as this rule's options ask."""
    return [w for w in walked(state, lambda v: clear_mode(v, settings)) if w.family == family]


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    return hits(RULE, walked_family(state, settings, "not-cleared"))
