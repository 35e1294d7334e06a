"""Macro expansion and path-by-path simulation of an x86-64 assembly function.

A function body (``SYM_FUNC_START`` .. ``SYM_FUNC_END``) is expanded with the macros of the state
(``.if`` evaluated with the invocation's arguments by :mod:`patchkit.lint.expr`, ``\\@`` made unique),
then every path from the entry to each return is walked, tracking what each callee-saved register
holds (its own value, the value saved from another register, or something else), the stack of pushed
values, and, around a call that crosses to another side (firmware, a hypervisor: a
:class:`Crossing` names the instructions and the memory slots of the struct that carries the
registers), which registers were loaded from that struct and which of them still hold what came back.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, replace

from patchkit.lint import expr
from patchkit.lint.lang.asm import Function, Item, Macro, parse_mem
from patchkit.lint.lang.x86 import CALLEE_SAVED, canonical

_JUMP = re.compile(r"^j[a-z]+$")
_NOOPS = {"FRAME_BEGIN", "FRAME_END", "REACHABLE", "ANNOTATE_NOENDBR", "ENDBR", "UNWIND_HINT_EMPTY"}
_RETURNS = {"ret", "retq", "RET"}
_TERMINAL = {"ud2", "int3", "hlt"}
_CLEARING = {"xor", "xorl", "xorq", "sub", "subl", "subq"}
_NO_DEST = {"cmp", "cmpq", "cmpl", "test", "testq", "testl", "testb", "bt", "btq", "call", "push", "pushq"}
MAX_STATES = 20000
_CACHE_LIMIT = 2048


@dataclass(frozen=True)
class Crossing:
    """The calls that cross to another side, for the walk: the instructions, and the memory displacements
    (``TDX_MODULE_rcx`` in ``TDX_MODULE_rcx(%rsi)``) that are slots of the struct carrying the registers.
    Right after such a call, CF=1 means the call failed without running the other side (no outputs)."""

    calls: frozenset[str]
    slot: re.Pattern[str]

    def is_slot(self, operand: str) -> bool:
        mem = parse_mem(operand)
        return mem is not None and self.slot.search(mem[0]) is not None


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
    relevant: bool = False  # touches a register slot or the stack: worth walking
    synthetic: bool = False  # a macro variant no function invokes: the macro's body, then a return
    # conditions that could not be evaluated within bounds: (path, line, the directive as written, why)
    unreadable: tuple[tuple[str, int, str, str], ...] = ()

    @property
    def label(self) -> str:
        if self.macro is None:
            return self.function.name
        shown = " ".join(f"{k}={v}" for k, v in self.args if v not in ("", "0"))
        if self.synthetic:
            return f"{self.macro} {shown} (no caller yet)".replace("  ", " ")
        return f"{self.function.name} ({self.macro} {shown})".replace(" )", ")")


@functools.lru_cache(maxsize=4096)
def _condition(text: str) -> tuple[bool, str]:
    """Whether an ``.if`` block is taken, and why its condition has no value when it is out of bounds ("" when
    it has one). A name without a value or a form the grammar does not read (``.ifc``, ``.ifdef``) takes the
    block, as cpp conditionals are read: both are common and harmless. A condition beyond the bounds of
    :mod:`patchkit.lint.expr` also takes the block, and is reported."""
    try:
        return bool(expr.evaluate(text)), ""
    except expr.OutOfBounds as exc:
        return True, str(exc)
    except expr.ExprError:
        return True, ""


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


_EXPANDED: dict[tuple[object, ...], Variant] = {}


class Expander:
    """Expands functions and macro variants; results are kept across states (keyed by the code itself and
    the macros in scope, compared by value), since most patches leave most assembly unchanged."""

    def __init__(self, macros: dict[str, Macro], crossing: Crossing) -> None:
        self.macros = macros
        self.crossing = crossing
        self.counter = 0
        self.unreadable: list[tuple[str, int, str, str]] = []
        self._scope = (crossing, tuple(sorted(macros.items())))

    def expand(self, function: Function) -> Variant:
        key = ("fn", function, self._scope)
        hit = _EXPANDED.get(key)
        if hit is None:
            if len(_EXPANDED) >= _CACHE_LIMIT:
                _EXPANDED.clear()
            hit = _EXPANDED[key] = self._expand(function)
        return hit

    def expand_macro(self, macro: Macro, values: dict[str, str]) -> Variant:
        """One variant of ``macro`` on its own, as if a function invoked it and then returned."""
        key = ("macro", macro, tuple(sorted(values.items())), self._scope)
        hit = _EXPANDED.get(key)
        if hit is None:
            if len(_EXPANDED) >= _CACHE_LIMIT:
                _EXPANDED.clear()
            hit = _EXPANDED[key] = self._expand_macro(macro, values)
        return hit

    def _expand(self, function: Function) -> Variant:
        self.counter = 0  # ``\\@`` labels numbered per expansion, so the same code expands the same in every state
        self.unreadable = []
        steps: list[Step] = []
        invoked: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self._items(function.body, function.path, {}, "", steps, invoked, 0, "")
        macro, args = invoked[0] if invoked else (None, ())
        return Variant(function, macro, args, tuple(steps), self._relevant(steps), unreadable=tuple(self.unreadable))

    def _expand_macro(self, macro: Macro, values: dict[str, str]) -> Variant:
        self.counter = 1
        self.unreadable = []
        steps: list[Step] = []
        invoked: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self._items(macro.body, macro.path, values, "_1", steps, invoked, 1, macro.name)
        steps.append(Step(macro.path, macro.line, "insn", "RET", (), ""))
        shell = Function(macro.name, macro.path, macro.line, ())
        return Variant(shell, macro.name, tuple(sorted(values.items())), tuple(steps), self._relevant(steps), True,
                       unreadable=tuple(self.unreadable))  # fmt: skip

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
                    result = self._condition(cond, path, item)
                parent = all(active)
                active.append(result)
                taken.append(result and parent)
                continue
            if item.kind == "directive" and item.name in (".else", ".elseif"):
                if active:
                    if item.name == ".elseif":
                        cond = _substitute(item.operands[0] if item.operands else "1", values, unique)
                        now = not taken[-1] and self._condition(cond, path, item)
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
                if uses_slots(macro, self.crossing):
                    invoked.append((name, tuple(sorted(bound.items()))))
                self._items(macro.body, macro.path, bound, f"_{self.counter}", out, invoked, depth + 1, name)
                continue
            out.append(Step(path, item.line, item.kind, name, operands, origin))

    def _condition(self, cond: str, path: str, item: Item) -> bool:
        taken, why = _condition(cond)
        if why:
            self.unreadable.append((path, item.line, f"{item.name} {cond}", why))
        return taken

    def _relevant(self, steps: list[Step]) -> bool:
        slot = self.crossing.slot
        return any(slot.search(" ".join(s.operands)) or s.name.startswith("push") for s in steps)


def uses_slots(macro: Macro, crossing: Crossing) -> bool:
    """Whether the macro's body names a register slot (it is a macro that carries the registers)."""
    return any(crossing.slot.search(" ".join(i.operands)) for i in macro.body)


