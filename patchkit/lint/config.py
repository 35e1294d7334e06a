"""Lint configuration: shipped defaults, plus an optional ``lint.yaml`` beside ``series.yaml``.

``lint.yaml`` (all keys optional)::

    abi_translations:            # added to the shipped TDVMCALL -> KVM translations
    - name: my ABI
      pairs: {r10: rax}          # args-struct field register : vcpu register (either direction)
      splits: {r13: {low: rax, high: rdx}}   # 32-bit halves (mask/cast, shift by 32)
      scope: {functions: [my_*], args: [my_args]}   # or "tdvmcall"; none: everywhere
    tdvmcall_scope:              # where the shipped TDVMCALL translations hold (replaces the default)
      functions: ["*vmcall*", "tdx_emulate_*"]
      args: ["*vmcall*"]
    clear_before_return:
      macros: {MY_CALL: "ret"}   # condition over the macro's arguments
      functions: {__my_call: true}
      mode: stored-or-cleared | cleared | off   # for every variant not listed above
    args_structs: {my_args: MINE}   # struct name : KIND in OFFSET(TDX_<KIND>_<field>, ...)
    search_paths: [arch/x86/, drivers/virt/, virt/, include/linux/]   # replaces the default list
    disable: [tdx/grouping-comment-class]
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchkit.util.yamldata import load_file, package_schema

DEFAULTS: dict[str, Any] = {
    "args_structs": {"tdx_module_args": "MODULE", "tdx_module_output": "MODULE", "tdx_hypercall_args": "HYPERCALL"},
    "vcpu_regs_header": "arch/x86/include/asm/kvm_vcpu_regs.h",
    "abi_translations": [
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
    # where the shipped TDVMCALL translations hold: code that carries the TDVMCALL ABI, by the enclosing
    # function's name or the name of the args variable or member (globs); a match anywhere else is a finding
    "tdvmcall_scope": {
        "functions": ["*vmcall*", "*hypercall*", "tdx_emulate_*", "tdx_complete_*"],
        "args": ["*vmcall*", "*hypercall*"],
    },
    "clear_before_return": {
        # variants that must clear every register that came back, even one stored for the caller
        "macros": {"TDX_MODULE_CALL": "saved and ret"},
        "functions": {"__tdx_hypercall": True},
        # every other variant: each register that came back is stored for the caller or cleared
        "mode": "stored-or-cleared",
    },
    "pointer_exception": True,
    # where the base is searched for TDX files and rule 10 looks for users (plus every file a patch touches)
    "search_paths": ["arch/x86/", "drivers/virt/", "virt/"],
    "disable": [],
}


@dataclass(frozen=True)
class Translation:
    """An ABI translation: which args-struct field registers may be copied to which vcpu registers, and where."""

    name: str
    pairs: frozenset[tuple[str, str]]  # (field register, vcpu register), either direction
    splits: frozenset[tuple[str, str, str]] = frozenset()  # (field register, "low"/"high", vcpu register)
    functions: tuple[str, ...] = ()  # globs over the enclosing function; with args empty too: everywhere
    args: tuple[str, ...] = ()  # globs over the args variable or member name

    @property
    def scoped(self) -> bool:
        return bool(self.functions or self.args)

    def pairs_them(self, field_reg: str, vcpu_reg: str, part: str) -> bool:
        if part:
            return (field_reg, part, vcpu_reg) in self.splits
        return (field_reg, vcpu_reg) in self.pairs or (vcpu_reg, field_reg) in self.pairs

    def applies(self, function: str, args_name: str) -> bool:
        if not self.scoped:
            return True
        return any(fnmatch.fnmatchcase(function, g) for g in self.functions) or any(
            fnmatch.fnmatchcase(args_name, g) for g in self.args
        )


@dataclass
class LintConfig:
    args_structs: dict[str, str]
    vcpu_regs_header: str
    translations: list[Translation]
    clear_macros: dict[str, str | bool]
    clear_functions: dict[str, bool]
    clear_mode: str
    pointer_exception: bool
    search_paths: list[str] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)

    def fixed_words(self) -> list[str]:
        """Fixed strings that find the files the TDX rules read: the args structs and their offsets."""
        return [*sorted(self.args_structs), *(f"TDX_{k}_" for k in self.kinds())]

    def kinds(self) -> list[str]:
        return sorted(set(self.args_structs.values()))

    @functools.cached_property
    def file_pattern(self) -> re.Pattern[str]:
        """Text that makes a file one the TDX rules read."""
        names = "|".join(re.escape(n) for n in sorted(self.args_structs))
        return re.compile(f"{names}|TDX_({'|'.join(self.kinds())})_")

    @functools.cached_property
    def unparsed_pattern(self) -> re.Pattern[str]:
        """Tokens that make a construct tree-sitter could not parse worth reporting (parse/unparsed-construct)."""
        names = "|".join(re.escape(n) for n in sorted(self.args_structs))
        return re.compile(rf"{names}|\bTDX_({'|'.join(self.kinds())})_\w+|NR_VCPU_REGS|VCPU_REGS_")

    def translation_for(self, field_reg: str, vcpu_reg: str, part: str = "") -> list[Translation]:
        """Every translation that pairs the two (wherever it applies)."""
        return [t for t in self.translations if t.pairs_them(field_reg, vcpu_reg, part)]


def _from_data(data: dict[str, Any]) -> LintConfig:
    clear = data["clear_before_return"]
    return LintConfig(
        args_structs=dict(data["args_structs"]),
        vcpu_regs_header=str(data["vcpu_regs_header"]),
        translations=[_translation(t, data["tdvmcall_scope"]) for t in data["abi_translations"]],
        clear_macros=dict(clear.get("macros", {})),
        clear_functions={str(k): bool(v) for k, v in clear.get("functions", {}).items()},
        clear_mode=str(clear.get("mode", "cleared")),
        pointer_exception=bool(data["pointer_exception"]),
        search_paths=[str(p) for p in data["search_paths"]],
        disabled=set(data.get("disable", [])),
    )


def _translation(t: dict[str, Any], tdvmcall: dict[str, Any]) -> Translation:
    scope = t.get("scope") or {}
    if scope == "tdvmcall":
        scope = tdvmcall
    if not isinstance(scope, dict):
        raise TypeError(f"scope of {t.get('name')!r} must be a mapping or 'tdvmcall'")
    splits = {
        (str(reg).lower(), str(half).lower(), str(vcpu).lower())
        for reg, halves in (t.get("splits") or {}).items()
        for half, vcpu in halves.items()
    }
    if any(half not in ("low", "high") for _r, half, _v in splits):
        raise TypeError(f"splits of {t.get('name')!r} take 'low' and 'high'")
    return Translation(
        name=str(t["name"]),
        pairs=frozenset((str(k).lower(), str(v).lower()) for k, v in (t.get("pairs") or {}).items()),
        splits=frozenset(splits),
        functions=tuple(str(g) for g in scope.get("functions", ())),
        args=tuple(str(g) for g in scope.get("args", ())),
    )


def load_config(series_dir: Path | None) -> LintConfig:
    """Defaults merged with ``<series_dir>/lint.yaml`` when it exists (checked against ``lint-schema.json``)."""
    data = copy.deepcopy(DEFAULTS)
    path = series_dir / "lint.yaml" if series_dir is not None else None
    if path is None or not os.path.lexists(path):  # anything there (a FIFO, a dangling link) is read, and refused
        return _from_data(data)
    extra = load_file(path, package_schema("patchkit.lint", "lint-schema.json"), what="lint configuration").data or {}
    for key, value in extra.items():
        if key == "abi_translations":
            data[key].extend({"name": "project translation", **t} for t in value)
        elif key == "tdvmcall_scope":
            data[key] = {"functions": list(value.get("functions", [])), "args": list(value.get("args", []))}
        elif key == "clear_before_return":
            for sub in ("macros", "functions"):
                data[key][sub].update(value.get(sub, {}))
            data[key]["mode"] = value.get("mode", data[key]["mode"])
        elif key == "args_structs":
            data[key].update(value)
        else:
            data[key] = value
    return _from_data(data)
