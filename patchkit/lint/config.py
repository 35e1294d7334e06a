"""Lint configuration: shipped defaults, plus an optional ``lint.yaml`` beside ``series.yaml``.

``lint.yaml`` (all keys optional)::

    abi_translations:            # added to the shipped TDVMCALL -> KVM hypercall translation
    - name: my ABI
      pairs: {r10: rax}          # args-struct field register : vcpu register (either direction)
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from patchkit.errors import DataError

DEFAULTS: dict[str, Any] = {
    "args_structs": {"tdx_module_args": "MODULE", "tdx_module_output": "MODULE", "tdx_hypercall_args": "HYPERCALL"},
    "vcpu_regs_header": "arch/x86/include/asm/kvm_vcpu_regs.h",
    "abi_translations": [
        {
            "name": "TDVMCALL arguments (R10-R14) to KVM's hypercall ABI (RAX, RBX, RCX, RDX, RSI)",
            "pairs": {"r10": "rax", "r11": "rbx", "r12": "rcx", "r13": "rdx", "r14": "rsi"},
        }
    ],
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

_KEYS = set(DEFAULTS)


@dataclass
class LintConfig:
    args_structs: dict[str, str]
    vcpu_regs_header: str
    translations: list[tuple[str, frozenset[tuple[str, str]]]]
    clear_macros: dict[str, str | bool]
    clear_functions: dict[str, bool]
    clear_mode: str
    pointer_exception: bool
    search_paths: list[str] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)

    def translation_for(self, a: str, b: str) -> str | None:
        for name, pairs in self.translations:
            if (a, b) in pairs or (b, a) in pairs:
                return name
        return None


def _from_data(data: dict[str, Any]) -> LintConfig:
    clear = data["clear_before_return"]
    return LintConfig(
        args_structs=dict(data["args_structs"]),
        vcpu_regs_header=str(data["vcpu_regs_header"]),
        translations=[
            (str(t["name"]), frozenset((str(k).lower(), str(v).lower()) for k, v in t["pairs"].items()))
            for t in data["abi_translations"]
        ],
        clear_macros=dict(clear.get("macros", {})),
        clear_functions={str(k): bool(v) for k, v in clear.get("functions", {}).items()},
        clear_mode=str(clear.get("mode", "cleared")),
        pointer_exception=bool(data["pointer_exception"]),
        search_paths=[str(p) for p in data["search_paths"]],
        disabled=set(data.get("disable", [])),
    )


def default_config() -> LintConfig:
    return _from_data(copy.deepcopy(DEFAULTS))


def load_config(series_dir: Path | None) -> LintConfig:
    """Defaults merged with ``<series_dir>/lint.yaml`` when it exists."""
    data = copy.deepcopy(DEFAULTS)
    if series_dir is None:
        return _from_data(data)
    path = series_dir / "lint.yaml"
    if not path.is_file():
        return _from_data(data)
    try:
        extra = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: not readable YAML: {exc}") from exc
    if not isinstance(extra, dict) or set(extra) - _KEYS:
        unknown = sorted(set(extra) - _KEYS) if isinstance(extra, dict) else ["(not a mapping)"]
        raise DataError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    try:
        for key, value in extra.items():
            if key == "abi_translations":
                for t in value:
                    if not isinstance(t.get("pairs"), dict):
                        raise DataError(f"{path}: abi_translations entries need 'name' and a 'pairs' mapping")
                    data[key].append({"name": t.get("name", "project translation"), "pairs": t["pairs"]})
            elif key == "clear_before_return":
                for sub in ("macros", "functions"):
                    data[key][sub].update(value.get(sub, {}))
                if "mode" in value:
                    if value["mode"] not in ("cleared", "stored-or-cleared", "off"):
                        raise DataError(
                            f"{path}: clear_before_return.mode must be cleared, stored-or-cleared or off"
                        )
                    data[key]["mode"] = value["mode"]
            elif key == "args_structs":
                data[key].update(value)
            else:
                data[key] = value
        return _from_data(data)
    except (AttributeError, TypeError, KeyError) as exc:
        raise DataError(f"{path}: malformed lint configuration ({exc})") from exc
