"""Register copies resolved in one state: which moves between slots (:mod:`patchkit.lint.rules.tdx.kvm`) copy
between an args-struct field and a vCPU register (or the guest's saved ``pt_regs``), or between two args
structs, once the state says which members are args structs and what each one-line accessor reads or stores;
and what the callers of a function handle (a function called from ``case EXIT_REASON_MSR_READ:`` handles
that exit). Computed once per state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from patchkit.lint.lang.c import FieldUse
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.kvm import Context, Operand, RegCopy, Setter, Transfer, VcpuReg

CALLER_DEPTH = 3  # how far up the callers a function's handled names are looked for


@dataclass(frozen=True)
class FieldCopy:
    """A copy between fields of two args structs (the same or an old and a new one)."""

    dest: FieldUse
    dest_struct: str
    source: FieldUse
    source_struct: str
    function: str
    line: int
    part: str


@dataclass
class Resolved:
    reg_copies: list[tuple[str, RegCopy]] = field(default_factory=list)
    field_copies: list[tuple[str, FieldCopy]] = field(default_factory=list)
    dispatch: dict[str, set[str]] = field(default_factory=dict)  # function -> names of the cases that call it
    callers: dict[str, set[str]] = field(default_factory=dict)  # function -> the functions that call it


def resolved(state: TdxState) -> Resolved:
    found = state.derived.get("copies")
    if isinstance(found, Resolved):
        return found
    out = Resolved()
    getters: dict[str, tuple[Operand, ...]] = {}
    setters: dict[str, Setter] = {}
    for _path, facts in sorted(state.c.items()):
        for name, ops in facts.getters.items():
            getters.setdefault(name, ops)
        for name, one in facts.setters.items():
            setters.setdefault(name, one)
        for labels, callees in facts.dispatch:
            for callee in callees:
                out.dispatch.setdefault(callee, set()).update(labels)
        for function, callees in facts.calls.items():
            for callee in callees:
                out.callers.setdefault(callee, set()).add(function)
    for path, facts in sorted(state.c.items()):
        for t in facts.transfers:
            _resolve(state, path, t, getters, out)
        for call in facts.setter_calls:
            setter = setters.get(call.name)
            if setter is None or setter.param >= len(call.args):
                continue
            target = setter.target
            if target.field is not None:
                target = Operand(field=FieldUse(target.field.base, target.field.field, call.line, "access"))
            elif target.vcpu is not None:
                v = target.vcpu
                target = Operand(vcpu=VcpuReg(v.reg, call.line, v.text, v.half, v.kind))
            transfer = Transfer(target, call.args[setter.param], call.function, call.line, call.context)
            _resolve(state, path, transfer, getters, out)
    state.derived["copies"] = out
    return out


def _expand(sources: Iterable[Operand], getters: dict[str, tuple[Operand, ...]]) -> list[Operand]:
    """Calls to one-line getters replaced by what they return (the call site's half first)."""
    out: list[Operand] = []
    for op in sources:
        if not op.call:
            out.append(op)
            continue
        for inner in getters.get(op.call, ()):
            if op.part and inner.part and op.part != inner.part:
                continue
            out.append(Operand(inner.field, inner.vcpu, "", op.part or inner.part))
    return out


def _struct(state: TdxState, use: FieldUse) -> str | None:
    struct = state.resolve(use.base)
    return struct if struct in state.args_structs else None


def _resolve(state: TdxState, path: str, t: Transfer, getters: dict[str, tuple[Operand, ...]], out: Resolved) -> None:
    dest = t.dest
    for src in _expand(t.sources, getters):
        if dest.vcpu is not None and src.field is not None:
            _reg_copy(state, path, t, src.field, dest.vcpu, "to_vcpu", src.part, out)
        elif dest.field is not None and src.vcpu is not None:
            _reg_copy(state, path, t, dest.field, src.vcpu, "from_vcpu", src.part, out)
        elif dest.field is not None and src.field is not None:
            dest_struct, source_struct = _struct(state, dest.field), _struct(state, src.field)
            if dest_struct is not None and source_struct is not None:
                copy = FieldCopy(dest.field, dest_struct, src.field, source_struct, t.function, t.line, src.part)
                out.field_copies.append((path, copy))


def _reg_copy(
    state: TdxState, path: str, t: Transfer, args: FieldUse, vcpu: VcpuReg, direction: str, part: str, out: Resolved
) -> None:
    """A copy between ``args`` and ``vcpu``, when ``args`` is a field of an args struct; ``part``: the source's
    half, else the register's."""
    struct = _struct(state, args)
    if struct is not None:
        copy = RegCopy(args, struct, vcpu, direction, t.function, part or vcpu.half, t.line, t.context)
        out.reg_copies.append((path, copy))


def handled_by_callers(state: TdxState, function: str) -> set[str]:
    """The names the cases that reach ``function`` handle: its own callers', else theirs, up to
    :data:`CALLER_DEPTH` levels."""
    r = resolved(state)
    level, seen = {function}, {function}
    for _depth in range(CALLER_DEPTH):
        names = set().union(*(r.dispatch.get(f, set()) for f in level))
        if names:
            return names
        level = set().union(*(r.callers.get(f, set()) for f in level)) - seen
        seen |= level
        if not level:
            break
    return set()


def context_names(state: TdxState, context: Context, function: str, wanted: frozenset[str]) -> frozenset[str]:
    """The innermost names around a copy that say what it handles (among ``wanted``), else its callers'."""
    for level in context:
        hit = level & wanted
        if hit:
            return hit
    return frozenset(handled_by_callers(state, function) & wanted)
