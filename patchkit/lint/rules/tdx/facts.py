"""What the TDX rules share about one tree state, and the pack's options.

The args structs and where they are defined, the asm-offsets, the assembly macros and every
expanded variant, and offsets used on a pointer to another struct (two rules read them).

Everything derived is computed once per state and kept on the :class:`TdxState`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from patchkit.lint import options
from patchkit.lint.lang import asmflow
from patchkit.lint.lang.asm import AsmFacts, Macro, parse_mem
from patchkit.lint.lang.c import Base, OffsetCall, StructDef
from patchkit.lint.options import Option
from patchkit.lint.rules.tdx.kvm import KvmFacts

if TYPE_CHECKING:
    from patchkit.lint.rules.tdx.paths import Walked

# TDX_<KIND>_<field>: the offset of <field> in the args struct of that KIND (asm-offsets makes them)
OFFSET_SYMBOL = re.compile(r"\bTDX_([A-Z][A-Z0-9]*)_([a-z][a-z0-9]*)\b")
# TDCALL (guest to TDX module), SEAMCALL (host to TDX module), VMCALL: their registers travel in the args structs.
# The exception-table entries whose fixup finds the trap number in RAX (x86's asm.h and mm/extable.c: a
# _ASM_EXTABLE_FAULT entry is of type EX_TYPE_FAULT, whose handler sets regs->ax = trapnr, as EX_TYPE_COPY's and
# the _MCE_SAFE variant's do; _ASM_EXTABLE (EX_TYPE_DEFAULT) and _ASM_EXTABLE_UA only move to the fixup).
TRAP_ENTRIES = frozenset({"_ASM_EXTABLE_FAULT", "_ASM_EXTABLE_CPY"})
TRAP_TYPES = frozenset({"EX_TYPE_FAULT", "EX_TYPE_FAULT_MCE_SAFE", "EX_TYPE_COPY"})
CROSSING = asmflow.Crossing(frozenset({"tdcall", "seamcall", "vmcall"}), OFFSET_SYMBOL, TRAP_ENTRIES, TRAP_TYPES)
ASM_OFFSETS = ("arch/x86/kernel/asm-offsets.c", "arch/x86/kernel/asm-offsets_64.c")


def _args_structs(value: Any) -> dict[str, str]:
    return {str(name): str(kind) for name, kind in value.items()}


# ---- the pack's options (lint.yaml: packs: tdx:) ----------------------------------------------------------

ARGS_STRUCTS: Option[dict[str, str]] = Option(
    "args_structs",
    "the structs that carry TDCALL/SEAMCALL/TDVMCALL registers, each with the KIND of its asm-offsets "
    "(OFFSET(TDX_<KIND>_<field>, <struct>, <field>))",
    "mapping: struct name -> KIND",
    {"tdx_module_args": "MODULE", "tdx_module_output": "MODULE", "tdx_hypercall_args": "HYPERCALL"},
    {
        "type": "object",
        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "additionalProperties": {"type": "string", "pattern": "^[A-Z][A-Z0-9]*$"},
    },
    _args_structs,
    merge="add",
)
VCPU_REGS_HEADER = options.text(
    "vcpu_regs_header",
    "arch/x86/include/asm/kvm_vcpu_regs.h",
    "the header whose __VCPU_REGS_<REG> values give the vCPU register array's layout (read in every state)",
)
KVM_HEADERS = options.strings(
    "kvm_headers",
    ["include/linux/kvm_host.h", "arch/x86/include/asm/kvm_host.h"],
    "KVM headers read in every state for their struct declarations only: the vCPU structs that hold the "
    "register array (struct kvm_vcpu's arch, whose first field it is: a cast of it views the array)",
    kind="list of paths",
)
VCPU_ACCESSORS_HEADER = options.text(
    "vcpu_accessors_header",
    "arch/x86/kvm/kvm_cache_regs.h",
    "the header of KVM's one-line register accessors, read in every state (a copy through kvm_read_edx_eax() is seen)",
)
SEARCH_PATHS = options.strings(
    "search_paths",
    ["arch/x86/", "drivers/virt/", "virt/"],
    "where the base is searched for the files the TDX rules read, and tdx/removed-symbol-users for users "
    "(besides every file a patch touches)",
    kind="list of directories",
)
PACK_OPTIONS: tuple[Option[Any], ...] = (
    ARGS_STRUCTS,
    VCPU_REGS_HEADER,
    KVM_HEADERS,
    VCPU_ACCESSORS_HEADER,
    SEARCH_PATHS,
)


@dataclass(frozen=True)
class Mismatch:
    """A ``TDX_<K>_x(%base)`` whose KIND is not that of the struct %base points to."""

    path: str
    line: int
    symbol: str
    message: str
    identity: str
    evidence: tuple[tuple[str, int], ...]


@dataclass
class TdxState:
    label: str
    args_structs: Mapping[str, str]  # struct name -> KIND
    c: dict[str, KvmFacts] = field(default_factory=dict)
    asm: dict[str, AsmFacts] = field(default_factory=dict)
    # computed once per state, for every rule that reads them
    variants: list[asmflow.Variant] | None = None
    mismatches: list[Mismatch] | None = None
    walked: list[Walked] | None = None  # the path walk's findings (:mod:`patchkit.lint.rules.tdx.paths`)
    walks: list[tuple[asmflow.Variant, asmflow.Walk]] | None = None  # each variant's walk (the facts rules judge)
    members: dict[str, str] | None = None
    # what the C-side helpers derive once per state (resolved copies, what each call does with the struct)
    derived: dict[str, Any] = field(default_factory=dict)

    def kinds(self) -> set[str]:
        return set(self.args_structs.values())

    def structs(self) -> dict[str, tuple[str, StructDef]]:
        """Struct definitions by name; a definition under arch/x86/include wins over copies. Computed once per
        state (most rules read it)."""
        cached = self.derived.get("structs")
        if isinstance(cached, dict):
            return cached
        found: dict[str, tuple[str, StructDef]] = {}
        self.derived["structs"] = found
        for path in sorted(self.c, key=lambda p: (not p.startswith("arch/x86/include/"), p)):
            for name, sdef in self.c[path].structs.items():
                found.setdefault(name, (path, sdef))
        return found

    def asm_offsets(self) -> list[tuple[str, OffsetCall]]:
        return [
            (path, off)
            for path, facts in sorted(self.c.items())
            if path.rsplit("/", 1)[-1].startswith("asm-offsets")
            for off in facts.offsets
        ]

    def macros(self) -> dict[str, Macro]:
        merged: dict[str, Macro] = {}
        for path in sorted(self.asm):
            merged.update(self.asm[path].macros)
        return merged

    def member_types(self) -> dict[str, str]:
        """Struct members whose type is an args struct: member name -> struct name."""
        if self.members is None:
            self.members = {}
            for facts in self.c.values():
                for sdef in facts.structs.values():
                    for f in sdef.fields:
                        m = re.match(r"^(?:const\s+)?struct\s+(\w+)", f.type)
                        if m and m.group(1) in self.args_structs:
                            self.members.setdefault(f.name, m.group(1))
        return self.members

    def resolve(self, base: Base) -> str | None:
        """The struct a member access starts from, where the file or the state's headers say."""
        if base.struct is not None:
            return base.struct
        if base.kind == "member":
            return self.member_types().get(base.name)
        return None


