"""x86-64 register names: sub-registers to their 64-bit name, SysV classes."""

from __future__ import annotations

_LEGACY = {
    "rax": ("eax", "ax", "al", "ah"),
    "rbx": ("ebx", "bx", "bl", "bh"),
    "rcx": ("ecx", "cx", "cl", "ch"),
    "rdx": ("edx", "dx", "dl", "dh"),
    "rsi": ("esi", "si", "sil"),
    "rdi": ("edi", "di", "dil"),
    "rbp": ("ebp", "bp", "bpl"),
    "rsp": ("esp", "sp", "spl"),
}

CANONICAL: dict[str, str] = {}
for _full, _subs in _LEGACY.items():
    CANONICAL[_full] = _full
    for _sub in _subs:
        CANONICAL[_sub] = _full
for _n in range(8, 16):
    for _suffix in ("", "d", "w", "b"):
        CANONICAL[f"r{_n}{_suffix}"] = f"r{_n}"

CALLEE_SAVED: tuple[str, ...] = ("rbx", "rbp", "r12", "r13", "r14", "r15")
CALLEE_SAVED_ALL = frozenset((*CALLEE_SAVED, "rsp"))
CALLER_SAVED = frozenset(("rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"))


def canonical(name: str) -> str | None:
    """``%r8d`` / ``r8d`` / ``R8`` -> ``r8``; None for anything that is not a GPR."""
    return CANONICAL.get(name.lstrip("%").lower())


def sysv_class(reg: str) -> str | None:
    """ "saved" or "clobbered" for a 64-bit GPR name, else None."""
    if reg in CALLEE_SAVED_ALL:
        return "saved"
    if reg in CALLER_SAVED:
        return "clobbered"
    return None


# The 16 GPRs in their encoding order: a register's index is its number (bit N of a register bitmap such as
# TDG.VP.VMCALL's RCX stands for GPR N).
GPRS: tuple[str, ...] = (
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
)  # fmt: skip
NUMBER = {reg: index for index, reg in enumerate(GPRS)}
