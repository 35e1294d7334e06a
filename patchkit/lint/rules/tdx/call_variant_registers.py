"""tdx/call-variant-registers: C code uses the registers the variant it calls passes and returns.

In each C function, per args struct (a local, a parameter, or a member such as ``tdx->vp_enter_args``), in
source order: a field read after a call that crosses to the TDX module (or the VMM) is one the variant
behind that call gives back (``__tdcall_ret``, not ``__tdcall``); a field set for such a call is one it
passes (R12-R15, RBX, RDI, RSI only through a ``saved`` variant); a call in the branch of an ``if`` that
tests an STI flag is to a variant that enables interrupts (``*_sti``), and one in the other branch is not.
What each call does comes from :mod:`patchkit.lint.rules.tdx.calls`.
"""

from __future__ import annotations

from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.calls import CallIO, calls
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

    def report(path: str, line: int, message: str, identity: str) -> None:
        # the identity leaves out how the variant is spelled (its macro gains parameters in later patches)
        if identity not in seen:
            seen.add(identity)
            hits.append(RULE.hit(path, line, message, identity))

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
                                       f"{function}: {shown}.{fld} set for {ev.callee}()")  # fmt: skip
                        if ev.sti == "then" and not io.sti:
                            report(path, ev.line, f"{function} calls {ev.callee}() in the branch taken when STI is "
                                   f"asked for, but {io.how} does not enable interrupts",
                                   f"{function}: {ev.callee}() where STI is asked for")  # fmt: skip
                        elif ev.sti == "else" and io.sti:
                            report(path, ev.line, f"{function} calls {ev.callee}() in the branch taken when STI is "
                                   f"not asked for, but {io.how} enables interrupts",
                                   f"{function}: {ev.callee}() where STI is not asked for")  # fmt: skip
                        pending, written, last = {}, set(), (ev, io)
                    elif ev.kind == "read" and last is not None:
                        call, io = last
                        if ev.field in fields and ev.field not in written and ev.field not in io.stores:
                            report(path, ev.line, f"{function} reads {shown}.{ev.field} after {call.callee}(), which "
                                   f"does not return it: {io.how} returns {_list(io.stores)}",
                                   f"{function}: {shown}.{ev.field} read after {call.callee}()")  # fmt: skip
    return hits
