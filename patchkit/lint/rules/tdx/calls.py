"""What a call does with an args struct, resolved in one state: which fields a function passes to the TDX
module (loads), which it gives back (stores), and whether it enables interrupts first; by register group
(RCX, RDX, R8-R11; R12-R15, RBX, RDI, RSI), as the variants differ.

Read from the assembly variant a ``SYM_FUNC`` expands (:func:`patchkit.lint.rules.tdx.facts.variants`, read
only), through C wrappers that pass their args pointer on (``__tdx_hypercall()`` -> ``__tdcall_saved_ret()``),
function-like macros (``seamcall_ret()`` -> ``__seamcall_ret``) and function pointers passed along
(``sc_retry(__seamcall_ret, fn, args)``); a variant-named function with no assembly in the state is read from
its name (``__seamcall*``/``__tdcall*``; ``_ret``: returns the registers it passes; ``saved``: R12-R15, RBX,
RDI, RSI too; ``_sti``: enables interrupts). Computed once per state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from patchkit.lint.lang.asm import parse_mem
from patchkit.lint.rules.tdx.facts import OFFSET_SYMBOL, TdxState, variants
from patchkit.lint.rules.tdx.kvm import Flow

VARIANT_NAME = re.compile(r"^__(tdcall|seamcall)(?:_\w+)?$")
_CLOBBERED = frozenset({"rcx", "rdx", "r8", "r9", "r10", "r11"})
_SAVED = frozenset({"r12", "r13", "r14", "r15", "rbx", "rdi", "rsi"})
MAX_DEPTH = 6


@dataclass(frozen=True)
class CallIO:
    """What one callable does with the args struct it is given."""

    loads: frozenset[str]  # fields passed to the other side
    stores: frozenset[str]  # fields given back
    sti: bool  # interrupts enabled right before the call
    how: str  # in words: "__tdcall (TDX_MODULE_CALL host=0)", "tdx_module_call() -> __tdcall_ret (...)"
    # the lines that pick the variant (a wrapper's call, the assembly's macro invocation): a caller's finding
    # names them, so a later caller is not blamed for a variant chosen earlier
    lines: tuple[tuple[str, int], ...] = ()


def from_name(name: str) -> CallIO | None:
    """What a ``__seamcall*``/``__tdcall*`` name promises, for a variant the state has no assembly of."""
    if not VARIANT_NAME.match(name):
        return None
    loads = _CLOBBERED | (_SAVED if "saved" in name else frozenset())
    stores = loads if re.search(r"_ret(?:_|$)", name) else frozenset()
    return CallIO(loads, stores, name.endswith("_sti"), f"{name} (by its name)")


def _asm(state: TdxState) -> dict[str, CallIO]:
    """The expanded assembly functions that touch an args struct: name -> what they load and store."""
    loads: dict[str, set[str]] = {}
    stores: dict[str, set[str]] = {}
    sti: dict[str, bool] = {}
    how: dict[str, str] = {}
    where: dict[str, tuple[str, int]] = {}
    for v in variants(state):
        if v.synthetic:
            continue
        name = v.function.name
        lo, st = loads.setdefault(name, set()), stores.setdefault(name, set())
        for step in v.steps:
            if step.kind != "insn":
                continue
            if step.name == "sti":
                sti[name] = True
            if not step.name.startswith("mov") or len(step.operands) != 2:
                continue
            for position, op in enumerate(step.operands):
                mem = parse_mem(op)
                m = OFFSET_SYMBOL.fullmatch(mem[0]) if mem is not None else None
                if m is not None:
                    (lo if position == 0 else st).add(m.group(2))
        shown = " ".join(f"{k}={val}" for k, val in v.args if val != "")
        how.setdefault(name, f"{name} ({v.macro} {shown})".replace(" )", ")") if v.macro else name)
        line = next((i.line for i in v.function.body if i.name == v.macro), v.function.line)
        where.setdefault(name, (v.function.path, line))
    return {
        n: CallIO(_groups(loads[n]), _groups(stores[n]), sti.get(n, False), how[n], (where[n],))
        for n in loads
        if loads[n] or stores[n]
    }


def _groups(fields: set[str]) -> frozenset[str]:
    """The register groups a variant passes or gives back, whole: a variant that loads or stores one
    callee-clobbered (saved) register counts as passing or giving back all of them. Which variant the C code
    picked is what the callers are judged by; a register one variant leaves out is the assembly rules' finding
    (tdx/clear-before-return), not a finding at every caller."""
    out: set[str] = set()
    for group in (_CLOBBERED, _SAVED):
        if fields & group:
            out |= group
    return frozenset(out | {f for f in fields if f not in _CLOBBERED | _SAVED})


class Calls:
    """What each callable of the state does with an args struct (None: not known, or it does not cross)."""

    def __init__(self, state: TdxState) -> None:
        self.state = state
        self.asm = _asm(state)
        self.flows: dict[str, tuple[str, Flow]] = {}  # function -> (path, flow)
        self.macros: dict[str, str] = {}
        for _path, facts in sorted(state.c.items()):
            for name, flow in facts.flows.items():
                if flow.params:
                    self.flows.setdefault(name, (_path, flow))
            for name, (_params, body) in facts.macros.items():
                self.macros.setdefault(name, body)
        self.known: dict[str, CallIO | None] = {}
        # where each function takes its args pointer: a name is read as upstream's (fn, args) only in that shape
        self.pointer_at: dict[str, int | None] = {}
        for _path, facts in sorted(state.c.items()):
            for name, params in facts.prototypes.items():
                self.pointer_at.setdefault(name, next((i for i, s in enumerate(params) if s is not None), None))

    def io(self, name: str, depth: int = 0) -> CallIO | None:
        if name in self.known:
            return self.known[name]
        if depth > MAX_DEPTH:
            return None
        self.known[name] = None  # a cycle has no answer
        found = self.asm.get(name) or self._wrapper(name, depth) or self._macro(name, depth)
        if found is None and self.pointer_at.get(name, 1) == 1:
            found = from_name(name)
        self.known[name] = found
        return found

    def callee(self, callee: str, fnargs: tuple[str, ...], depth: int = 0) -> CallIO | None:
        """A call's effect: the callee's, or else that of a variant passed to it as a function pointer."""
        found = self.io(callee, depth + 1)
        if found is not None:
            return found
        for name in fnargs:
            found = self.io(name, depth + 1)
            if found is not None:
                return found
        return None

    def _wrapper(self, name: str, depth: int) -> CallIO | None:
        """A C function that passes its args pointer on: what the callees do, and what it stores itself after."""
        found_flow = self.flows.get(name)
        if found_flow is None:
            return None
        path, flow = found_flow
        params = {p for _i, p in flow.params}
        parts: list[CallIO] = []
        lines: list[tuple[str, int]] = []
        after: set[str] = set()
        for ev in flow.events:
            if ev.obj not in params:
                continue
            if ev.kind == "call":
                found = self.callee(ev.callee, ev.fnargs, depth)
                if found is not None:
                    parts.append(found)
                    lines.append((path, ev.line))
            elif ev.kind == "write" and parts:
                after.add(ev.field)
        if not parts:
            return None
        return _joined(name, parts, after, tuple(lines))

    def _macro(self, name: str, depth: int) -> CallIO | None:
        body = self.macros.get(name)
        if body is None:
            return None
        parts = [found for word in sorted(set(re.findall(r"\b\w+\b", body))) if word != name
                 and (found := self.io(word, depth + 1)) is not None]  # fmt: skip
        if not parts:
            return None
        return _joined(name, parts, set(), ())


def _joined(name: str, parts: list[CallIO], after: set[str], lines: tuple[tuple[str, int], ...]) -> CallIO:
    """What a wrapper or macro does: what any of the variants it reaches does."""
    inner = " or ".join(sorted({p.how for p in parts}))
    return CallIO(
        frozenset().union(*(p.loads for p in parts)),
        frozenset().union(*(p.stores for p in parts)) | after,
        any(p.sti for p in parts),
        f"{name}() -> {inner}",
        tuple(dict.fromkeys((*lines, *(line for p in parts for line in p.lines)))),
    )


def calls(state: TdxState) -> Calls:
    found = state.derived.get("calls")
    if isinstance(found, Calls):
        return found
    made = state.derived["calls"] = Calls(state)
    return made
