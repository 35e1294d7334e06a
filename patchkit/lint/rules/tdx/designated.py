"""Which variants a rule holds to more than the rest: by function name, or by the macro's arguments.

A function is named by globs; a variant of an args-struct macro by a condition over the arguments it is
expanded with (``saved and ret``).

Rules declare their own options with :func:`macro_conditions` and read them with :func:`matches`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from patchkit.lint import expr
from patchkit.lint.lang import asmflow
from patchkit.lint.options import Option


def read_conditions(value: Any) -> dict[str, str | bool]:
    """lint.yaml's ``macro: condition`` mapping, each condition parsed once (a ValueError names a bad one)."""
    out: dict[str, str | bool] = {}
    for name, cond in value.items():
        if isinstance(cond, str):
            try:
                expr.parse(cond, words=True)
            except expr.ExprError as exc:
                raise ValueError(f"{name}: {cond!r} is not a condition ({exc})") from None
        out[str(name)] = cond
    return out


def macro_conditions(name: str, description: str, default: dict[str, str | bool]) -> Option[dict[str, str | bool]]:
    """An option naming args-struct macros and, for each, the condition over its arguments its variants meet."""
    return Option(
        name,
        description,
        "mapping: macro -> condition",
        default,
        {"type": "object", "additionalProperties": {"type": ["string", "boolean"]}},
        read_conditions,
        merge="add",
    )


def condition(cond: str | bool, args: tuple[tuple[str, str], ...]) -> bool:
    """Whether a variant with these macro arguments is one the condition names: a name the macro does not
    have, or a condition with no value, names none."""
    if isinstance(cond, bool):
        return cond
    names: dict[str, int] = {}
    for key, value in args:
        number = expr.literal(value)
        names[key] = number if number is not None else (1 if value else 0)
    try:
        return bool(expr.evaluate(cond, names, words=True))
    except expr.ExprError:
        return False


def matches(variant: asmflow.Variant, functions: Iterable[str], macros: Mapping[str, str | bool]) -> bool:
    """Whether a function the ``functions`` globs name, or a macro variant whose arguments meet its condition in
    ``macros``, is this variant (a variant no function invokes yet is judged by its macro only)."""
    if not variant.synthetic and any(fnmatch.fnmatchcase(variant.function.name, g) for g in functions):
        return True
    macro = variant.macro
    return macro is not None and macro in macros and condition(macros[macro], variant.args)


def function_fault(
    variant: asmflow.Variant, functions: Iterable[str], macros: Mapping[str, str | bool]
) -> asmflow.Step | None:
    """Where a requirement the ``functions`` globs put on this variant is broken by the function itself: its
    invocation of the macro, when the macro's arguments do not ask for what the function's name promises
    (``__tdcall_saved_ret_sti`` expanding TDX_MODULE_CALL without sti=1); None when the requirement is the
    macro's (or the variant is not named by ``functions``)."""
    if variant.synthetic or not any(fnmatch.fnmatchcase(variant.function.name, g) for g in functions):
        return None
    macro = variant.macro
    if macro is not None and macro in macros and condition(macros[macro], variant.args):
        return None
    line = variant.invoked_at or variant.function.line
    return asmflow.Step(variant.function.path, line, "insn", macro or variant.function.name, (), "")