def variants(state: TdxState) -> list[asmflow.Variant]:
    """Every function that touches an args struct or the stack, expanded; plus every variant of every
    args-struct macro that no function invokes yet (its text says which variants exist)."""
    if state.variants is not None:
        return state.variants
    out: list[asmflow.Variant] = []
    macros = state.macros()
    expander = asmflow.Expander(macros, CROSSING)
    for _path, facts in sorted(state.asm.items()):
        for fn in facts.functions:
            variant = expander.expand(fn)
            if variant.relevant:
                out.append(variant)
    for name, macro in sorted(macros.items()):
        if not asmflow.uses_slots(macro, CROSSING):
            continue
        called = [dict(v.args) for v in out if v.macro == name]
        for values in asmflow.macro_variants(macro):
            varied = [k for k, v in values.items() if not v.startswith("<")]
            if any(all(c.get(k) == values[k] for k in varied) for c in called):
                continue  # a function invokes this variant: its own expansion covers it
            out.append(expander.expand_macro(macro, values))
    state.variants = out
    return out


ARG_REGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")


def pointer_mismatches(state: TdxState) -> list[Mismatch]:
    """Every ``TDX_<K>_x(%base)`` whose KIND is not that of the struct %base points to. What %base holds
    comes from the C prototype of the function (SysV argument registers), else from what the rest of the
    block (the macro, or the function's own lines) indexes it with."""
    if state.mismatches is not None:
        return state.mismatches
    kinds = state.kinds()
    prototypes: dict[str, tuple[str | None, ...]] = {}
    for facts in state.c.values():
        for name, params in facts.prototypes.items():
            prototypes.setdefault(name, params)
    found: dict[tuple[str, int, str], Mismatch] = {}
    for variant in variants(state):
        held: dict[str, tuple[str, str]] = {}  # register -> (kind, how we know)
        if not variant.synthetic and variant.function.name in prototypes:
            for reg, struct in zip(ARG_REGS, prototypes[variant.function.name], strict=False):
                if struct is not None and struct in state.args_structs:
                    held[reg] = (state.args_structs[struct], f"a struct {struct} pointer by the C prototype")
        uses: list[tuple[asmflow.Step, str, str, str]] = []  # step, symbol, kind, base
        votes: dict[tuple[str, str], Counter[str]] = {}  # (block, base) -> kinds
        for step in variant.steps:
            if step.kind != "insn":
                continue
            for op in step.operands:
                mem = parse_mem(op)
                if mem is None or mem[1] is None:
                    continue
                found_sym = OFFSET_SYMBOL.fullmatch(mem[0])
                if found_sym is None or found_sym.group(1) not in kinds:
                    continue
                uses.append((step, found_sym.group(0), found_sym.group(1), mem[1]))
                votes.setdefault((step.origin, mem[1]), Counter())[found_sym.group(1)] += 1
        for step, sym, kind, base in uses:
            expected, how = held.get(base, ("", ""))
            if not expected:
                counts = votes[(step.origin, base)].most_common()
                if len(counts) < 2 or counts[0][1] == counts[1][1]:
                    continue  # one kind only, or no majority to tell which is wrong
                expected, how = counts[0][0], f"indexed with TDX_{counts[0][0]}_* offsets elsewhere in the same code"
            if kind == expected:
                continue
            owner = step.origin or variant.function.name
            message = (
                f"{sym} indexes %{base}, which holds a pointer to the struct of the TDX_{expected}_* offsets "
                f"({how}); a TDX_{kind}_* offset reads another struct's layout"
            )
            mismatch = Mismatch(step.path, step.line, sym, message, f"{owner}: {sym} on %{base} holding {expected}",
                                ((step.path, step.line),))  # fmt: skip
            found.setdefault((step.path, step.line, sym), mismatch)
    state.mismatches = list(found.values())
    return state.mismatches
