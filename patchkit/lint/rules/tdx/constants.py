"""The value of a constant as the state's ``#define`` lines give it (a register bitmap, a leaf number).

Object-like defines are substituted by name (at most :data:`MAX_DEPTH` deep), the kernel's bit macros
(``BIT(n)``, ``BIT_ULL(n)``, ``_BITUL(n)``, ``_BITULL(n)``, ``GENMASK(h, l)``) become shifts,
``_AC(x, y)`` is ``x``, and integer suffixes (``UL``) are dropped; the result goes to the bounded parser
of :mod:`patchkit.lint.expr`. Anything else (a function-like macro of another kind, a cast) has no value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from patchkit.lint import expr
from patchkit.lint.rules.tdx.facts import TdxState

MAX_DEPTH = 8
_NAME = re.compile(r"\b[A-Za-z_]\w*\b")
_BIT = re.compile(r"\b(?:BIT|BIT_ULL|_BITUL|_BITULL)\s*\(([^()]*)\)")
_AC = re.compile(r"\b_AC\s*\(([^,()]*),[^()]*\)")
_GENMASK = re.compile(r"\bGENMASK(?:_ULL)?\s*\(([^,()]*),([^,()]*)\)")
_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)(?:[uU][lL]{0,2}|[lL]{1,2}[uU]?)\b")


def defines(state: TdxState) -> dict[str, tuple[str, str, int]]:
    """Every object-like ``#define`` of the state's files (C and assembly): name -> (value text, path, line); a
    header under arch/x86/include wins over another file's. Computed once per state."""
    found = state.derived.get("defines")
    if isinstance(found, dict):
        return found
    out: dict[str, tuple[str, str, int]] = {}
    state.derived["defines"] = out
    order = sorted({*state.c, *state.asm}, key=lambda p: (not p.startswith("arch/x86/include/"), p))
    for path in order:
        written = state.c[path].defines if path in state.c else state.asm[path].defines
        for name, (value, line) in written.items():
            out.setdefault(name, (value, path, line))
    return out


def used(text: str, names: Mapping[str, tuple[str, str, int]]) -> set[tuple[str, int]]:
    """Where the defines ``text`` goes through are written: (path, line) of each."""
    out: set[tuple[str, int]] = set()
    todo = [text]
    seen: set[str] = set()
    while todo and len(seen) <= 64:
        for name in _NAME.findall(todo.pop()):
            if name in names and name not in seen:
                seen.add(name)
                value, path, line = names[name]
                out.add((path, line))
                todo.append(value)
    return out


def value(text: str, names: Mapping[str, tuple[str, str, int]]) -> int | None:
    """The integer ``text`` stands for, or None when it has none."""
    current = text
    for _depth in range(MAX_DEPTH + 1):
        current = _AC.sub(r"(\1)", _BIT.sub(r"(1 << (\1))", current))
        current = _GENMASK.sub(r"(((1 << ((\1) - (\2) + 1)) - 1) << (\2))", current)
        replaced = _NAME.sub(lambda m: f"({names[m.group(0)][0]})" if m.group(0) in names else m.group(0), current)
        if replaced == current:
            break
        current = replaced
    current = _SUFFIX.sub(r"\1", _BIT.sub(r"(1 << (\1))", current))
    try:
        return expr.evaluate(current)
    except expr.ExprError:
        return None
