"""tdx/vcpu-regs-copy: copies between an args struct and the vCPU registers keep the register.

An assignment, write accessor, designated initializer or one-line accessor call between an args-struct
field and a vCPU register (or a guest's saved ``pt_regs``) pairs the same register, unless the ABI
translation of what the code handles pairs them: the enclosing ``case EXIT_REASON_*`` label, the constant
an enclosing ``if`` compares with, a call to the matching KVM emulation function in the same block, or,
failing those, what the cases that call the function handle. 32-bit halves need a translation's ``splits``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Option, Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.copies import context_names, resolved
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.lint.rules.tdx.kvm import RegCopy

_GLOBS = {"type": "array", "items": {"type": "string"}}
_NAMES = {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}}
_REGS = {"type": "object", "additionalProperties": {"type": "string"}}
_PAIRS = {
    "type": "object",
    "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
}
_SCOPE = {"type": "object", "additionalProperties": False, "properties": {"functions": _GLOBS, "args": _GLOBS}}

_HYPERCALL = {"r10": "rax", "r11": "rbx", "r12": "rcx", "r13": "rdx", "r14": "rsi"}
_CPUID_IN = {"r12": "rax", "r13": "rcx"}
_CPUID_OUT = {"r12": "rax", "r13": "rbx", "r14": "rcx", "r15": "rdx"}
SHIPPED: list[dict[str, Any]] = [
    {
        "name": "TDVMCALL hypercall arguments (R10-R14) to KVM's hypercall ABI (RAX, RBX, RCX, RDX, RSI)",
        "pairs": _HYPERCALL,
        "groups": [_HYPERCALL],
        "handles": ["EXIT_REASON_VMCALL", "__kvm_emulate_hypercall", "kvm_emulate_hypercall"],
    },
    {
        "name": "TDVMCALL MSR access to the RDMSR/WRMSR ABI (R12 -> ECX, R13 -> EDX:EAX, EDX:EAX -> R11)",
        "pairs": {"r12": "rcx"},
        "splits": {"r13": {"low": "rax", "high": "rdx"}, "r11": {"low": "rax", "high": "rdx"}},
        "handles": [
            "EXIT_REASON_MSR_READ", "EXIT_REASON_MSR_WRITE", "kvm_emulate_rdmsr", "kvm_emulate_wrmsr",
            "kvm_get_msr", "kvm_set_msr", "__kvm_get_msr", "__kvm_set_msr",
        ],
    },
    {
        "name": "TDVMCALL port I/O and MMIO data (R15 -> the value written, the value read -> R11)",
        "pairs": {"r15": "rax", "r11": "rax"},
        "handles": [
            "EXIT_REASON_IO_INSTRUCTION", "EXIT_REASON_EPT_VIOLATION", "kvm_fast_pio", "kvm_emulate_instruction",
        ],
    },
    {
        "name": "TDVMCALL CPUID to the CPUID ABI (R12, R13 -> EAX, ECX; EAX, EBX, ECX, EDX -> R12-R15)",
        "pairs": {"r12": "rax", "r13": ["rcx", "rbx"], "r14": "rcx", "r15": "rdx"},
        "groups": [_CPUID_IN, _CPUID_OUT],
        "handles": ["EXIT_REASON_CPUID", "kvm_emulate_cpuid", "kvm_cpuid"],
    },
]  # fmt: skip
ABI_TRANSLATIONS: Option[tuple[dict[str, Any], ...]] = Option(
    "abi_translations",
    "ABI translations: which args-struct field registers may be copied to which vCPU registers (pairs: a "
    "register or a list, either direction; splits: 32-bit halves, low and high), where (handles: the exit "
    "reasons, leaves or KVM emulation functions whose code carries that ABI: a case label, a constant an if "
    "compares with, a function called in the same block or from the cases that call the function; scope: "
    "function or args globs that must match too; neither: everywhere), and which pairs go together (groups: "
    "tdx/vcpu-regs-copy-complete); shipped: the TDVMCALL hypercall, MSR, I/O and CPUID ones",
    "list of {name, pairs, splits, handles, scope, groups}",
    SHIPPED,
    {
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "anyOf": [{"required": ["pairs"]}, {"required": ["splits"]}],
            "properties": {
                "name": {"type": "string"},
                "pairs": _PAIRS,
                "splits": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "minProperties": 1,
                        "properties": {"low": {"type": "string"}, "high": {"type": "string"}},
                    },
                },
                "handles": _NAMES,
                "scope": _SCOPE,
                "groups": {"type": "array", "items": _REGS},
            },
        },
    },
    lambda value: tuple({"name": "project translation", **t} for t in value),
    merge="add",
)
RULE: StateRule[TdxState] = StateRule("tdx/vcpu-regs-copy", options=(ABI_TRANSLATIONS,))


@dataclass(frozen=True)
class Translation:
    """An ABI translation: which args-struct field registers may be copied to which vcpu registers, and where."""

    name: str
    pairs: frozenset[tuple[str, str]]  # (field register, vcpu register), either direction
    splits: frozenset[tuple[str, str, str]] = frozenset()  # (field register, "low"/"high", vcpu register)
    handles: frozenset[str] = frozenset()  # what code must handle for it to hold (empty: no such condition)
    functions: tuple[str, ...] = ()  # scope globs (empty: no such condition)
    args: tuple[str, ...] = ()
    groups: tuple[frozenset[tuple[str, str]], ...] = ()

    def pairs_them(self, field_reg: str, vcpu_reg: str, part: str) -> bool:
        if part == "high":
            return (field_reg, part, vcpu_reg) in self.splits
        whole = (field_reg, vcpu_reg) in self.pairs or (vcpu_reg, field_reg) in self.pairs
        return whole or (part == "low" and (field_reg, part, vcpu_reg) in self.splits)

    def holds(self, handled: Iterable[str], function: str, args_name: str) -> bool:
        """Whether it holds in code that handles ``handled``, in ``function``, on args named ``args_name``."""
        if self.handles and not (self.handles & set(handled)):
            return False
        if self.functions or self.args:
            return any(fnmatch.fnmatchcase(function, g) for g in self.functions) or any(
                fnmatch.fnmatchcase(args_name, g) for g in self.args
            )
        return True

    def partner(self, field_reg: str) -> str:
        """What it pairs a field register with, in words ("" when it does not use it)."""
        whole = sorted({v.upper() for f, v in self.pairs if f == field_reg} | {f.upper() for v, f in self.pairs
                                                                              if v == field_reg})  # fmt: skip
        halves = sorted(f"{h}: {v.upper()}" for f, h, v in self.splits if f == field_reg)
        shown = whole + ([f"EDX:EAX halves ({', '.join(halves)})"] if halves else [])
        return " or ".join(shown)

    def where(self) -> str:
        if self.handles:
            return "code that handles " + ", ".join(sorted(self.handles))
        return "functions " + ", ".join(self.functions) + "; args " + ", ".join(self.args)


def _regs(value: Any) -> frozenset[tuple[str, str]]:
    """(field register, vcpu register) pairs of a mapping whose values are a register or a list of them."""
    return frozenset(
        (str(k).lower(), str(v).lower())
        for k, vs in (value or {}).items()
        for v in (vs if isinstance(vs, list) else [vs])
    )


def translations(settings: Settings) -> list[Translation]:
    """The translations of this run."""

    def make() -> list[Translation]:
        out = []
        for t in settings[ABI_TRANSLATIONS]:
            scope = t.get("scope") or {}
            splits = {
                (str(reg).lower(), str(half).lower(), str(vcpu).lower())
                for reg, halves in (t.get("splits") or {}).items()
                for half, vcpu in halves.items()
            }
            out.append(
                Translation(
                    name=str(t["name"]),
                    pairs=_regs(t.get("pairs")),
                    splits=frozenset(splits),
                    handles=frozenset(str(h) for h in t.get("handles") or ()),
                    functions=tuple(str(g) for g in scope.get("functions", ())),
                    args=tuple(str(g) for g in scope.get("args", ())),
                    groups=tuple(_regs(g) for g in t.get("groups") or ()),
                )
            )
        return out

    return settings.derived("tdx/vcpu-regs-copy translations", make)


def handle_names(known: list[Translation]) -> frozenset[str]:
    return frozenset().union(*(t.handles for t in known))


def holding(state: TdxState, copy: RegCopy, known: list[Translation]) -> tuple[frozenset[str], list[Translation]]:
    """What the code around ``copy`` handles, and the translations that hold there."""
    handled = context_names(state, copy.context, copy.function, handle_names(known))
    return handled, [t for t in known if t.holds(handled, copy.function, copy.args.base.name)]


def arrow(copy: RegCopy) -> str:
    half = {"low": " (low 32 bits)", "high": " (high 32 bits)"}.get(copy.part, "")
    field_text = f"{copy.struct}.{copy.args.field}"
    if copy.direction == "to_vcpu":
        return f"{field_text}{half} -> {copy.vcpu.shown()}"
    return f"{copy.vcpu.shown()}{half} -> {field_text}"


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    known = translations(settings)
    for path, copy in resolved(state).reg_copies:
        field_reg, vcpu_reg = canonical(copy.args.field), canonical(copy.vcpu.reg)
        if field_reg is None or vcpu_reg is None or field_reg == vcpu_reg:
            continue
        handled, here = holding(state, copy, known)
        if any(t.pairs_them(field_reg, vcpu_reg, copy.part) for t in here):
            continue
        elsewhere = [t for t in known if t.pairs_them(field_reg, vcpu_reg, copy.part) and t not in here]
        where = copy.function or "file scope"
        fits = [t for t in here if t.handles]
        if fits:
            partner = fits[0].partner(field_reg)
            why = f"{where} handles {', '.join(sorted(handled))}, where '{fits[0].name}' applies, and " + (
                f"it pairs {field_reg.upper()} with {partner}" if partner else f"it does not use {field_reg.upper()}"
            )
            if elsewhere:
                why += f" ('{elsewhere[0].name}' pairs them, but does not hold here)"
        elif elsewhere:
            why = f"'{elsewhere[0].name}' pairs them, but only in {elsewhere[0].where()}, and {where} " + (
                f"handles {', '.join(sorted(handled))}" if handled else "handles none of these"
            )
        else:
            why = "no ABI translation pairs them"
        hits.append(RULE.hit(path, copy.line, f"{arrow(copy)}: different registers; {why}"))
    return hits