MAX_VARIANTS = 64
_PARAM_REF = re.compile(r"\\(\w+)")
_COMPARED = re.compile(r"\\(\w+)\s*(?:==|!=|<=|>=|<|>)\s*(-?\d+)|(-?\d+)\s*(?:==|!=|<=|>=|<|>)\s*\\(\w+)")


def macro_variants(macro: Macro) -> list[dict[str, str]]:
    """Every combination of the values the macro's own ``.if`` conditions can tell apart, read from its
    text (no caller needed): 0 and 1 for a parameter a condition reads, plus any number it is compared
    with; empty and non-empty for ``.ifb``/``.ifnb``. Other parameters keep their default, or a
    placeholder that names no register. At most MAX_VARIANTS combinations."""
    names = [name for name, _d, _r in macro.params]
    choices: dict[str, set[str]] = {}
    for item in macro.body:
        if item.kind != "directive" or not item.name.startswith((".if", ".elseif")) or not item.operands:
            continue
        text = item.operands[0]
        for ref in _PARAM_REF.findall(text):
            if ref not in names:
                continue
            if item.name in (".ifb", ".ifnb"):
                choices.setdefault(ref, set()).update(("", "1"))
            else:
                choices.setdefault(ref, set()).update(("0", "1"))
        for m in _COMPARED.finditer(text):
            ref, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
            number = expr.literal(value)
            if ref in names and number is not None:
                choices.setdefault(ref, set()).add(str(number))
    fixed = {
        name: (default if default is not None else f"<{name}>")
        for name, default, _req in macro.params
        if name not in choices
    }
    varied = [name for name in names if name in choices]
    out: list[dict[str, str]] = []
    for combo in itertools.product(*(sorted(choices[n]) for n in varied)):
        out.append({**fixed, **dict(zip(varied, combo, strict=True))})
        if len(out) >= MAX_VARIANTS:
            break
    return out


