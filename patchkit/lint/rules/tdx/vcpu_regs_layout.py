"""tdx/vcpu-regs-layout: a vCPU register array used as an args struct has the struct's layout.

Where a vCPU register array (or a struct that wraps it, such as KVM's ``struct kvm_vcpu_arch``) is treated as
an args struct (a cast, a ``void *`` or implicit conversion to an args pointer, an argument passed where the
prototype wants one, a memcpy, also through a local pointer alias), both byte ranges are computed (the array
from the slot it is indexed at, the struct from the field its address is taken of, memcpy's size where it is
given) and every 8-byte slot is checked: the field there sits at ``8 * __VCPU_REGS_<REG>``.
"""

from __future__ import annotations

import re

from patchkit.lint import expr
from patchkit.lint.lang.c import StructDef
from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import VCPU_REGS_HEADER, TdxState
from patchkit.lint.rules.tdx.kvm import LayoutUse

RULE: StateRule[TdxState] = StateRule("tdx/vcpu-regs-layout")
_STRUCT = re.compile(r"^(?:const\s+)?struct\s+(\w+)$")
_HOW = {"cast": "cast", "memcpy": "memcpy", "conversion": "conversion (void * or implicit)"}


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


def _slot(index: str, regs: dict[str, int]) -> int | None:
    """The array slot an index expression names: ``VCPU_REGS_R8``, ``__VCPU_REGS_R8``, a number, "" (0)."""
    if not index:
        return 0
    names = {f"VCPU_REGS_{r.upper()}": v for r, v in regs.items()}
    names.update({f"__VCPU_REGS_{r.upper()}": v for r, v in regs.items()})
    try:
        return expr.evaluate(index, names)
    except expr.ExprError:
        return None


def memcpy_size(text: str, structs: dict[str, tuple[str, StructDef]], state: TdxState) -> int | None:
    """memcpy's size in bytes (sizeof of an args struct: 8 bytes a field), or None when it cannot be told."""
    args = state.args_structs
    if not text or "unknown" in text:
        return None

    def sub(m: re.Match[str]) -> str:
        kind, struct, fld = m.group(1), m.group(2), m.group(3)
        if struct == "member":  # sizeof(tdx->vp_enter_args)
            struct, fld = state.member_types().get(fld or "", ""), None
            kind = "sizeof" if kind == "sizeof" else "unknown"
        if struct not in structs or struct not in args:
            return "unknown"
        names = structs[struct][1].field_names()
        if kind == "sizeof":
            return str(8 * len(names))
        return str(8 * names.index(fld)) if fld in names else "unknown"

    resolved = re.sub(r"\b(sizeof|offsetof):(\w+)(?::(\w+))?", sub, text)
    try:
        return expr.evaluate(resolved)
    except expr.ExprError:
        return None


def _struct_types(state: TdxState) -> dict[str, set[str]]:
    """Every struct member whose type is a struct (by value): name -> the structs members of that name have
    (``arch`` is a struct kvm_vcpu_arch in struct kvm_vcpu, a struct kvm_arch in struct kvm)."""
    out: dict[str, set[str]] = {}
    for facts in state.c.values():
        for sdef in facts.structs.values():
            for f in sdef.fields:
                m = _STRUCT.match(f.type)
                if m and f.array is None:
                    out.setdefault(f.name, set()).add(m.group(1))
    return out


