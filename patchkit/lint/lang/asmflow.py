"""Macro expansion and path-by-path simulation of an x86-64 assembly function.

A function body (``SYM_FUNC_START`` .. ``SYM_FUNC_END``) is expanded with the macros of the state
(``.if`` evaluated with the invocation's arguments by :mod:`patchkit.lint.expr`, ``\\@`` made unique),
then every path from the entry to each return is walked, tracking what every register and stack slot
holds (the caller's value, an input loaded from the struct that carries the registers, what came back
from the other side, 0, a constant), the stack of pushed values, and, around a call that crosses to
another side (firmware, a hypervisor: a :class:`Crossing` names the instructions and the memory slots
of that struct), which registers still hold what came back. The walk (:func:`walk`, cached by the
expanded steps) records facts for rules to judge: each way out with what it carries, the registers at
each crossing call, each store to a slot after it, the instruction after each STI, and a fixup that
reads a RAX its exception-table entry did not set.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, replace

from patchkit.lint import expr
from patchkit.lint.lang.asm import Function, Item, Macro, parse_mem
from patchkit.lint.lang.x86 import CALLEE_SAVED, GPRS, NUMBER, canonical

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
    slot: re.Pattern[str]  # its last group names the register the slot is for
    # exception-table entries that put the trap number in RAX: the entry macros, and the types a generic
    # entry (``_ASM_EXTABLE_TYPE(from, to, type)``) may name
    trap_entries: frozenset[str] = frozenset()
    trap_types: frozenset[str] = frozenset()

    def is_slot(self, operand: str) -> bool:
        mem = parse_mem(operand)
        return mem is not None and self.slot.search(mem[0]) is not None

    def field(self, operand: str) -> str | None:
        """The register whose slot ``operand`` is (``TDX_MODULE_r12(%rsi)``: r12), else None."""
        mem = parse_mem(operand)
        found = self.slot.search(mem[0]) if mem is not None else None
        if found is None or found.lastindex is None:
            return None
        return canonical(found.group(found.lastindex))

    def delivers_trap(self, entry: Step) -> bool:
        """Whether an exception-table entry puts the trap number in RAX for its fixup."""
        if entry.name in self.trap_entries:
            return True
        kind = entry.operands[2] if len(entry.operands) >= 3 else ""
        return any(word in self.trap_types for word in re.findall(r"\w+", kind))


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
    invoked_at: int = 0  # the line of the function's invocation of that macro (0: none, or a macro variant)

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
        invoked: list[tuple[str, tuple[tuple[str, str], ...], int]] = []
        self._items(function.body, function.path, {}, "", steps, invoked, 0, "")
        macro, args, line = invoked[0] if invoked else (None, (), 0)
        return Variant(function, macro, args, tuple(steps), self._relevant(steps), unreadable=tuple(self.unreadable),
                       invoked_at=line)  # fmt: skip

    def _expand_macro(self, macro: Macro, values: dict[str, str]) -> Variant:
        self.counter = 1
        self.unreadable = []
        steps: list[Step] = []
        invoked: list[tuple[str, tuple[tuple[str, str], ...], int]] = []
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
        invoked: list[tuple[str, tuple[tuple[str, str], ...], int]],
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
                    invoked.append((name, tuple(sorted(bound.items())), item.line if depth == 0 else 0))
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


# ---- the simulation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathProblem:
    kind: str  # the walk's: "not-restored" | "unbalanced" | "underflow" | "not-cleared" | "gave-up"; a rule's own
    reg: str
    step: Step  # the return (or the pop) where it shows
    detail: str = ""
    where: Step | None = None  # the statement at fault: the last write, the push left over, the clearing that missed


_ORIG = "orig:"
_NOT_RETURNED = frozenset(("rax", "rsp"))  # RAX carries the status back to C; RSP is the stack

# What a register or a stack slot holds, as the walk follows it: a short text, so paths compare cheaply.
#   orig:<reg>    what <reg> held at the entry (an argument of the C caller, or its callee-saved value)
#   slot:<reg>    loaded from <reg>'s slot of the struct, through the struct pointer
#   stray:<reg>   loaded from <reg>'s slot through a register that no longer holds the struct pointer
#   ret:<reg>     what came back in <reg> from the other side of the call
#   zero, const:<text>, trap (the trap number an exception-table entry put in RAX),
#   untrapped:<n> (RAX on the fixup path of entry n, which does not set it), x (anything else)
_NOT_POINTERS = ("ret:", "slot:", "stray:", "const:", "untrapped:")


def holds_pointer(value: str) -> bool:
    """Whether a register holding ``value`` can be the struct pointer (what came back, or was loaded from the
    struct, a constant or a trap number cannot)."""
    return not value.startswith(_NOT_POINTERS) and value not in ("zero", "trap")


def describe(value: str) -> str:
    """A tracked value in words."""
    kind, _, what = value.partition(":")
    return {
        "orig": f"the caller's %{what}",
        "slot": f"the input loaded from {what}'s slot",
        "stray": f"a load of {what}'s slot through a register that no longer holds the struct pointer",
        "ret": f"what the call returned in %{what}",
        "const": f"the constant {what}",
        "zero": "0 (it was cleared)",
        "trap": "the trap number",
    }.get(kind, "a value computed here")


def _dest(step: Step) -> str | None:
    if step.kind != "insn" or not step.operands:
        return None
    mnemonic = step.name
    if mnemonic in _NO_DEST or _JUMP.match(mnemonic) or mnemonic.startswith("push"):
        return None
    return canonical(step.operands[-1])


def _slot_mov(step: Step, crossing: Crossing, slot: int) -> str | None:
    """The other operand (canonical) of a two-operand ``mov`` whose operand ``slot`` is a register slot."""
    if (
        step.kind == "insn"
        and step.name.startswith("mov")
        and len(step.operands) == 2
        and crossing.is_slot(step.operands[slot])
    ):
        return canonical(step.operands[1 - slot])
    return None


def _is_load(step: Step, crossing: Crossing) -> str | None:
    """The register a ``mov SLOT(base), %reg`` loads, else None."""
    return _slot_mov(step, crossing, 0)


def _is_store(step: Step, crossing: Crossing) -> str | None:
    """The register a ``mov %reg, SLOT(base)`` stores, else None."""
    return _slot_mov(step, crossing, 1)


def _stored_field(step: Step, crossing: Crossing) -> str | None:
    """The register whose slot a ``mov ..., SLOT(base)`` or ``pop SLOT(base)`` writes, else None."""
    if step.kind != "insn" or not step.operands:
        return None
    if step.name.startswith("mov") and len(step.operands) == 2:
        return crossing.field(step.operands[1])
    if step.name.startswith("pop") and len(step.operands) == 1:
        return crossing.field(step.operands[0])
    return None


@dataclass(frozen=True)
class Returned:
    """What a variant gets back from the other side of its crossing call, read from its own text."""

    regs: frozenset[str]  # loaded from a register slot, or stored to one / cleared after the call
    claims: bool  # it stores or clears some of them after the call: it hands outputs back deliberately
    loaded: frozenset[str] = frozenset()  # loaded from a slot (anywhere in the variant)
    stored: frozenset[str] = frozenset()  # the registers whose slots it writes after the call
    cleared: frozenset[str] = frozenset()  # cleared after the call


def returned(steps: tuple[Step, ...], crossing: Crossing) -> Returned:
    first_call = next((i for i, s in enumerate(steps) if s.kind == "insn" and s.name in crossing.calls), None)
    if first_call is None:
        return Returned(frozenset(), False)
    loaded = {r for s in steps if (r := _is_load(s, crossing)) is not None}
    handled: set[str] = set()
    fields: set[str] = set()
    cleared: set[str] = set()
    for s in steps[first_call + 1 :]:
        stored = _is_store(s, crossing)
        if (written := _stored_field(s, crossing)) is not None:
            fields.add(written)
        if stored is not None:
            handled.add(stored)
        elif s.kind == "insn" and (dest := _dest(s)) is not None and _clears(s, dest):
            handled.add(dest)
            cleared.add(dest)
    regs = frozenset((loaded | handled) - _NOT_RETURNED)
    return Returned(regs, bool(handled - _NOT_RETURNED), frozenset(loaded), frozenset(fields),
                    frozenset(cleared - _NOT_RETURNED))  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """An exception-table entry in the steps: where a fault goes, and whether RAX then holds the trap number."""

    at: int  # the entry's own step
    faulting: int  # the instruction its from-label sits on (-1: the label is not in these steps)
    fixup: int  # the label its fixup starts at (-1: not in these steps)
    delivers_trap: bool


def exception_entries(steps: tuple[Step, ...], crossing: Crossing) -> list[Entry]:
    labels = {step.name: index for index, step in enumerate(steps) if step.kind == "label"}
    out: list[Entry] = []
    for index, step in enumerate(steps):
        if step.kind != "cmacro" or not step.name.startswith("_ASM_EXTABLE") or len(step.operands) < 2:
            continue
        src, dst = step.operands[0].strip(), step.operands[1].strip()
        faulting = -1
        if src in labels:
            faulting = labels[src]
            while faulting < len(steps) and (steps[faulting].kind != "insn" or steps[faulting].name in _NOOPS):
                faulting += 1
            faulting = faulting if faulting < len(steps) else -1
        out.append(Entry(index, faulting, labels.get(dst, -1), crossing.delivers_trap(step)))
    return out


@dataclass(frozen=True)
class Exit:
    """One way a path leaves the variant (a return, a tail jump, a branch out of it) and what it carries."""

    step: int
    phase: str  # "before" the call, "after" it (the other side ran), "failed" (CF=1 after it, or a fault)
    call: int  # the last crossing call on the path (-1: none)
    pending: frozenset[str]  # registers still holding what came back (a store to the struct counts as handing it)
    last: int  # the last clearing or copy-out of such a register on the path (-1: none)
    pending_cleared: frozenset[str]  # the same when only clearing counts
    last_cleared: int
    stored: frozenset[str]  # the registers whose slots the path wrote after the call
    last_store: int


@dataclass(frozen=True)
class AtCall:
    """What the registers hold when a path reaches a crossing call."""

    step: int
    regs: tuple[str, ...]  # per GPR, in encoding order (:data:`patchkit.lint.lang.x86.GPRS`)
    after_sti: bool  # the instruction just before it on this path was STI

    def holds(self, reg: str) -> str:
        return self.regs[NUMBER[reg]]


@dataclass(frozen=True)
class Store:
    """A write to a register's slot after the call, on a path where the other side ran."""

    step: int
    field: str  # the register whose slot it writes
    value: str  # what it writes
    base: str  # the base register, and what it held
    base_value: str


