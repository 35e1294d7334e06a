"""tdx/args-copy-pairs: copies between two register structs pair the same registers, and leave none out.

An assignment or designated initializer between fields of two args structs (the same struct, or an old and a
new one such as ``tdx_module_output`` and ``tdx_module_args``) moves a register to the same register; a
memcpy between two args structs meets the same register in every 8-byte slot it covers; a function that
copies four or more registers from one struct to the other copies all the registers both have but one or two.
"""

from __future__ import annotations

from collections import defaultdict

from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.copies import resolved
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.vcpu_regs_layout import memcpy_size

RULE: StateRule[TdxState] = StateRule("tdx/args-copy-pairs")
MIN_FULL_COPY = 4  # same-register copies that make a function's copies a full copy between the structs
MAX_LEFT_OUT = 2


def _struct(state: TdxState, name: str) -> str | None:
    if name.startswith("member:"):
        return state.member_types().get(name[len("member:") :])
    return name if name in state.args_structs else None


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    structs = state.structs()
    blocks: dict[tuple[str, str, str, str, str, str], list[tuple[str, int]]] = defaultdict(list)
    for path, copy in resolved(state).field_copies:
        key = (path, copy.function, copy.dest_struct, copy.dest.base.name, copy.source_struct, copy.source.base.name)
        if canonical(copy.dest.field) == canonical(copy.source.field) and not copy.part:
            blocks[key].append((copy.dest.field, copy.line))
        dest, source = canonical(copy.dest.field), canonical(copy.source.field)
        if dest is None or source is None or dest == source:
            continue
        half = {"low": " (low 32 bits)", "high": " (high 32 bits)"}.get(copy.part, "")
        where = copy.function or "file scope"
        hits.append(RULE.hit(path, copy.line, f"{copy.source_struct}.{copy.source.field}{half} -> "
                             f"{copy.dest_struct}.{copy.dest.field} in {where}: different registers (a copy between "
                             "register structs keeps the register)"))  # fmt: skip
    for (path, function, dest, _d, source, _s), copied in sorted(blocks.items()):
        if dest not in structs or source not in structs:
            continue
        both = set(structs[dest][1].field_names()) & set(structs[source][1].field_names())
        both = {f for f in both if canonical(f) is not None}
        left = sorted(both - {f for f, _line in copied})
        if len({f for f, _line in copied}) >= MIN_FULL_COPY and 1 <= len(left) <= MAX_LEFT_OUT:
            first = min(line for _f, line in copied)
            hits.append(RULE.hit(path, first, f"{function or 'file scope'} copies {len(both) - len(left)} of the "
                                 f"{len(both)} registers struct {source} and struct {dest} share, but leaves out "
                                 f"{', '.join(left)}"))  # fmt: skip
    for path, facts in sorted(state.c.items()):
        for sc in facts.struct_copies:
            dest, source = _struct(state, sc.dest), _struct(state, sc.source)
            if dest is None or source is None or dest not in structs or source not in structs:
                continue
            dest_fields, source_fields = structs[dest][1].field_names(), structs[source][1].field_names()
            d0 = dest_fields.index(sc.dest_field) if sc.dest_field in dest_fields else (None if sc.dest_field else 0)
            s0 = (source_fields.index(sc.source_field) if sc.source_field in source_fields
                  else (None if sc.source_field else 0))  # fmt: skip
            if d0 is None or s0 is None:
                continue
            size = memcpy_size(sc.size, structs, state)
            count = (size + 7) // 8 if size is not None else min(len(dest_fields) - d0, len(source_fields) - s0)
            for k in range(count):
                if d0 + k >= len(dest_fields) or s0 + k >= len(source_fields):
                    break
                d, s = dest_fields[d0 + k], source_fields[s0 + k]
                if canonical(d) != canonical(s):
                    message = (
                        f"memcpy from struct {source} to struct {dest}: {source}.{s} lands in {dest}.{d} "
                        f"(offset {8 * (d0 + k)}): different registers"
                    )
                    hits.append(RULE.hit(path, sc.line, message))
    return hits
