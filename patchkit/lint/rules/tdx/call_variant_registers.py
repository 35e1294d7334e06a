"""tdx/call-variant-registers: C code uses the registers the variant it calls passes and returns.

In each C function, per args struct (a local, a parameter, or a member such as ``tdx->vp_enter_args``), in
source order: a field read after a call that crosses to the TDX module (or the VMM) is one the variant
behind that call gives back (``__tdcall_ret``, not ``__tdcall``); a field set for such a call is one it
passes (R12-R15, RBX, RDI, RSI only through a ``saved`` variant); a call in the branch of an ``if`` that
tests an STI flag is to a variant that enables interrupts (``*_sti``), and one in the other branch is not.
A member that carries registers between functions (``tdx->vp_enter_args``, filled by TDH.VP.ENTER) is held
to what crosses with it in every other function too. What each call does comes from
:mod:`patchkit.lint.rules.tdx.calls`.
"""

from __future__ import annotations

from collections.abc import Callable

from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.calls import CallIO, Calls, calls
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.kvm import FlowEvent

RULE: StateRule[TdxState] = StateRule("tdx/call-variant-registers")


def _list(fields: frozenset[str]) -> str:
    return ", ".join(sorted(fields)) if fields else "none"


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    resolver = calls(state)
    members = state.member_types()
    structs = state.structs()
    seen: set[str] = set()

    def report(path: str, line: int, message: str, identity: str, evidence: tuple[tuple[str, int], ...]) -> None:
        # the identity leaves out how the variant is spelled (its macro gains parameters in later patches); the
        # evidence is the call and the lines that picked the variant, so a later user is not blamed for them
        if identity not in seen:
            seen.add(identity)
            hits.append(RULE.hit(path, line, message, identity, evidence))

    for path, facts in sorted(state.c.items()):
        for function, flow in sorted(facts.flows.items()):
            by_obj: dict[str, list[FlowEvent]] = {}
            for ev in flow.events:
                by_obj.setdefault(ev.obj, []).append(ev)
            for obj, events in sorted(by_obj.items()):
                struct = members.get(obj[2:]) if obj.startswith("->") else events[0].struct
                if struct is None or struct not in structs:
                    continue
                fields = set(structs[struct][1].field_names())
                shown = f"{obj[2:]}" if obj.startswith("->") else obj
                last: tuple[FlowEvent, CallIO] | None = None
                written: set[str] = set()
                pending: dict[str, int] = {}
                for ev in events:
                    if ev.kind == "write":
                        written.add(ev.field)
                        pending.setdefault(ev.field, ev.line)
                    elif ev.kind == "call":
                        io = resolver.callee(ev.callee, ev.fnargs)
                        if io is None:
                            continue
                        for fld in sorted(pending if io.loads else ()):  # (a struct only for outputs: 6.1's)
                            if fld in fields and canonical(fld) and fld not in io.loads:
                                report(path, pending[fld], f"{function} sets {shown}.{fld} for {ev.callee}(), which "
                                       f"does not pass it: {io.how} passes {_list(io.loads)}",
                                       f"{function}: {shown}.{fld} set for {ev.callee}()",
                                       ((path, ev.line), *io.lines))  # fmt: skip
                        if ev.sti == "then" and not io.sti:
                            report(path, ev.line, f"{function} calls {ev.callee}() in the branch taken when STI is "
                                   f"asked for, but {io.how} does not enable interrupts",
                                   f"{function}: {ev.callee}() where STI is asked for",
                                   ((path, ev.line), *io.lines))  # fmt: skip
                        elif ev.sti == "else" and io.sti:
                            report(path, ev.line, f"{function} calls {ev.callee}() in the branch taken when STI is "
                                   f"not asked for, but {io.how} enables interrupts",
                                   f"{function}: {ev.callee}() where STI is not asked for",
                                   ((path, ev.line), *io.lines))  # fmt: skip
                        pending, written, last = {}, set(), (ev, io)
                    elif ev.kind == "read" and last is not None:
                        call, io = last
                        if ev.field in fields and ev.field not in written and ev.field not in io.stores:
                            report(path, ev.line, f"{function} reads {shown}.{ev.field} after {call.callee}(), which "
                                   f"does not return it: {io.how} returns {_list(io.stores)}",
                                   f"{function}: {shown}.{ev.field} read after {call.callee}()",
                                   ((path, call.line), *io.lines))  # fmt: skip
    _members(state, resolver, report)
    return hits


Report = Callable[[str, int, str, str, tuple[tuple[str, int], ...]], None]


def _members(state: TdxState, resolver: Calls, report: Report) -> None:
    """A member carries registers from one function to the next (KVM's ``vp_enter_args``): what crosses with it
    (TDH.VP.ENTER) must give back every field any other function reads from it, and pass every field any other
    function sets in it."""
    members, structs = state.member_types(), state.structs()
    crossing: dict[str, dict[str, CallIO]] = {}  # member -> callee -> what it does
    own: dict[str, set[tuple[str, str]]] = {}  # member -> (path, function) that pass it to a crossing call
    sites: dict[str, list[tuple[str, int]]] = {}  # member -> the lines that pass it
    for path, facts in sorted(state.c.items()):
        for function, flow in facts.flows.items():
            for ev in flow.events:
                if ev.kind != "call" or not ev.obj.startswith("->") or members.get(ev.obj[2:]) is None:
                    continue
                io = resolver.callee(ev.callee, ev.fnargs)
                if io is not None:
                    crossing.setdefault(ev.obj, {})[ev.callee] = io
                    own.setdefault(ev.obj, set()).add((path, function))
                    sites.setdefault(ev.obj, []).extend([(path, ev.line), *io.lines])
    for obj, callees in sorted(crossing.items()):
        loads = frozenset().union(*(io.loads for io in callees.values()))
        stores = frozenset().union(*(io.stores for io in callees.values()))
        names = " or ".join(f"{c}()" for c in sorted(callees))
        how = " or ".join(sorted(io.how for io in callees.values()))
        struct = members[obj[2:]]
        fields = set(structs[struct][1].field_names()) if struct in structs else set()
        member = obj[2:]
        evidence = tuple(dict.fromkeys(sites[obj]))
        for path, facts in sorted(state.c.items()):
            for function, flow in sorted(facts.flows.items()):
                if (path, function) in own[obj]:
                    continue  # checked in source order above
                for ev in flow.events:
                    if ev.obj != obj or ev.field not in fields:
                        continue
                    where = f"{function}: {member}.{ev.field}"
                    if ev.kind == "read" and ev.field not in stores:
                        message = (
                            f"{function} reads {member}.{ev.field}, which {names} fills: {how} returns {_list(stores)}"
                        )
                        report(path, ev.line, message, f"{where} read, filled by {names}", evidence)
                    elif ev.kind == "write" and loads and ev.field not in loads:
                        message = (
                            f"{function} sets {member}.{ev.field} for {names}, which does not pass it: {how} passes "
                        )
                        report(path, ev.line, message + _list(loads), f"{where} set for {names}", evidence)