@dataclass(frozen=True)
class Walk:
    """What the walk of one variant found: problems with callee-saved registers and the stack on the way, and
    the facts rules judge (each path's exits, the registers at the call, the stores after it, what follows an
    STI, fixups that read a RAX their exception-table entry did not set)."""

    steps: tuple[Step, ...]
    back: Returned
    problems: tuple[PathProblem, ...]
    exits: tuple[Exit, ...]
    calls: tuple[AtCall, ...]
    stores: tuple[Store, ...]
    sti: tuple[tuple[int, int], ...]  # (an STI, the next instruction a path executes after it; -1: none)
    fault_reads: tuple[tuple[int, int], ...]  # (an entry that does not set RAX, a fixup instruction reading it)
    entries: tuple[Entry, ...]
    first_loads: tuple[tuple[str, int], ...]  # each register loaded from a slot, and its first load
    pointers: frozenset[str]  # what the base registers of its slot accesses held (the struct pointer)


_CACHE: dict[tuple[tuple[Step, ...], Crossing], Walk] = {}


def walk(variant: Variant, crossing: Crossing) -> Walk:
    """Walk every path of the variant once (cached by its steps, across states).

    A walk that reaches :data:`MAX_STATES` stops and says so (a "gave-up" problem at the entry): the paths it
    did not walk are unchecked, which must not pass silently."""
    key = (variant.steps, crossing)
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        hit = _CACHE[key] = _Walk(variant.steps, crossing).run()
    return hit


