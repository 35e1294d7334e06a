"""tdx/mov-register-matches-offset: a register moves to and from its own slot of an args struct.

``mov TDX_K_x(base), %y`` and ``mov %y, TDX_K_x(base)`` have x == y; the one
exception is the pointer register's own field stored from the value it got back, parked on the stack.
"""

from __future__ import annotations

from patchkit.lint import options
from patchkit.lint.lang.asm import AsmFacts, Item, parse_mem
from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import OFFSET_SYMBOL, TdxState

POINTER_EXCEPTION = options.boolean(
    "pointer_exception",
    True,
    "allow the pointer register's own field (TDX_MODULE_rsi(%rsi)) to be stored from a register just popped, "
    "loaded from a stack slot or exchanged with one",
)
RULE: StateRule[TdxState] = StateRule("tdx/mov-register-matches-offset", options=(POINTER_EXCEPTION,))


def _blocks(facts: AsmFacts) -> dict[int, str]:
    """Line -> block name (macro or function) for the lines inside one."""
    owner: dict[int, str] = {}
    for macro in facts.macros.values():
        for item in macro.body:
            owner[item.line] = macro.name
    for fn in facts.functions:
        for item in fn.body:
            owner.setdefault(item.line, fn.name)
    return owner


def _from_stack(items: list[Item], at: Item, reg: str, owner: dict[int, str], block: str) -> bool:
    """Whether ``reg`` was last written, before ``at`` in the same block, from the stack (``pop %reg``,
    ``mov N(%rsp), %reg`` or an ``xchg`` with a stack slot)."""
    index = items.index(at)
    for item in reversed(items[:index]):
        if owner.get(item.line, "") != block:
            break
        if item.kind != "insn" or not item.operands:
            continue
        if item.name.startswith("pop"):
            if canonical(item.operands[0]) == reg:
                return True
            continue
        if item.name.startswith("xchg") and len(item.operands) == 2:
            regs = [canonical(op) for op in item.operands]
            mems = [parse_mem(op) for op in item.operands]
            if reg in regs and any(m is not None and m[1] == "rsp" for m in mems):
                return True
        if canonical(item.operands[-1]) == reg:
            src = parse_mem(item.operands[0]) if len(item.operands) == 2 else None
            return item.name.startswith("mov") and src is not None and src[1] == "rsp"
    return False


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    kinds = state.kinds()
    pointer_exception = settings[POINTER_EXCEPTION]
    hits: list[Hit] = []
    for path, facts in sorted(state.asm.items()):
        owner = _blocks(facts)
        moves = []
        for item in facts.items:
            if item.kind != "insn" or not item.name.startswith("mov") or len(item.operands) != 2:
                continue
            for pos, operand in enumerate(item.operands):
                mem = parse_mem(operand)
                if mem is None:
                    continue
                sym = OFFSET_SYMBOL.fullmatch(mem[0])
                if sym is None or sym.group(1) not in kinds:
                    continue
                block = owner.get(item.line, "")
                moves.append((item, pos, sym, block))
        for item, pos, sym, block in moves:
            field_reg = canonical(sym.group(2))
            other = canonical(item.operands[1 - pos])
            if field_reg is None or other is None or field_reg == other:
                continue
            mem = parse_mem(item.operands[pos])
            base = mem[1] if mem is not None else None
            # The one exception: the pointer register's own field, stored from the value the register got back,
            # which had to wait on the stack while the register held the pointer again. Loading that field into
            # another register, or storing a register that did not come from the stack, is a mismatch.
            if (
                pointer_exception and pos == 1 and field_reg == base
                and _from_stack(facts.items, item, other, owner, block)
            ):  # fmt: skip
                continue
            direction = "loaded into" if pos == 0 else "stored from"
            hits.append(RULE.hit(path, item.line, f"{sym.group(0)} is {direction} %{other} in {block or path}; the "
                                 f"offset is that of %{field_reg}"))  # fmt: skip
    return hits
