"""tdx/vcpu-regs-copy-complete: a copy-in or copy-out of registers leaves none out.

Per function and direction, between one args struct and the vCPU registers (or a guest's ``pt_regs``): where
an ABI translation holds whose pairs go together (its ``groups``: the five hypercall arguments, the CPUID
inputs or results) and the code copies at least half of a group, it copies all of it; a value split into
32-bit halves by a translation (R13 into EDX:EAX) has both halves copied; and a copy that keeps the registers
for all but one or two of the struct's register fields (four copies or more) copies those too.
"""

from __future__ import annotations

from collections import defaultdict

from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.copies import resolved
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.kvm import RegCopy
from patchkit.lint.rules.tdx.vcpu_regs_copy import holding, translations

RULE: StateRule[TdxState] = StateRule("tdx/vcpu-regs-copy-complete")
MIN_FULL_COPY = 4  # same-register copies that make a block a full copy-in or copy-out
MAX_LEFT_OUT = 2  # registers a full copy may leave out before it no longer counts as one


def _arrow(direction: str, field_reg: str, vcpu: str) -> str:
    return f"{field_reg.upper()} -> {vcpu}" if direction == "to_vcpu" else f"{vcpu} -> {field_reg.upper()}"


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    known = translations(settings)
    groups: dict[tuple[str, str, str, str, str, str], list[RegCopy]] = defaultdict(list)
    for path, copy in resolved(state).reg_copies:
        key = (path, copy.function, copy.direction, copy.struct, copy.args.base.name, copy.vcpu.kind)
        groups[key].append(copy)
    structs = state.structs()
    for (path, function, direction, struct, _base, kind), copies in sorted(groups.items(), key=lambda g: g[0]):
        where = function or "file scope"
        side = "vcpu" if kind == "vcpu" else "pt_regs"
        first = min(copies, key=lambda c: c.line)
        pairs = {
            (f, v) for c in copies if not c.part and (f := canonical(c.args.field)) and (v := canonical(c.vcpu.reg))
        }
        halves = {
            (f, c.part, v) for c in copies if c.part and (f := canonical(c.args.field)) and (v := canonical(c.vcpu.reg))
        }
        _handled, here = holding(state, first, known)
        for t in here:
            best = max(t.groups, key=lambda g: (len(g & pairs), -len(g))) if t.groups else frozenset()
            found = len(best & pairs)
            if found and 2 * found >= len(best) and not any(g <= pairs for g in t.groups):
                missing = ", ".join(_arrow(direction, f, f"{side} {v.upper()}") for f, v in sorted(best - pairs))
                hits.append(RULE.hit(path, first.line, f"{where} copies {found} of the {len(best)} registers that "
                                     f"'{t.name}' moves together but leaves out {missing}"))  # fmt: skip
            for f, part, v in sorted((f, p, v) for f, p, v in halves if f is not None and v is not None):
                other = "high" if part == "low" else "low"
                wanted = [(f2, h2, v2) for f2, h2, v2 in t.splits if f2 == f and h2 == other]
                if (f, part, v) in t.splits and wanted and not any(w in halves for w in wanted):
                    done = _arrow(direction, f, f"{side} {v.upper()}")
                    missing = _arrow(direction, f, f"{side} {wanted[0][2].upper()}")
                    message = (
                        f"{where} copies the {part} 32 bits of {struct}.{f} ({done}) but not the {other} 32 bits "
                        f"({missing}), which '{t.name}' splits it into"
                    )
                    hits.append(RULE.hit(path, first.line, message))
        if struct not in structs:
            continue
        same = {f for f, v in pairs if f == v}
        fields = {r for n in structs[struct][1].field_names() if (r := canonical(n)) is not None}
        left = sorted(fields - same)
        if len(same) >= MIN_FULL_COPY and 1 <= len(left) <= MAX_LEFT_OUT:
            what = "copy-out to" if direction == "to_vcpu" else "copy-in from"
            hits.append(RULE.hit(path, first.line, f"{where}: the {what} the {side} registers keeps {len(same)} of the "
                                 f"{len(fields)} registers of struct {struct} but leaves out "
                                 f"{', '.join(r.upper() for r in left)}"))  # fmt: skip
    return hits