def not_cleared(found: Walk, clear_mode: str | None) -> list[PathProblem]:
    """Registers that still hold what came back at a return of the walk. ``clear_mode``: None (no clearing
    required), "cleared" (every register that came back is cleared or restored before the return) or
    "stored-or-cleared" (stored to the register struct for the caller also counts; only for a variant that
    stores or clears any)."""
    if clear_mode is None or (clear_mode == "stored-or-cleared" and not found.back.claims):
        return []  # a variant that neither stores nor clears what came back makes no claim to hold it to
    stores_count = clear_mode == "stored-or-cleared"
    steps = found.steps
    load_at = {reg: steps[index] for reg, index in found.first_loads}
    problems: dict[tuple[str, str], PathProblem] = {}
    for out in found.exits:
        pending, last = (out.pending, out.last) if stores_count else (out.pending_cleared, out.last_cleared)
        for reg in sorted(pending):
            # at fault: the clearing (or copy-out) on this path that left it out; with none, its load or the call
            if last >= 0:
                where, detail = steps[last], "missed"
            else:
                call = steps[out.call] if out.call >= 0 else steps[out.step]
                where, detail = load_at.get(reg) or call, "none"
            problems.setdefault((reg, detail), PathProblem("not-cleared", reg, steps[out.step], detail, where))
    return list(problems.values())


