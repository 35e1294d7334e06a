"""Macro expansion and path-by-path simulation of an assembly function (rules 4 and 5).

A function body (``SYM_FUNC_START`` .. ``SYM_FUNC_END``) is expanded with the macros of the state
(``.if`` evaluated with the invocation's arguments, ``\\@`` made unique), then every path from the
entry to each return is walked, tracking what each callee-saved register holds (its own value, the
value saved from another register, or something else), the stack of pushed values, which
registers were loaded from an args struct and which of them still hold module/VMM values after the
TDCALL/SEAMCALL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from patchkit.lint.asmfacts import OFFSET_SYMBOL, Function, Item, Macro, parse_mem
from patchkit.lint.regs import CALLEE_SAVED, canonical

_JUMP = re.compile(r"^j[a-z]+$")
_CALL_INSNS = {"tdcall", "seamcall", "vmcall"}
_NOOPS = {"FRAME_BEGIN", "FRAME_END", "REACHABLE", "ANNOTATE_NOENDBR", "ENDBR", "UNWIND_HINT_EMPTY"}
_RETURNS = {"ret", "retq", "RET"}
_TERMINAL = {"ud2", "int3", "hlt"}
_CLEARING = {"xor", "xorl", "xorq", "sub", "subl", "subq"}
_NO_DEST = {"cmp", "cmpq", "cmpl", "test", "testq", "testl", "testb", "bt", "btq", "call", "push", "pushq"}
MAX_STATES = 20000


@dataclass(frozen=True)
class Step:
    """An expanded statement with the source line it came from."""

    path: str
    line: int
    kind: str
    name: str
    operands: tuple[str, ...]
    origin: str = ""  # the macro whose body this came from ("" for the function's own lines)


@dataclass(frozen=True)
class Variant:
    function: Function
    macro: str | None  # the args-struct macro it invokes, if any
    args: tuple[tuple[str, str], ...]  # that invocation's arguments
    steps: tuple[Step, ...]

    @property
    def label(self) -> str:
        if self.macro is None:
            return self.function.name
        shown = " ".join(f"{k}={v}" for k, v in self.args if v not in ("", "0"))
        return f"{self.function.name} ({self.macro} {shown})".replace(" )", ")")


def _eval_condition(expr: str) -> bool:
    cleaned = expr.replace("&&", " and ").replace("||", " or ").replace("!=", " != ")
    cleaned = re.sub(r"!(?!=)", " not ", cleaned)
    if not re.fullmatch(r"[\s\d()<>=!andortx]*", cleaned):
        return True  # an unknown symbol: read the block (both sides are then read, as with cpp)
    try:
        return bool(eval(cleaned, {"__builtins__": {}}, {}))
    except (SyntaxError, NameError, TypeError, ValueError):
        return True


def _substitute(text: str, values: dict[str, str], unique: str) -> str:
    text = text.replace("\\@", unique)
    for name in sorted(values, key=len, reverse=True):
        text = text.replace("\\" + name, values[name])
    return text


def _bind(macro: Macro, operands: tuple[str, ...]) -> dict[str, str]:
    values = {name: (default if default is not None else "") for name, default, _req in macro.params}
    positional = [name for name, _d, _r in macro.params]
    tokens = [t for op in operands for t in re.split(r"\s+", op.strip()) if t]
    index = 0
    for token in tokens:
        if "=" in token:
            key, _, value = token.partition("=")
            values[key] = value
        elif index < len(positional):
            values[positional[index]] = token
            index += 1
    return values


class Expander:
    def __init__(self, macros: dict[str, Macro]) -> None:
        self.macros = macros
        self.counter = 0

    def expand(self, function: Function) -> Variant:
        steps: list[Step] = []
        invoked: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self._items(function.body, function.path, {}, "", steps, invoked, 0, "")
        macro, args = invoked[0] if invoked else (None, ())
        return Variant(function, macro, args, tuple(steps))

    def _items(
        self,
        items: tuple[Item, ...],
        path: str,
        values: dict[str, str],
        unique: str,
        out: list[Step],
        invoked: list[tuple[str, tuple[tuple[str, str], ...]]],
        depth: int,
        origin: str,
    ) -> None:
        active: list[bool] = []  # stack of (branch taken) for .if nesting
        taken: list[bool] = []
        for item in items:
            if item.kind == "directive" and item.name.startswith(".if"):
                cond = _substitute(item.operands[0] if item.operands else "1", values, unique)
                if item.name == ".ifb":
                    result = not cond.strip()
                elif item.name == ".ifnb":
                    result = bool(cond.strip())
                else:
                    result = _eval_condition(cond)
                parent = all(active)
                active.append(result)
                taken.append(result and parent)
                continue
            if item.kind == "directive" and item.name in (".else", ".elseif"):
                if active:
                    if item.name == ".elseif":
                        cond = _substitute(item.operands[0] if item.operands else "1", values, unique)
                        now = not taken[-1] and _eval_condition(cond)
                    else:
                        now = not taken[-1]
                    active[-1] = now
                    taken[-1] = taken[-1] or now
                continue
            if item.kind == "directive" and item.name == ".endif":
                if active:
                    active.pop()
                    taken.pop()
                continue
            if not all(active):
                continue
            name = _substitute(item.name, values, unique)
            operands = tuple(_substitute(op, values, unique) for op in item.operands)
            if item.kind == "insn" and name in self.macros and depth < 8:
                macro = self.macros[name]
                bound = _bind(macro, operands)
                self.counter += 1
                if _uses_offsets(macro):
                    invoked.append((name, tuple(sorted(bound.items()))))
                self._items(macro.body, macro.path, bound, f"_{self.counter}", out, invoked, depth + 1, name)
                continue
            out.append(Step(path, item.line, item.kind, name, operands, origin))


def _uses_offsets(macro: Macro) -> bool:
    return any(OFFSET_SYMBOL.search(" ".join(i.operands)) for i in macro.body)


# ---- the simulation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PathProblem:
    kind: str  # "not-restored" | "unbalanced" | "underflow" | "not-cleared"
    reg: str
    step: Step  # the return (or the pop) where it shows
    detail: str = ""
    where: Step | None = None  # the statement at fault: the last write of the register, or its load


_ORIG = "orig:"


def _dest(step: Step) -> str | None:
    if step.kind != "insn" or not step.operands:
        return None
    mnemonic = step.name
    if mnemonic in _NO_DEST or _JUMP.match(mnemonic) or mnemonic.startswith("push"):
        return None
    return canonical(step.operands[-1])


def simulate(variant: Variant, *, require_clear: bool, clear_mode: str = "cleared") -> list[PathProblem]:
    steps = variant.steps
    labels: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step.kind == "label":
            labels[step.name] = index
    fault_edges: dict[int, list[int]] = {}
    for step in steps:
        if step.kind == "cmacro" and step.name.startswith("_ASM_EXTABLE") and len(step.operands) >= 2:
            src, dst = step.operands[0].strip(), step.operands[1].strip()
            if src in labels and dst in labels:
                first = labels[src]
                while first < len(steps) and steps[first].kind != "insn":
                    first += 1
                fault_edges.setdefault(first, []).append(labels[dst])

    problems: dict[tuple[str, str, str], PathProblem] = {}
    init_vals = tuple(_ORIG + r for r in CALLEE_SAVED)
    load_at: dict[str, Step] = {}
    for step in steps:
        if step.kind == "insn" and step.name.startswith("mov") and len(step.operands) == 2:
            mem = parse_mem(step.operands[0])
            dest = canonical(step.operands[1])
            if mem is not None and dest is not None and OFFSET_SYMBOL.search(mem[0]):
                load_at.setdefault(dest, step)
    # state: (pc, vals, stack, loaded, pending, after_call, writers: step index of each register's last write)
    State = tuple[int, tuple[str, ...], tuple[str, ...], frozenset[str], frozenset[str], bool, tuple[int, ...]]
    empty: frozenset[str] = frozenset()
    start: State = (0, init_vals, (), empty, empty, False, tuple(-1 for _r in CALLEE_SAVED))

    def at_return(step: Step, vals: tuple[str, ...], stack: tuple[str, ...], pending: frozenset[str],
                  writers: tuple[int, ...]) -> None:  # fmt: skip
        _at_return(step, vals, stack, pending, require_clear, problems, steps, writers, load_at)

    seen: set[object] = set()
    todo: list[State] = [start]
    while todo and len(seen) < MAX_STATES:
        state = todo.pop()
        if state in seen:
            continue
        seen.add(state)
        pc, vals, stack, loaded, pending, after_call, writers = state
        if pc >= len(steps):
            continue  # fell off the end: no return on this path
        step = steps[pc]
        nxt = pc + 1
        if step.kind != "insn":
            todo.append((nxt, vals, stack, loaded, pending, after_call, writers))
            continue
        m = step.name
        if m in _NOOPS:
            todo.append((nxt, vals, stack, loaded, pending, after_call, writers))
            continue
        if m in _RETURNS:
            at_return(step, vals, stack, pending, writers)
            continue
        if m in _TERMINAL:
            continue
        for target in fault_edges.get(pc, ()):
            todo.append((target, vals, stack, loaded, empty, False, writers))
        if m in _CALL_INSNS:
            todo.append((nxt, vals, stack, loaded, loaded, True, writers))
            continue
        if _JUMP.match(m) and m != "jmp":
            target_label = step.operands[0] if step.operands else ""
            # right after SEAMCALL, CF=1 is VMfailInvalid: no module ran, the registers hold no output
            taken_fails = after_call and m in ("jc", "jb", "jnae")
            falls_fails = after_call and m in ("jnc", "jae", "jnb")
            if target_label in labels:
                todo.append(
                    (labels[target_label], vals, stack, loaded, empty if taken_fails else pending, False, writers)
                )
            else:
                at_return(step, vals, stack, empty if taken_fails else pending, writers)
            todo.append((nxt, vals, stack, loaded, empty if falls_fails else pending, False, writers))
            continue
        if m == "jmp":
            target_label = step.operands[0] if step.operands else ""
            if target_label in labels:
                todo.append((labels[target_label], vals, stack, loaded, pending, False, writers))
            else:
                at_return(step, vals, stack, pending, writers)  # a tail call
            continue
        new_vals = list(vals)
        new_stack = list(stack)
        new_loaded = set(loaded)
        new_pending = set(pending)
        new_writers = list(writers)
        if m.startswith("push") and step.operands:
            reg = canonical(step.operands[0])
            new_stack.append(vals[CALLEE_SAVED.index(reg)] if reg in CALLEE_SAVED else "other")
        elif m.startswith("pop") and step.operands:
            reg = canonical(step.operands[0])
            if not new_stack:
                problems.setdefault(("underflow", reg or "?", ""), PathProblem("underflow", reg or "?", step, "", step))
                continue
            value = new_stack.pop()
            if reg in CALLEE_SAVED:
                new_vals[CALLEE_SAVED.index(reg)] = value
                new_writers[CALLEE_SAVED.index(reg)] = pc
            if reg is not None:
                new_pending.discard(reg)
        elif m.startswith(("add", "sub", "lea")) and len(step.operands) == 2 and canonical(step.operands[1]) == "rsp":
            amount = _stack_adjust(m, step.operands[0])
            if amount is not None:
                count = abs(amount) // 8
                if amount > 0:
                    del new_stack[max(0, len(new_stack) - count) :]
                else:
                    new_stack.extend(["other"] * count)
        else:
            dest = _dest(step)
            if dest is not None:
                if dest in CALLEE_SAVED:
                    new_vals[CALLEE_SAVED.index(dest)] = "x"
                    new_writers[CALLEE_SAVED.index(dest)] = pc
                src = step.operands[0] if len(step.operands) == 2 else ""
                mem = parse_mem(src)
                if m.startswith("mov") and mem is not None and OFFSET_SYMBOL.search(mem[0]):
                    new_loaded.add(dest)
                    new_pending.discard(dest)
                elif _clears(step, dest) or m.startswith(("mov", "lea")):
                    new_pending.discard(dest)
            if clear_mode == "stored-or-cleared" and m.startswith("mov") and len(step.operands) == 2:
                mem = parse_mem(step.operands[1])
                reg = canonical(step.operands[0])
                if mem is not None and OFFSET_SYMBOL.search(mem[0]) and reg is not None:
                    new_pending.discard(reg)
        todo.append(
            (
                nxt, tuple(new_vals), tuple(new_stack), frozenset(new_loaded), frozenset(new_pending), False,
                tuple(new_writers),
            )
        )  # fmt: skip
    return list(problems.values())


def _clears(step: Step, dest: str) -> bool:
    if step.name in _CLEARING and len(step.operands) == 2:
        return canonical(step.operands[0]) == dest
    return False


def _stack_adjust(mnemonic: str, operand: str) -> int | None:
    if mnemonic.startswith("lea"):
        mem = parse_mem(operand)
        if mem is None or mem[1] != "rsp":
            return None
        text = mem[0] or "0"
    else:
        if not operand.startswith("$"):
            return None
        text = operand[1:]
    try:
        value = int(text, 0)
    except ValueError:
        return None
    return -value if mnemonic.startswith("sub") else value


def _at_return(
    step: Step,
    vals: tuple[str, ...],
    stack: tuple[str, ...],
    pending: frozenset[str],
    require_clear: bool,
    problems: dict[tuple[str, str, str], PathProblem],
    steps: tuple[Step, ...],
    writers: tuple[int, ...],
    load_at: dict[str, Step],
) -> None:
    for index, (reg, value) in enumerate(zip(CALLEE_SAVED, vals, strict=True)):
        if value == _ORIG + reg:
            continue
        detail = value[len(_ORIG) :] if value.startswith(_ORIG) else ""
        where = steps[writers[index]] if writers[index] >= 0 else step
        problems.setdefault(("not-restored", reg, detail), PathProblem("not-restored", reg, step, detail, where))
    if stack:
        problems.setdefault(("unbalanced", str(len(stack)), ""), PathProblem("unbalanced", str(len(stack)), step))
    if require_clear:
        for reg in sorted(pending):
            problems.setdefault(("not-cleared", reg, ""), PathProblem("not-cleared", reg, step, "", load_at.get(reg)))
