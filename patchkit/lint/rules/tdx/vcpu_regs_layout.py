"""tdx/vcpu-regs-layout: a vCPU register array used as an args struct has the struct's layout.

Where a vCPU register array is treated as an args struct (a cast, a memcpy, also through
a local pointer alias), every field sits at ``8 * __VCPU_REGS_<REG>``.
"""

from __future__ import annotations

import re

from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import VCPU_REGS_HEADER, TdxState

RULE: StateRule[TdxState] = StateRule("tdx/vcpu-regs-layout")


def _vcpu_regs(state: TdxState, header: str) -> dict[str, int] | None:
    facts = state.c.get(header)
    candidates = [facts] if facts is not None else list(state.c.values())
    out: dict[str, int] = {}
    for f in candidates:
        for name, (value, _line) in f.defines.items():
            m = re.match(r"^__VCPU_REGS_([A-Z0-9]+)$", name)
            if m:
                try:
                    out[m.group(1).lower()] = int(value.split()[0], 0)
                except (ValueError, IndexError):
                    continue
    return out or None


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    arrays = {"regs"}.union(*(f.array_names for f in state.c.values()))  # declared [NR_VCPU_REGS]
    uses = [(p, u) for p, f in sorted(state.c.items()) for u in f.layouts if u.array in arrays]
    if not uses:
        return hits
    header = settings[VCPU_REGS_HEADER]
    structs = state.structs()
    members = state.member_types()
    regs = _vcpu_regs(state, header)
    for path, use in uses:
        struct = use.struct
        if struct is not None and struct.startswith("member:"):
            struct = members.get(struct[len("member:") :])
        if struct not in state.args_structs:
            continue
        what = f"{use.how} between the vcpu register array ({use.array}) and struct {struct}"
        if struct not in structs:
            hits.append(RULE.hit(path, use.line, f"{what}: struct {struct} is not defined in this state"))
            continue
        if regs is None:
            hits.append(RULE.hit(path, use.line, f"{what}: no __VCPU_REGS_* values found ({header})"))
            continue
        for index, f in enumerate(structs[struct][1].fields):
            offset = 8 * index
            reg = canonical(f.name) or f.name
            if reg not in regs:
                hits.append(RULE.hit(path, use.line, f"{what}: field {f.name} (offset {offset}) has no "
                                     f"__VCPU_REGS_{f.name.upper()} slot"))  # fmt: skip
            elif regs[reg] * 8 != offset:
                hits.append(RULE.hit(path, use.line, f"{what}: field {f.name} is at offset {offset} but "
                                     f"8 * __VCPU_REGS_{reg.upper()} is {regs[reg] * 8}"))  # fmt: skip
    return hits