@dataclass(frozen=True)
class _Path:
    """Where one path is and what it carries; equal paths are walked once."""

    pc: int
    regs: tuple[str, ...]  # per GPR (encoding order): what it holds
    writers: tuple[int, ...]  # per callee-saved register: the pc that last wrote it (-1: none)
    stack: tuple[tuple[str, int], ...] = ()  # pushed (value, push pc)
    phase: str = "before"  # "before" the call, "after" it, "failed" (CF=1 right after it, or a fault)
    pending: frozenset[str] = frozenset()  # registers still holding what came back (a store hands it over)
    pending_cleared: frozenset[str] = frozenset()  # the same, where only clearing counts
    last: int = -1  # the last clearing or copy-out of a pending register on this path
    last_cleared: int = -1
    after_call: bool = False  # the previous instruction was the crossing call (its CF means something)
    call_pc: int = -1
    sti: int = -1  # the STI just executed (the next instruction should be the call)
    stored: frozenset[str] = frozenset()  # registers whose slots this path wrote after the call
    last_store: int = -1

    def to(self, pc: int, **changes: object) -> _Path:
        """This path moved to ``pc`` (after_call reset unless given), with ``changes``."""
        return replace(self, **{"pc": pc, "after_call": False, **changes})  # type: ignore[arg-type]

    def holds(self, reg: str) -> str:
        return self.regs[NUMBER[reg]]


_MOVES = frozenset(("mov", "movq", "movl", "movw", "movb", "movabs", "movabsq"))
_READS_DEST = frozenset(("or", "and", "add", "adc", "sub", "sbb", "xor", "cmp", "test", "shl", "shr", "sar", "sal",
                         "rol", "ror", "imul", "bt", "xchg", "xadd", "cmov"))  # fmt: skip
_FAILED_BRANCH = {"jc": "taken", "jb": "taken", "jnae": "taken", "jnc": "falls", "jae": "falls", "jnb": "falls"}


def _width(operand: str) -> int:
    name = operand.strip().lstrip("%").lower()
    if name in NUMBER:
        return 64
    if (name.startswith("e") and len(name) == 3) or (name.startswith("r") and name.endswith("d")):
        return 32
    return 16


def _base_name(mnemonic: str) -> str:
    """``orq`` -> ``or``: the mnemonic without its operand-size suffix."""
    if mnemonic not in _READS_DEST and mnemonic[-1:] in ("q", "l", "w", "b") and mnemonic[:-1] in _READS_DEST:
        return mnemonic[:-1]
    return mnemonic


def _reads(step: Step) -> set[str]:
    """The registers an instruction reads (its sources, the base of a memory operand, and a destination it
    also reads: ``or %rdi, %rax`` reads RAX; ``mov $1, %rax`` and ``xor %eax, %eax`` do not)."""
    ops = step.operands
    out: set[str] = set()
    for index, op in enumerate(ops):
        mem = parse_mem(op)
        if mem is not None:
            if mem[1] is not None and (base := canonical(mem[1])) is not None:
                out.add(base)
            continue
        reg = canonical(op) if op.strip().startswith("%") else None
        if reg is None:
            continue
        if index < len(ops) - 1:
            out.add(reg)
        elif len(ops) == 1:
            if not step.name.startswith("pop"):
                out.add(reg)
        elif (_base_name(step.name) in _READS_DEST or step.name.startswith("cmov")) and not _clears(step, reg):
            out.add(reg)
    return out


