"""tdx/vcpu-regs-copy: copies between an args struct and the vCPU registers keep the register.

An assignment between an args-struct field and a vCPU register pairs the same register,
unless an ABI translation pairs them where it applies; 32-bit halves need a translation's ``splits``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from patchkit.lint.lang.x86 import canonical
from patchkit.lint.model import Hit
from patchkit.lint.options import Option, Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import TdxState

_GLOBS = {"type": "array", "items": {"type": "string"}}
_SCOPE = {"type": "object", "additionalProperties": False, "properties": {"functions": _GLOBS, "args": _GLOBS}}


@dataclass(frozen=True)
class Scope:
    """Where a translation holds: in a function whose name matches, or on an args variable or member whose name
    matches (globs); both empty: everywhere."""

    functions: tuple[str, ...] = ()
    args: tuple[str, ...] = ()


def _scope(value: Any) -> Scope:
    return Scope(tuple(str(g) for g in value.get("functions", ())), tuple(str(g) for g in value.get("args", ())))


def _translations(value: Any) -> tuple[dict[str, Any], ...]:
    return tuple({"name": "project translation", **t} for t in value)


ABI_TRANSLATIONS: Option[tuple[dict[str, Any], ...]] = Option(
    "abi_translations",
    "ABI translations: which args-struct field registers may be copied to which vCPU registers (pairs, either "
    "direction; splits: 32-bit halves, low and high) and where (scope: functions and args globs, or 'tdvmcall' "
    "for tdvmcall_scope, or none: everywhere); shipped: the TDVMCALL ones",
    "list of {name, pairs, splits, scope}",
    [
        {
            "name": "TDVMCALL arguments (R10-R14) to KVM's hypercall ABI (RAX, RBX, RCX, RDX, RSI)",
            "pairs": {"r10": "rax", "r11": "rbx", "r12": "rcx", "r13": "rdx", "r14": "rsi"},
            "scope": "tdvmcall",
        },
        {
            "name": "TDVMCALL MSR access to KVM's RDMSR/WRMSR ABI (R12 -> ECX, R13 -> EDX:EAX, EDX:EAX -> R11)",
            "pairs": {"r12": "rcx"},
            "splits": {"r13": {"low": "rax", "high": "rdx"}, "r11": {"low": "rax", "high": "rdx"}},
            "scope": "tdvmcall",
        },
    ],
    {
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "anyOf": [{"required": ["pairs"]}, {"required": ["splits"]}],
            "properties": {
                "name": {"type": "string"},
                "pairs": {"type": "object", "additionalProperties": {"type": "string"}},
                "splits": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "minProperties": 1,
                        "properties": {"low": {"type": "string"}, "high": {"type": "string"}},
                    },
                },
                "scope": {"oneOf": [{"const": "tdvmcall"}, _SCOPE]},
            },
        },
    },
    _translations,
    merge="add",
)
TDVMCALL_SCOPE: Option[Scope] = Option(
    "tdvmcall_scope",
    "where the translations scoped 'tdvmcall' hold: code that carries the TDVMCALL ABI, by the enclosing "
    "function's name or the name of the args variable or member (globs)",
    "{functions: globs, args: globs}",
    {"functions": ["*vmcall*", "*hypercall*", "tdx_emulate_*", "tdx_complete_*"], "args": ["*vmcall*", "*hypercall*"]},
    _SCOPE,
    _scope,
)
RULE: StateRule[TdxState] = StateRule("tdx/vcpu-regs-copy", options=(ABI_TRANSLATIONS, TDVMCALL_SCOPE))


@dataclass(frozen=True)
class Translation:
    """An ABI translation: which args-struct field registers may be copied to which vcpu registers, and where."""

    name: str
    pairs: frozenset[tuple[str, str]]  # (field register, vcpu register), either direction
    splits: frozenset[tuple[str, str, str]] = frozenset()  # (field register, "low"/"high", vcpu register)
    scope: Scope = Scope()

    def pairs_them(self, field_reg: str, vcpu_reg: str, part: str) -> bool:
        if part:
            return (field_reg, part, vcpu_reg) in self.splits
        return (field_reg, vcpu_reg) in self.pairs or (vcpu_reg, field_reg) in self.pairs

    def applies(self, function: str, args_name: str) -> bool:
        if not (self.scope.functions or self.scope.args):
            return True
        return any(fnmatch.fnmatchcase(function, g) for g in self.scope.functions) or any(
            fnmatch.fnmatchcase(args_name, g) for g in self.scope.args
        )


def translations(settings: Settings) -> list[Translation]:
    """The translations of this run, each with its scope resolved."""

    def make() -> list[Translation]:
        tdvmcall = settings[TDVMCALL_SCOPE]
        out = []
        for t in settings[ABI_TRANSLATIONS]:
            scope = t.get("scope")
            splits = {
                (str(reg).lower(), str(half).lower(), str(vcpu).lower())
                for reg, halves in (t.get("splits") or {}).items()
                for half, vcpu in halves.items()
            }
            out.append(
                Translation(
                    name=str(t["name"]),
                    pairs=frozenset((str(k).lower(), str(v).lower()) for k, v in (t.get("pairs") or {}).items()),
                    splits=frozenset(splits),
                    scope=tdvmcall if scope == "tdvmcall" else _scope(scope or {}),
                )
            )
        return out

    return settings.derived("tdx/vcpu-regs-copy translations", make)


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    known = translations(settings)
    for path, facts in sorted(state.c.items()):
        for copy in facts.copies:
            struct = state.resolve(copy.args.base)
            if struct not in state.args_structs:
                continue
            field_reg = canonical(copy.args.field)
            vcpu_reg = canonical(copy.vcpu.reg)
            if field_reg is None or vcpu_reg is None or field_reg == vcpu_reg:
                continue
            candidates = [t for t in known if t.pairs_them(field_reg, vcpu_reg, copy.part)]
            if any(t.applies(copy.function, copy.args.base.name) for t in candidates):
                continue
            half = {"low": " (low 32 bits)", "high": " (high 32 bits)"}.get(copy.part, "")
            field_text = f"{struct}.{copy.args.field}"
            arrow = (
                f"{field_text}{half} -> vcpu {vcpu_reg.upper()}"
                if copy.direction == "to_vcpu"
                else f"vcpu {vcpu_reg.upper()}{half} -> {field_text}"
            )
            if candidates:
                where = copy.function or "file scope"
                scope = candidates[0].scope
                why = (
                    f"'{candidates[0].name}' pairs them, but only in code that carries that ABI (functions "
                    f"{', '.join(scope.functions) or '-'}; args {', '.join(scope.args) or '-'}; "
                    f"scope in lint.yaml), and {where} with {copy.args.base.name or 'these args'} is not such code"
                )
            else:
                why = "no configured ABI translation pairs them"
            hits.append(RULE.hit(path, copy.vcpu.line, f"{arrow}: different registers; {why}"))
    return hits
