"""KVM's side of the C facts: where code reads or writes a vCPU register, copies between an args struct
and the vCPU registers, and places that treat a vCPU register array as an args struct.

Filled from the hooks of :class:`patchkit.lint.lang.c.Extractor` in the same walk as the generic facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from patchkit.lint.lang.c import CFacts, Extractor, FieldUse, line, parts, struct_name_of_type, text

_VCPU_REG_INDEX = re.compile(r"^(?:__)?VCPU_REGS_([A-Z0-9]+)$")
_KVM_ACCESSOR = re.compile(r"^kvm_(r(?:[abcd]x|[sd]i|bp|sp|\d{1,2}))_(read|write)$")
_KVM_REGISTER = re.compile(r"^kvm_register_(read|write)(?:_raw)?$")


@dataclass(frozen=True)
class VcpuReg:
    reg: str  # 64-bit register name, lower case
    line: int
    text: str


@dataclass(frozen=True)
class RegCopy:
    args: FieldUse
    vcpu: VcpuReg
    direction: str  # "to_vcpu" | "from_vcpu"
    function: str = ""  # the function the copy is in ("" at file scope)
    part: str = ""  # "" (the whole register), "low" or "high" (32 bits: a mask or cast, a shift by 32)


@dataclass(frozen=True)
class LayoutUse:
    """A place that treats a vcpu register array as an args struct."""

    line: int
    how: str  # "cast" | "memcpy"
    text: str
    struct: str | None  # args struct named in the cast, or resolved from the other memcpy operand
    array: str  # the array's last name ("regs")


@dataclass
class KvmFacts(CFacts):
    copies: list[RegCopy] = field(default_factory=list)
    layouts: list[LayoutUse] = field(default_factory=list)
    array_names: set[str] = field(default_factory=set)  # names declared [NR_VCPU_REGS]


class KvmExtractor(Extractor):
    def new_facts(self, path: str) -> CFacts:
        self.kvm = KvmFacts(path=path)
        return self.kvm

    def on_declarator(self, name: str, array: str | None) -> None:
        if array is not None and "NR_VCPU_REGS" in array:
            self.kvm.array_names.add(name)

    def _vcpu_reg(self, node: Any) -> VcpuReg | None:
        """``x->arch.regs[VCPU_REGS_RAX]``, ``kvm_rax_read(vcpu)``, ``kvm_register_read(vcpu, VCPU_REGS_RAX)``."""
        if node.type == "subscript_expression":
            arg = node.child_by_field_name("argument")
            idx = node.child_by_field_name("index")
            if arg is None or idx is None:
                named = node.named_children
                if len(named) < 2:
                    return None
                arg, idx = named[0], named[-1]
            m = _VCPU_REG_INDEX.match(text(idx).strip())
            if m:  # the VCPU_REGS_* index says it is a vcpu register array, whatever its name
                return VcpuReg(m.group(1).lower(), line(node), text(node))
            return None
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is None or args is None:
                return None
            name = text(fn)
            m = _KVM_ACCESSOR.match(name)
            if m and m.group(2) == "read":
                return VcpuReg(m.group(1), line(node), text(node))
            m2 = _KVM_REGISTER.match(name)
            if m2 and m2.group(1) == "read" and len(args.named_children) >= 2:
                idx = _VCPU_REG_INDEX.match(text(args.named_children[1]).strip())
                if idx:
                    return VcpuReg(idx.group(1).lower(), line(node), text(node))
        return None

    def _copy(self, use: FieldUse, reg: VcpuReg, direction: str, scope: int, part: str) -> None:
        self.kvm.copies.append(RegCopy(use, reg, direction, self.functions.get(scope, ""), part))

    def on_assignment(self, node: Any, left: Any, right: Any, scope: int) -> None:
        vl = self._vcpu_reg(left)
        if vl is not None:
            for part_node, part in parts(right):
                use = self.member_use(part_node, scope)
                if use is not None:
                    self._copy(use, vl, "to_vcpu", scope, part)
            return
        use = self.member_use(left, scope)
        if use is None:
            return
        for part_node, part in parts(right):
            vr = self._vcpu_reg(part_node)
            if vr is not None:
                self._copy(use, vr, "from_vcpu", scope, part)

    def on_call(self, node: Any, name: str, argv: list[Any], scope: int) -> None:
        m = _KVM_ACCESSOR.match(name)
        if m and m.group(2) == "write" and len(argv) >= 2:
            for part_node, part in parts(argv[1]):
                use = self.member_use(part_node, scope)
                if use is not None:
                    self._copy(use, VcpuReg(m.group(1), line(node), text(node)), "to_vcpu", scope, part)
            return
        m2 = _KVM_REGISTER.match(name)
        if m2 and m2.group(1) == "write" and len(argv) >= 3:
            idx = _VCPU_REG_INDEX.match(text(argv[1]).strip())
            for part_node, part in parts(argv[2]):
                use = self.member_use(part_node, scope)
                if idx and use is not None:
                    reg = VcpuReg(idx.group(1).lower(), line(node), text(node))
                    self._copy(use, reg, "to_vcpu", scope, part)
            return
        if name in ("memcpy", "__memcpy") and len(argv) >= 2:
            dst, src = argv[0], argv[1]
            # both orientations are recorded; per state, only an array declared [NR_VCPU_REGS] on one side
            # and an args struct on the other count
            for array_side, struct_side in ((dst, src), (src, dst)):
                array = self.target(array_side, scope)
                own = self.struct_of_operand(array_side, scope)
                if array is None or (own is not None and not own.startswith("member:")):
                    continue
                other = self.struct_of_operand(struct_side, scope)
                if other is not None:
                    self.kvm.layouts.append(LayoutUse(line(node), "memcpy", text(node), other, array))

    def on_cast(self, node: Any, type_desc: Any, value: Any, scope: int) -> None:
        struct = struct_name_of_type(type_desc.child_by_field_name("type"))
        if struct not in self.structs_of_interest or "*" not in text(type_desc):
            return
        array = self.target(value, scope)
        if array is not None:  # whether it names a vcpu register array is decided per state
            self.kvm.layouts.append(LayoutUse(line(node), "cast", text(node), struct, array))


def extract(path: str, src: bytes, args_structs: Iterable[str], relevant: re.Pattern[str]) -> KvmFacts:
    """The facts of one C file, KVM's register copies and layouts included."""
    extractor = KvmExtractor(path, src, args_structs, relevant)
    extractor.run()
    return extractor.kvm