class _Walk:
    """The path walk over one variant's steps: :meth:`_step` follows one instruction and returns the paths that
    continue from it, recording what rules judge on the way."""

    def __init__(self, steps: tuple[Step, ...], crossing: Crossing) -> None:
        self.steps = steps
        self.crossing = crossing
        self.labels = {step.name: index for index, step in enumerate(steps) if step.kind == "label"}
        self.entries = exception_entries(steps, crossing)
        self.fault_edges: dict[int, list[Entry]] = {}
        for entry in self.entries:
            if entry.faulting >= 0 and entry.fixup >= 0:
                self.fault_edges.setdefault(entry.faulting, []).append(entry)
        self.back = returned(steps, crossing)
        self.problems: dict[tuple[str, str, str], PathProblem] = {}
        # facts, in the order found (dicts as ordered sets)
        self.exits: dict[Exit, None] = {}
        self.calls: dict[AtCall, None] = {}
        self.stores: dict[Store, None] = {}
        self.sti: dict[tuple[int, int], None] = {}
        self.fault_reads: dict[tuple[int, int], None] = {}
        self.pointers: set[str] = set()

    def run(self) -> Walk:
        start = _Path(0, tuple(_ORIG + r for r in GPRS), tuple(-1 for _r in CALLEE_SAVED))
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
        first_loads: dict[str, int] = {}
        for index, step in enumerate(self.steps):
            reg = _is_load(step, self.crossing)
            if reg is not None:
                first_loads.setdefault(reg, index)
        return Walk(
            self.steps, self.back, tuple(self.problems.values()), tuple(self.exits), tuple(self.calls),
            tuple(self.stores), tuple(self.sti), tuple(self.fault_reads), tuple(self.entries),
            tuple(first_loads.items()), frozenset(self.pointers),
        )  # fmt: skip

    def _report(self, kind: str, reg: str, step: Step, detail: str, where: Step) -> None:
        # one imbalance per variant, however many values each path leaves (the first one found is shown)
        key = (kind, "" if kind == "unbalanced" else reg, detail)
        self.problems.setdefault(key, PathProblem(kind, reg, step, detail, where))

    def _step(self, path: _Path) -> list[_Path]:
        step = self.steps[path.pc]
        m = step.name
        if step.kind != "insn" or m in _NOOPS:
            return [path.to(path.pc + 1, after_call=path.after_call)]
        after_sti = path.sti >= 0
        if after_sti:
            self.sti.setdefault((path.sti, path.pc), None)
            path = replace(path, sti=-1)
        for reg in _reads(step):
            held = path.holds(reg)
            if held.startswith("untrapped:"):
                self.fault_reads.setdefault((int(held.partition(":")[2]), path.pc), None)
        if m in _RETURNS:
            self._exit(step, path)
            return []
        if m in _TERMINAL:
            return []
        # the exception-table path: the instruction did not run, nothing came back
        faults = [self._fault(path, entry) for entry in self.fault_edges.get(path.pc, ())]
        if m in self.crossing.calls:
            self.calls.setdefault(AtCall(path.pc, path.regs, after_sti), None)
            regs = list(path.regs)
            writers = list(path.writers)
            for reg in (*sorted(self.back.regs), "rax"):
                regs[NUMBER[reg]] = "ret:" + reg
                if reg in CALLEE_SAVED:
                    writers[CALLEE_SAVED.index(reg)] = path.pc
            return [*faults, path.to(path.pc + 1, regs=tuple(regs), writers=tuple(writers), phase="after",
                                     pending=self.back.regs, pending_cleared=self.back.regs, last=-1,
                                     last_cleared=-1, after_call=True, call_pc=path.pc, stored=frozenset(),
                                     last_store=-1)]  # fmt: skip
        if m == "sti":
            return [*faults, path.to(path.pc + 1, sti=path.pc)]
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
        if m.startswith("xchg") and len(step.operands) == 2:
            return [*faults, self._exchange(step, path)]
        return [*faults, self._write(step, path)]

    def _fault(self, path: _Path, entry: Entry) -> _Path:
        regs = list(path.regs)
        regs[NUMBER["rax"]] = "trap" if entry.delivers_trap else f"untrapped:{entry.at}"
        return path.to(entry.fixup, regs=tuple(regs), pending=frozenset(), pending_cleared=frozenset(), last=-1,
                       last_cleared=-1, phase="failed", sti=-1)  # fmt: skip

    def _jump(self, step: Step, path: _Path) -> list[_Path]:
        target = step.operands[0] if step.operands else ""
        if target in self.labels:
            return [path.to(self.labels[target])]
        self._exit(step, path)  # a tail call
        return []

    def _branch(self, step: Step, path: _Path) -> list[_Path]:
        target = step.operands[0] if step.operands else ""
        # right after SEAMCALL, CF=1 is VMfailInvalid: no module ran, the registers hold no output
        failed = _FAILED_BRANCH.get(step.name, "") if path.after_call else ""
        none = frozenset[str]()
        fail = {"pending": none, "pending_cleared": none, "phase": "failed"}
        taken = path.to(self.labels.get(target, path.pc), **(fail if failed == "taken" else {}))
        falls = path.to(path.pc + 1, **(fail if failed == "falls" else {}))
        if target not in self.labels:
            self._exit(step, taken)
            return [falls]
        return [taken, falls]

    def _value(self, operand: str, path: _Path) -> str:
        """What a source operand holds on this path."""
        op = operand.strip()
        if op.startswith("$"):
            return "zero" if expr.literal(op[1:]) == 0 else "const:" + op[1:].strip()
        if op.startswith("%"):
            reg = canonical(op)
            return path.holds(reg) if reg is not None else "x"
        mem = parse_mem(op)
        if mem is None:
            return "x"
        field = self.crossing.field(op)
        if field is not None:
            base = canonical(mem[1]) if mem[1] else None
            good = base is not None and holds_pointer(path.holds(base))
            if good and base is not None:
                self.pointers.add(path.holds(base))
            return ("slot:" if good else "stray:") + field
        index = self._stack_index(mem, path)
        return path.stack[index][0] if index is not None else "x"

    @staticmethod
    def _stack_index(mem: tuple[str, str | None], path: _Path) -> int | None:
        """The index in ``path.stack`` of an ``N(%rsp)`` operand, else None."""
        if mem[1] != "rsp":
            return None
        offset = expr.literal(mem[0] or "0")
        if offset is None or offset < 0 or offset % 8:
            return None
        index = len(path.stack) - 1 - offset // 8
        return index if index >= 0 else None

    def _set(self, path: _Path, reg: str, value: str, **changes: object) -> _Path:
        """``path`` at the next instruction, with ``reg`` holding ``value``."""
        regs = list(path.regs)
        regs[NUMBER[reg]] = value
        if reg in CALLEE_SAVED:
            writers = list(path.writers)
            writers[CALLEE_SAVED.index(reg)] = path.pc
            changes["writers"] = tuple(writers)
        return path.to(path.pc + 1, regs=tuple(regs), **changes)

    def _push(self, step: Step, path: _Path) -> _Path:
        value = self._value(step.operands[0], path)
        return path.to(path.pc + 1, stack=(*path.stack, (value, path.pc)))

    def _pop(self, step: Step, path: _Path) -> list[_Path]:
        operand = step.operands[0]
        reg = canonical(operand) if operand.strip().startswith("%") else None
        if not path.stack:
            self._report("underflow", reg or "?", step, "", step)
            return []
        value, _pushed = path.stack[-1]
        rest = path.stack[:-1]
        if reg is None:  # into memory: a slot of the struct (the copy-out of a value parked on the stack)
            return [self._store(step, path, operand, value, stack=rest)]
        changes: dict[str, object] = {"stack": rest}
        if reg in path.pending or reg in path.pending_cleared:
            changes.update(pending=path.pending - {reg}, pending_cleared=path.pending_cleared - {reg},
                           last=path.pc, last_cleared=path.pc)  # fmt: skip
        return [self._set(path, reg, value, **changes)]

    def _adjust_stack(self, step: Step, path: _Path) -> _Path:
        amount = _stack_adjust(step.name, step.operands[0])
        stack = path.stack
        if amount is not None:
            count = abs(amount) // 8
            stack = stack[: max(0, len(stack) - count)] if amount > 0 else (*stack, *[("x", path.pc)] * count)
        return path.to(path.pc + 1, stack=stack)

    def _exchange(self, step: Step, path: _Path) -> _Path:
        """``xchg a, b``: registers swap values, or a register and a stack slot (a value parked on the stack)."""
        a, b = step.operands
        values = [self._value(a, path), self._value(b, path)]
        moved = path.to(path.pc + 1)
        regs, writers, stack = list(path.regs), list(path.writers), list(path.stack)
        for operand, value in ((a, values[1]), (b, values[0])):
            reg = canonical(operand) if operand.strip().startswith("%") else None
            if reg is not None:
                regs[NUMBER[reg]] = value
                if reg in CALLEE_SAVED:
                    writers[CALLEE_SAVED.index(reg)] = path.pc
                continue
            mem = parse_mem(operand)
            index = self._stack_index(mem, path) if mem is not None else None
            if index is not None:
                stack[index] = (value, stack[index][1])
        return replace(moved, regs=tuple(regs), writers=tuple(writers), stack=tuple(stack))

    def _store(self, step: Step, path: _Path, operand: str, value: str, **changes: object) -> _Path:
        """A write of ``value`` to a slot of the struct (``operand``)."""
        field = self.crossing.field(operand)
        mem = parse_mem(operand)
        base = canonical(mem[1]) if mem is not None and mem[1] else None
        moved = path.to(path.pc + 1, **changes)
        if base is not None and holds_pointer(path.holds(base)):
            self.pointers.add(path.holds(base))
        if field is None or path.phase != "after":
            return moved
        self.stores.setdefault(Store(path.pc, field, value, base or "", path.holds(base) if base else "x"), None)
        return replace(moved, stored=path.stored | {field}, last_store=path.pc)

    def _write(self, step: Step, path: _Path) -> _Path:
        """Any other instruction: what its destination now holds, and whether it hands over a pending register."""
        ops = step.operands
        if step.name.startswith("mov") and len(ops) == 2 and (mem := parse_mem(ops[1])) is not None:
            value = self._value(ops[0], path)
            index = self._stack_index(mem, path)
            if index is not None:
                stack = list(path.stack)
                stack[index] = (value, stack[index][1])
                return path.to(path.pc + 1, stack=tuple(stack))
            if not self.crossing.is_slot(ops[1]):
                return path.to(path.pc + 1)
            changes: dict[str, object] = {}
            stored = _is_store(step, self.crossing)
            if stored is not None and stored in path.pending:
                changes.update(pending=path.pending - {stored}, last=path.pc)
            return self._store(step, path, ops[1], value, **changes)
        dest = _dest(step)
        if dest is None:
            return path.to(path.pc + 1)
        if _clears(step, dest):
            value = "zero"
        elif step.name in _MOVES and len(ops) == 2 and _width(ops[1]) >= 32:
            value = self._value(ops[0], path)
        else:
            value = "x"
        changes = {}
        if _is_load(step, self.crossing) is not None:
            # loaded again from the struct: an input, not what came back
            changes.update(pending=path.pending - {dest}, pending_cleared=path.pending_cleared - {dest})
        elif (_clears(step, dest) or step.name.startswith(("mov", "lea"))) and (
            dest in path.pending or dest in path.pending_cleared
        ):
            changes.update(pending=path.pending - {dest}, pending_cleared=path.pending_cleared - {dest})
            if dest in path.pending:
                changes["last"] = path.pc
            if dest in path.pending_cleared:
                changes["last_cleared"] = path.pc
        return self._set(path, dest, value, **changes)

    def _exit(self, step: Step, path: _Path) -> None:
        """A path leaves the variant here: what is wrong with callee-saved registers and the stack, and what it
        carries back to C (for the rules to judge)."""
        for index, reg in enumerate(CALLEE_SAVED):
            value, writer = path.holds(reg), path.writers[index]
            if value == _ORIG + reg:
                continue
            popped = writer >= 0 and self.steps[writer].name.startswith("pop")
            if path.stack and popped:
                # values left on the stack shift what every pop gets: the imbalance (below) is the one defect
                continue
            source = value[len(_ORIG) :] if value.startswith(_ORIG) else ""
            detail = source if popped and source in CALLEE_SAVED else ""
            self._report("not-restored", reg, step, detail, self.steps[writer] if writer >= 0 else step)
        if path.stack:
            left = self.steps[path.stack[-1][1]]
            self._report("unbalanced", str(len(path.stack)), step, "", left)
        index = path.pc
        self.exits.setdefault(Exit(index, path.phase, path.call_pc, path.pending, path.last, path.pending_cleared,
                                   path.last_cleared, path.stored, path.last_store), None)  # fmt: skip


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