# ---- the simulation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PathProblem:
    kind: str  # "not-restored" | "unbalanced" | "underflow" | "not-cleared" | "gave-up"
    reg: str
    step: Step  # the return (or the pop) where it shows
    detail: str = ""
    where: Step | None = None  # the statement at fault: the last write, the push left over, the clearing that missed


_ORIG = "orig:"
_NOT_RETURNED = frozenset(("rax", "rsp"))  # RAX carries the status back to C; RSP is the stack
_CACHE: dict[tuple[tuple[Step, ...], str | None, Crossing], list[PathProblem]] = {}


def _dest(step: Step) -> str | None:
    if step.kind != "insn" or not step.operands:
        return None
    mnemonic = step.name
    if mnemonic in _NO_DEST or _JUMP.match(mnemonic) or mnemonic.startswith("push"):
        return None
    return canonical(step.operands[-1])


def _is_load(step: Step, crossing: Crossing) -> str | None:
    """The register a ``mov SLOT(base), %reg`` loads, else None."""
    if (
        step.kind == "insn"
        and step.name.startswith("mov")
        and len(step.operands) == 2
        and crossing.is_slot(step.operands[0])
    ):
        return canonical(step.operands[1])
    return None


def _is_store(step: Step, crossing: Crossing) -> str | None:
    """The register a ``mov %reg, SLOT(base)`` stores, else None."""
    if (
        step.kind == "insn"
        and step.name.startswith("mov")
        and len(step.operands) == 2
        and crossing.is_slot(step.operands[1])
    ):
        return canonical(step.operands[0])
    return None


@dataclass(frozen=True)
class Returned:
    """What a variant gets back from the other side of its crossing call, read from its own text."""

    regs: frozenset[str]  # loaded from a register slot, or stored to one / cleared after the call
    claims: bool  # it stores or clears some of them after the call: it hands outputs back deliberately


def returned(steps: tuple[Step, ...], crossing: Crossing) -> Returned:
    first_call = next((i for i, s in enumerate(steps) if s.kind == "insn" and s.name in crossing.calls), None)
    if first_call is None:
        return Returned(frozenset(), False)
    loaded = {r for s in steps if (r := _is_load(s, crossing)) is not None}
    handled: set[str] = set()
    for s in steps[first_call + 1 :]:
        stored = _is_store(s, crossing)
        if stored is not None:
            handled.add(stored)
        elif s.kind == "insn" and (dest := _dest(s)) is not None and _clears(s, dest):
            handled.add(dest)
    regs = frozenset((loaded | handled) - _NOT_RETURNED)
    return Returned(regs, bool(handled - _NOT_RETURNED))


def simulate(variant: Variant, *, clear_mode: str | None, crossing: Crossing) -> list[PathProblem]:
    """Walk every path of the variant. ``clear_mode``: None (no clearing required), "cleared" (every
    register that came back is cleared or restored before the return) or "stored-or-cleared" (stored to
    the register struct for the caller also counts; only for a variant that stores or clears any).

    A walk that reaches :data:`MAX_STATES` stops and says so (a "gave-up" problem at the entry): the
    paths it did not walk are unchecked, which must not pass silently."""
    key = (variant.steps, clear_mode, crossing)
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        hit = _CACHE[key] = _Walk(variant.steps, clear_mode, crossing).run()
    return hit


@dataclass(frozen=True)
class _Path:
    """Where one path is and what it carries; equal paths are walked once."""

    pc: int
    vals: tuple[str, ...]  # per callee-saved register: its own value (orig:<reg>), another's, or "x"
    stack: tuple[tuple[str, int], ...] = ()  # pushed (value, push pc)
    pending: frozenset[str] = frozenset()  # registers still holding what came back from the call
    after_call: bool = False  # the previous instruction was the crossing call (its CF means something)
    writers: tuple[int, ...] = ()  # per callee-saved register: the pc that last wrote it (-1: none)
    call_pc: int = -1
    last_clear: int = -1  # the last clearing or copy-out of a pending register on this path

    def to(self, pc: int, **changes: object) -> _Path:
        """This path moved to ``pc`` (after_call reset unless given), with ``changes``."""
        return replace(self, **{"pc": pc, "after_call": False, **changes})  # type: ignore[arg-type]


