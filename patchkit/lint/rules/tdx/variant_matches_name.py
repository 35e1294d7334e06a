"""tdx/variant-matches-name: a ``__seamcall*``/``__tdcall*`` function expands the variant its name and prototype say.

The name says what the callers rely on: ``__seamcall*`` is the host (``host=1``), ``__tdcall*`` the guest
(``host=0``), ``*_ret`` returns the output registers (``ret=1``), ``*saved*`` passes the saved registers too
(``saved=1``), ``*_sti`` enables interrupts right before TDCALL (``sti=1``). The ``SYM_FUNC`` body's
invocation of the args-struct macro must have those values (a parameter the macro does not have is not
checked), and the register its C prototype passes the args pointer in (SysV: rdi, rsi, ...) must be the one
the variant indexes with the struct's offsets (when that is an argument register: a variant that moves the
pointer elsewhere first, as 6.1's ``TDX_MODULE_CALL`` does, is not checked for it).
"""

from __future__ import annotations

import re
from collections import Counter

from patchkit.lint.lang.asm import parse_mem
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.calls import VARIANT_NAME
from patchkit.lint.rules.tdx.facts import ARG_REGS, OFFSET_SYMBOL, TdxState, variants

RULE: StateRule[TdxState] = StateRule("tdx/variant-matches-name")
_WHY = {
    "host": {"1": "its name says SEAMCALL (__seamcall*)", "0": "its name says TDCALL (__tdcall*)"},
    "ret": {"1": "its name says it returns the output registers (*_ret)", "0": "its name has no _ret"},
    "saved": {"1": "its name says it passes the saved registers (*saved*)", "0": "its name has no 'saved'"},
    "sti": {"1": "its name says it enables interrupts first (*_sti)", "0": "its name has no _sti"},
}


def expected(name: str) -> dict[str, str]:
    """The macro arguments a variant name promises."""
    m = VARIANT_NAME.match(name)
    if m is None:
        return {}
    return {
        "host": "1" if m.group(1) == "seamcall" else "0",
        "ret": "1" if re.search(r"_ret(?:_|$)", name) else "0",
        "saved": "1" if "saved" in name else "0",
        "sti": "1" if name.endswith("_sti") else "0",
    }


def _truth(value: str) -> str | None:
    try:
        return "1" if int(value, 0) else "0"
    except ValueError:
        return None


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    prototypes: dict[str, tuple[str | None, ...]] = {}
    for facts in state.c.values():
        for fname, params in facts.prototypes.items():
            prototypes.setdefault(fname, params)
    kinds = state.kinds()
    done: set[tuple[str, str, int]] = set()
    for v in variants(state):
        if v.synthetic or v.macro is None:
            continue
        name = v.function.name
        promised = expected(name)
        if not promised or (v.function.path, name, v.function.line) in done:
            continue
        done.add((v.function.path, name, v.function.line))
        line = next((i.line for i in v.function.body if i.name == v.macro), v.function.line)
        args = dict(v.args)
        for param, want in promised.items():
            if param not in args:
                continue
            have = _truth(args[param] or "0")
            if have is not None and have != want:
                hits.append(RULE.hit(v.function.path, line, f"{name} expands {v.macro} with {param}={args[param]}, but "
                                     f"{_WHY[param][want]} ({param}={want})"))  # fmt: skip
        found = prototypes.get(name)
        if found is None:
            continue
        params = found
        pointer = next((i for i, s in enumerate(params) if s is not None), None)
        bases = Counter(
            mem[1]
            for step in v.steps
            if step.kind == "insn"
            for op in step.operands
            if (mem := parse_mem(op)) is not None and mem[1] is not None
            and (sym := OFFSET_SYMBOL.fullmatch(mem[0])) is not None and sym.group(1) in kinds
        )  # fmt: skip
        if pointer is None or pointer >= len(ARG_REGS) or not bases:
            continue
        used = bases.most_common(1)[0][0].lstrip("%")
        if used in ARG_REGS and used != ARG_REGS[pointer]:  # (a pointer moved to another register first: unchecked)
            hits.append(RULE.hit(v.function.path, line, f"{name}: its C prototype passes the struct {params[pointer]} "
                                 f"pointer as argument {pointer + 1} (%{ARG_REGS[pointer]}), but {v.macro} indexes "
                                 f"%{used} with its offsets"))  # fmt: skip
    return hits