def _wraps(sdef: StructDef, arrays: set[str]) -> bool:
    """Whether the struct's first field is the vcpu register array (a view of the struct is one of the array)."""
    return (
        bool(sdef.fields)
        and sdef.fields[0].array is not None
        and ("NR_VCPU_REGS" in (sdef.fields[0].array or "") or sdef.fields[0].name in arrays)
    )


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    uses = [(p, u) for p, f in sorted(state.c.items()) for u in f.layouts]
    if not uses:
        return hits
    arrays = {"regs"}.union(*(f.array_names for f in state.c.values()))  # declared [NR_VCPU_REGS]
    arrays |= {f.name for facts in state.c.values() for sdef in facts.structs.values() for f in sdef.fields
               if f.array is not None and "NR_VCPU_REGS" in f.array}  # fmt: skip
    structs = state.structs()
    members = state.member_types()
    prototypes: dict[str, tuple[str | None, ...]] = {}
    for facts in state.c.values():
        for name, params in facts.prototypes.items():
            prototypes.setdefault(name, params)
    types: dict[str, set[str]] | None = None
    header = settings[VCPU_REGS_HEADER]
    regs = _vcpu_regs(state, header)
    for path, use in uses:
        struct = use.struct
        if use.how == "argument":
            params = prototypes.get(use.callee, ())
            struct = params[use.argpos] if 0 <= use.argpos < len(params) else None
        elif struct is not None and struct.startswith("member:"):
            struct = members.get(struct[len("member:") :])
        if struct not in state.args_structs:
            continue
        array = use.array
        if array not in arrays:
            types = types if types is not None else _struct_types(state)
            candidates = [use.wrapper] if use.wrapper else sorted(types.get(array, ()))
            wrapper = next((w for w in candidates if w in structs and _wraps(structs[w][1], arrays)), "")
            if not wrapper:
                continue
            array = f"{array}, a struct {wrapper} whose first field is the register array"
        how = _HOW.get(use.how, f"argument {use.argpos + 1} of {use.callee}()")
        if struct not in structs:
            hits.append(RULE.hit(path, use.line, f"{how} between the vcpu register array ({array}) and struct "
                                 f"{struct}: struct {struct} is not defined in this state"))  # fmt: skip
            continue
        if regs is None:
            hits.append(RULE.hit(path, use.line, f"{how} between the vcpu register array ({array}) and struct "
                                 f"{struct}: no __VCPU_REGS_* values found ({header})"))  # fmt: skip
            continue
        hits.extend(_check_view(path, use, how, array, struct, structs[struct][1], regs, structs, state))
    return hits


def _check_view(
    path: str, use: LayoutUse, how: str, array: str, struct: str, sdef: StructDef, regs: dict[str, int],
    structs: dict[str, tuple[str, StructDef]], state: TdxState,
) -> list[Hit]:  # fmt: skip
    """Every 8-byte slot the view covers: the field there and the register the array holds there."""
    fields = sdef.field_names()
    base = _slot(use.regs_index, regs)
    first = fields.index(use.field) if use.field in fields else (0 if not use.field else None)
    if base is None or first is None:
        return []
    size = memcpy_size(use.size, structs, state) if use.how == "memcpy" else None
    count = (size + 7) // 8 if size is not None else len(fields) - first
    whole = base == 0 and first == 0 and count == len(fields)
    where = f"{array}{' from ' + use.regs_index if use.regs_index else ''}"
    part = f" from {use.field}" if use.field else ""
    extent = f" ({size} bytes)" if size is not None and not whole else ""
    what = f"{how} between the vcpu register array ({where}) and struct {struct}{part}{extent}"
    by_slot = {v: r for r, v in regs.items()}
    hits: list[Hit] = []
    for k in range(count):
        index, slot = first + k, base + k
        if index >= len(fields):
            hits.append(RULE.hit(path, use.line, f"{what}: reaches past the end of struct {struct} ({len(fields)} "
                                 "fields)"))  # fmt: skip
            break
        name = fields[index]
        reg = canonical(name) or name
        offset = 8 * index
        if reg not in regs:
            hits.append(RULE.hit(path, use.line, f"{what}: field {name} (offset {offset}) has no "
                                 f"__VCPU_REGS_{name.upper()} slot"))  # fmt: skip
        elif regs[reg] != slot:
            if whole:
                message = (
                    f"{what}: field {name} is at offset {offset} but 8 * __VCPU_REGS_{reg.upper()} is {regs[reg] * 8}"
                )
            else:
                held = by_slot.get(slot, "")
                meets = f"__VCPU_REGS_{held.upper()}" if held else f"slot {slot}"
                message = f"{what}: field {name} (offset {offset}) meets {meets}, not __VCPU_REGS_{reg.upper()}"
            hits.append(RULE.hit(path, use.line, message))
    return hits