class _Walk:
    """The path walk over one variant's steps: each ``_<kind>`` method is one kind of instruction and
    returns the paths that continue from it."""

    def __init__(self, steps: tuple[Step, ...], clear_mode: str | None, crossing: Crossing) -> None:
        self.steps = steps
        self.crossing = crossing
        self.labels = {step.name: index for index, step in enumerate(steps) if step.kind == "label"}
        self.fault_edges = self._fault_edges()
        self.back = returned(steps, crossing)
        if clear_mode == "stored-or-cleared" and not self.back.claims:
            clear_mode = None  # neither stores nor clears what came back: it makes no claim to hold it to
        self.require_clear = clear_mode is not None
        self.stored_counts = clear_mode == "stored-or-cleared"
        self.load_at: dict[str, Step] = {}
        for step in steps:
            reg = _is_load(step, crossing)
            if reg is not None:
                self.load_at.setdefault(reg, step)
        self.problems: dict[tuple[str, str, str], PathProblem] = {}

    def _fault_edges(self) -> dict[int, list[int]]:
        """Instruction index -> the fixup labels an exception-table entry sends a fault there to."""
        edges: dict[int, list[int]] = {}
        for step in self.steps:
            if step.kind == "cmacro" and step.name.startswith("_ASM_EXTABLE") and len(step.operands) >= 2:
                src, dst = step.operands[0].strip(), step.operands[1].strip()
                if src in self.labels and dst in self.labels:
                    first = self.labels[src]
                    while first < len(self.steps) and self.steps[first].kind != "insn":
                        first += 1
                    edges.setdefault(first, []).append(self.labels[dst])
        return edges

    def run(self) -> list[PathProblem]:
        start = _Path(0, tuple(_ORIG + r for r in CALLEE_SAVED), writers=tuple(-1 for _r in CALLEE_SAVED))
        seen: set[_Path] = set()
        todo: list[_Path] = [start]
        while todo and len(seen) < MAX_STATES:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            if path.pc < len(self.steps):  # past the end: no return on this path
                todo.extend(self._step(path))
        if todo and self.steps:
            entry = self.steps[0]
            self._report("gave-up", str(MAX_STATES), entry, "", entry)
        return list(self.problems.values())

    def _report(self, kind: str, reg: str, step: Step, detail: str, where: Step) -> None:
        # one imbalance per variant, however many values each path leaves (the first one found is shown)
        key = (kind, "" if kind == "unbalanced" else reg, detail)
        self.problems.setdefault(key, PathProblem(kind, reg, step, detail, where))

    def _step(self, path: _Path) -> list[_Path]:
        step = self.steps[path.pc]
        m = step.name
        if step.kind != "insn" or m in _NOOPS:
            return [path.to(path.pc + 1, after_call=path.after_call)]
        if m in _RETURNS:
            self._at_return(step, path, path.pending)
            return []
        if m in _TERMINAL:
            return []
        # the exception-table path: the instruction did not run, nothing came back
        faults = [path.to(target, pending=frozenset(), last_clear=-1) for target in self.fault_edges.get(path.pc, ())]
        if m in self.crossing.calls:
            return [*faults, replace(path, pc=path.pc + 1, pending=self.back.regs, after_call=True, call_pc=path.pc,
                                     last_clear=-1)]  # fmt: skip
        if m == "jmp":
            return faults + self._jump(step, path)
        if _JUMP.match(m):
            return faults + self._branch(step, path)
        if m.startswith("push") and step.operands:
            return [*faults, self._push(step, path)]
        if m.startswith("pop") and step.operands:
            return faults + self._pop(step, path)
        if m.startswith(("add", "sub", "lea")) and len(step.operands) == 2 and canonical(step.operands[1]) == "rsp":
            return [*faults, self._adjust_stack(step, path)]
        return [*faults, self._write(step, path)]

    def _jump(self, step: Step, path: _Path) -> list[_Path]:
        target = step.operands[0] if step.operands else ""
        if target in self.labels:
            return [path.to(self.labels[target])]
        self._at_return(step, path, path.pending)  # a tail call
        return []

    def _branch(self, step: Step, path: _Path) -> list[_Path]:
        m, target = step.name, step.operands[0] if step.operands else ""
        # right after SEAMCALL, CF=1 is VMfailInvalid: no module ran, the registers hold no output
        taken = frozenset() if path.after_call and m in ("jc", "jb", "jnae") else path.pending
        falls = frozenset() if path.after_call and m in ("jnc", "jae", "jnb") else path.pending
        out = [path.to(self.labels[target], pending=taken)] if target in self.labels else []
        if target not in self.labels:
            self._at_return(step, path, taken)
        return [*out, path.to(path.pc + 1, pending=falls)]

    def _push(self, step: Step, path: _Path) -> _Path:
        reg = canonical(step.operands[0])
        value = path.vals[CALLEE_SAVED.index(reg)] if reg in CALLEE_SAVED else "other"
        return path.to(path.pc + 1, stack=(*path.stack, (value, path.pc)))

    def _pop(self, step: Step, path: _Path) -> list[_Path]:
        reg = canonical(step.operands[0])
        if not path.stack:
            self._report("underflow", reg or "?", step, "", step)
            return []
        value, _pushed = path.stack[-1]
        vals, writers = list(path.vals), list(path.writers)
        if reg in CALLEE_SAVED:
            vals[CALLEE_SAVED.index(reg)] = value
            writers[CALLEE_SAVED.index(reg)] = path.pc
        pending, last_clear = path.pending, path.last_clear
        if reg is not None and reg in pending:
            pending, last_clear = pending - {reg}, path.pc
        return [path.to(path.pc + 1, vals=tuple(vals), writers=tuple(writers), stack=path.stack[:-1],
                        pending=pending, last_clear=last_clear)]  # fmt: skip

    def _adjust_stack(self, step: Step, path: _Path) -> _Path:
        amount = _stack_adjust(step.name, step.operands[0])
        stack = path.stack
        if amount is not None:
            count = abs(amount) // 8
            stack = stack[: max(0, len(stack) - count)] if amount > 0 else (*stack, *[("other", path.pc)] * count)
        return path.to(path.pc + 1, stack=stack)

    def _write(self, step: Step, path: _Path) -> _Path:
        """Any other instruction: what its destination now holds, and whether it clears a pending register."""
        vals, writers = list(path.vals), list(path.writers)
        pending, last_clear = set(path.pending), path.last_clear
        dest = _dest(step)
        if dest is not None:
            if dest in CALLEE_SAVED:
                vals[CALLEE_SAVED.index(dest)] = "x"
                writers[CALLEE_SAVED.index(dest)] = path.pc
            if _is_load(step, self.crossing) is not None:
                pending.discard(dest)  # loaded again from the struct: an input, not what came back
            elif (_clears(step, dest) or step.name.startswith(("mov", "lea"))) and dest in pending:
                pending.discard(dest)
                last_clear = path.pc
        stored = _is_store(step, self.crossing) if self.stored_counts else None
        if stored is not None and stored in pending:
            pending.discard(stored)
            last_clear = path.pc
        return path.to(path.pc + 1, vals=tuple(vals), writers=tuple(writers), pending=frozenset(pending),
                       last_clear=last_clear)  # fmt: skip

    def _at_return(self, step: Step, path: _Path, pending: frozenset[str]) -> None:
        """What is wrong when this path returns to C: callee-saved registers, the stack, what came back."""
        for index, (reg, value) in enumerate(zip(CALLEE_SAVED, path.vals, strict=True)):
            writer = path.writers[index]
            if value == _ORIG + reg:
                continue
            if path.stack and writer >= 0 and self.steps[writer].name.startswith("pop"):
                # values left on the stack shift what every pop gets: the imbalance (below) is the one defect
                continue
            detail = value[len(_ORIG) :] if value.startswith(_ORIG) else ""
            self._report("not-restored", reg, step, detail, self.steps[writer] if writer >= 0 else step)
        if path.stack:
            left = self.steps[path.stack[-1][1]]
            self._report("unbalanced", str(len(path.stack)), step, "", left)
        if self.require_clear:
            for reg in sorted(pending):
                # at fault: the clearing (or copy-out) on this path that left it out; with none, its load or the call
                if path.last_clear >= 0:
                    where, detail = self.steps[path.last_clear], "missed"
                else:
                    call = self.steps[path.call_pc] if path.call_pc >= 0 else step
                    where, detail = self.load_at.get(reg) or call, "none"
                self._report("not-cleared", reg, step, detail, where)


def _clears(step: Step, dest: str) -> bool:
    if step.name in _CLEARING and len(step.operands) == 2:
        return canonical(step.operands[0]) == dest
    return False


MAX_STACK_ADJUST = 1 << 16  # bytes: far beyond any kernel frame; a larger adjustment is not followed


def _stack_adjust(mnemonic: str, operand: str) -> int | None:
    """The bytes an add/sub/lea of %rsp pops (positive) or pushes (negative); None when not known or beyond
    :data:`MAX_STACK_ADJUST` (the walk then leaves the stack as it is, rather than track a huge frame)."""
    if mnemonic.startswith("lea"):
        mem = parse_mem(operand)
        if mem is None or mem[1] != "rsp":
            return None
        text = mem[0] or "0"
    else:
        if not operand.startswith("$"):
            return None
        text = operand[1:]
    value = expr.literal(text)
    if value is None or abs(value) > MAX_STACK_ADJUST:
        return None
    return -value if mnemonic.startswith("sub") else value
