"""Issue 20's C side on KVM-shaped code, fast: the fixture in tests/lint/data/kvm (a vCPU struct declared in a
header, an exit dispatcher in a .c that names only the member) lints clean on a small synthetic tree; a bug of
each C-side class planted in the patch that adds it is caught and blamed on that patch only (a later patch
carries it); the exit file is read because of the member, also when the member becomes an args struct in a
later patch than the file that uses it.

The same fixture runs on the real 6.1 tree with the bundled series in test_blame_mutants.py (slow).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.lint.engine import lint_series
from patchkit.lint.model import LintReport
from patchkit.lint.output import to_text
from tests.lint.synthetic import VCPU_REGS_H, build

DATA = Path(__file__).parent / "data" / "kvm"
TDX_H = "arch/x86/kvm/vmx/tdx.h"
TDX_C = "arch/x86/kvm/vmx/tdx.c"
FIXTURE_H = (DATA / "tdx.h").read_text()
FIXTURE_C = (DATA / "tdx.c").read_text()

# The host side the fixture builds on, in our words: the args struct in upstream's order, the variants' C
# prototypes (no assembly: the variants are read from their names), KVM's vCPU structs and one accessor.
BASE = {
    "Makefile": "VERSION = 6\nPATCHLEVEL = 16\n",
    "arch/x86/include/asm/kvm_vcpu_regs.h": VCPU_REGS_H,
    "arch/x86/include/asm/shared/tdx.h": """/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_X86_SHARED_TDX_H
#define _ASM_X86_SHARED_TDX_H

struct tdx_module_args {
	/* callee-clobbered */
	u64 rcx;
	u64 rdx;
	u64 r8;
	u64 r9;
	/* extra callee-clobbered */
	u64 r10;
	u64 r11;
	/* callee-saved + rdi/rsi */
	u64 r12;
	u64 r13;
	u64 r14;
	u64 r15;
	u64 rbx;
	u64 rdi;
	u64 rsi;
};

u64 __seamcall(u64 fn, struct tdx_module_args *args);
u64 __seamcall_ret(u64 fn, struct tdx_module_args *args);
u64 __seamcall_saved_ret(u64 fn, struct tdx_module_args *args);

#endif
""",
    "arch/x86/include/asm/kvm_host.h": """/* SPDX-License-Identifier: GPL-2.0 */
struct kvm_vcpu_arch {
	/* read and written through the accessors */
	unsigned long regs[NR_VCPU_REGS];
	u32 regs_avail;
};
""",
    "include/linux/kvm_host.h": """/* SPDX-License-Identifier: GPL-2.0 */
struct kvm_vcpu {
	int cpu;
	struct kvm_run *run;
	struct kvm_vcpu_arch arch;
};
""",
    "arch/x86/kvm/kvm_cache_regs.h": """/* SPDX-License-Identifier: GPL-2.0 */
/* EDX:EAX as one 64-bit value (RDMSR's result) */
static inline u64 kvm_read_edx_eax(struct kvm_vcpu *vcpu)
{
	return (u32)kvm_rax_read(vcpu) | (u64)(u32)kvm_rdx_read(vcpu) << 32;
}
""",
}

CPUID_CASE = "\tcase EXIT_REASON_CPUID:\n\t\treturn tdx_emulate_cpuid(vcpu);\n"
_CPUID_START = FIXTURE_C.index("/* CPUID: leaf and subleaf")
_CPUID_END = FIXTURE_C.index("/* After KVM emulated RDMSR")
# patch 1 adds the fixture without CPUID; patch 2 adds CPUID (and carries whatever patch 1 planted)
PATCH1_C = (FIXTURE_C[:_CPUID_START] + FIXTURE_C[_CPUID_END:]).replace(CPUID_CASE, "")


def _lint(tmp_path: Path, patches: list[dict[str, str]], base: dict[str, str] | None = None) -> LintReport:
    built = build(tmp_path, patches, base if base is not None else BASE)
    return lint_series(built.tree, built.series, built.record, checkpatch=False)


def test_the_fixture_reaches_the_args_struct_only_through_the_member() -> None:
    assert "tdx_module_args" not in FIXTURE_C and "TDX_MODULE_" not in FIXTURE_C  # reached only by the member
    assert CPUID_CASE in FIXTURE_C and "tdx_emulate_cpuid" not in PATCH1_C


def test_the_kvm_fixture_lints_clean(tmp_path: Path) -> None:
    report = _lint(tmp_path, [{TDX_H: FIXTURE_H, TDX_C: PATCH1_C}, {TDX_C: FIXTURE_C}])
    assert report.findings == [], to_text(report, {})
    assert report.timings["parsed_files"] >= 8  # both fixture files in both states, and the headers


# (class of issue 20, the file and text planted in patch 1 and carried by patch 2, rule, expected message part)
MUTANTS = [
    (1, TDX_C, "\t\tkvm_rcx_write(vcpu, tdx->vp_enter_args.r12);\n\t\treturn kvm_emulate_rdmsr",
     "\t\tkvm_rcx_write(vcpu, tdx->vp_enter_args.r13);\n\t\treturn kvm_emulate_rdmsr",
     "tdx/vcpu-regs-copy", "tdx_module_args.r13 -> vcpu RCX: different registers; tdx_handle_exit handles "
     "EXIT_REASON_MSR_READ, kvm_emulate_rdmsr, where 'TDVMCALL MSR access"),
    (2, TDX_C, "kvm_rax_write(vcpu, tdx->vp_enter_args.r13 & -1u)", "kvm_rax_write(vcpu, tdx->vp_enter_args.r10)",
     "tdx/vcpu-regs-copy", "it does not use R10 ('TDVMCALL hypercall arguments"),
    (5, TDX_H, "return __seamcall_saved_ret(TDH_VP_ENTER, args);", "return __seamcall(TDH_VP_ENTER, args);",
     "tdx/call-variant-registers", "tdx_vcpu_enter_exit reads vp_enter_args.rcx after tdh_vp_enter(), which does "
     "not return it: tdh_vp_enter() -> __seamcall (by its name) returns none"),
    (5, TDX_H, "return __seamcall_saved_ret(TDH_VP_ENTER, args);", "return __seamcall_ret(TDH_VP_ENTER, args);",
     "tdx/call-variant-registers", "tdx_handle_exit reads vp_enter_args.r12, which tdh_vp_enter() fills: "
     "tdh_vp_enter() -> __seamcall_ret (by its name) returns r10, r11, r8, r9, rcx, rdx"),
    (9, TDX_H, "#define TDH_VP_ENTER\t\t\t0", "#define TDH_VP_ENTER\t\t\t2",
     "tdx/spec-constants", "TDH_VP_ENTER is 2, but TDH.VP.ENTER is 0"),
    (10, TDX_C, "tdh_vp_enter(tdx->tdvpr_pa, &tdx->vp_enter_args)",
     "tdh_vp_enter(tdx->tdvpr_pa, (struct tdx_module_args *)&vcpu->arch)",
     "tdx/vcpu-regs-layout", "cast between the vcpu register array (arch, a struct kvm_vcpu_arch whose first field "
     "is the register array) and struct tdx_module_args: field rcx is at offset 0 but 8 * __VCPU_REGS_RCX is 8"),
    (10, TDX_C, "tdh_vp_enter(tdx->tdvpr_pa, &tdx->vp_enter_args)",
     "tdh_vp_enter(tdx->tdvpr_pa, (void *)vcpu->arch.regs)",
     "tdx/vcpu-regs-layout", "argument 2 of tdh_vp_enter() between the vcpu register array (regs)"),
    (11, TDX_C, "\tkvm_rdx_write(vcpu, to_tdx(vcpu)->vp_enter_args.r13);\n", "",
     "tdx/vcpu-regs-copy-complete", "leaves out R13 -> vcpu RDX"),
    (11, TDX_C, "\t\tkvm_rdx_write(vcpu, tdx->vp_enter_args.r13 >> 32);\n", "",
     "tdx/vcpu-regs-copy-complete", "copies the low 32 bits of tdx_module_args.r13 (R13 -> vcpu RAX) but not the "
     "high 32 bits (R13 -> vcpu RDX)"),
    (11, TDX_C, "\tto_tdx(vcpu)->vp_enter_args.r11 = val;", "\tto_tdx(vcpu)->vp_enter_args.r12 = val;",
     "tdx/vcpu-regs-copy", "vcpu RAX (low 32 bits) -> tdx_module_args.r12: different registers; tdx_complete_msr "
     "handles EXIT_REASON_MSR_READ"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("issue_class", "path", "old", "new", "rule", "expect"), MUTANTS, ids=[f"class{m[0]}-{m[4]}" for m in MUTANTS]
)
def test_a_planted_c_side_bug_is_blamed_on_the_patch_that_wrote_it(
    tmp_path: Path, issue_class: int, path: str, old: str, new: str, rule: str, expect: str
) -> None:
    first = {TDX_H: FIXTURE_H, TDX_C: PATCH1_C}
    assert old in first[path], old
    first[path] = first[path].replace(old, new, 1)
    second = {TDX_C: FIXTURE_C.replace(old, new, 1)} if path == TDX_C else {TDX_C: FIXTURE_C}
    report = _lint(tmp_path, [first, second])
    shown = to_text(report, {})
    assert any(f.rule == rule and expect in f.message for f in report.failing), shown
    assert {f.patch for f in report.failing} == {1}, shown


BUGGY_EXIT = """// SPDX-License-Identifier: GPL-2.0
#include "tdx.h"

int tdx_exit(struct kvm_vcpu *vcpu, struct vcpu_tdx *tdx, u32 reason)
{
	switch (reason) {
	case EXIT_REASON_MSR_READ:
		kvm_rbx_write(vcpu, tdx->vp_enter_args.r12);
		return kvm_emulate_rdmsr(vcpu);
	}
	return 0;
}
"""
OWN_REGS_H = """/* SPDX-License-Identifier: GPL-2.0 */
struct tdx_own_regs { u64 r12; };
struct vcpu_tdx { struct tdx_own_regs vp_enter_args; };
"""


def test_a_file_using_the_member_is_read_from_the_patch_that_makes_the_member_an_args_struct(tmp_path: Path) -> None:
    """The base has the exit file, untouched by the series, and a member of a struct of its own; patch 1 makes the
    member a struct tdx_module_args: from then on the base's file is read (searched for the member) and its
    copy is checked, and blamed on patch 1."""
    base = {**BASE, TDX_H: OWN_REGS_H, TDX_C: BUGGY_EXIT}
    args_h = OWN_REGS_H.replace("struct tdx_own_regs vp_enter_args", "struct tdx_module_args vp_enter_args")
    report = _lint(tmp_path, [{TDX_H: args_h}], base)
    hits = [f for f in report.findings if f.rule == "tdx/vcpu-regs-copy"]
    assert [(f.path, f.patch, f.status) for f in hits] == [(TDX_C, 1, "new")], to_text(report, {})


def test_a_file_using_the_member_is_read_in_the_base(tmp_path: Path) -> None:
    base = {**BASE, TDX_H: OWN_REGS_H.replace("tdx_own_regs vp", "tdx_module_args vp"), TDX_C: BUGGY_EXIT}
    report = _lint(tmp_path, [{"arch/x86/kvm/vmx/other.c": "int x;\n"}], base)
    hits = [f for f in report.findings if f.rule == "tdx/vcpu-regs-copy"]
    assert [(f.path, f.status) for f in hits] == [(TDX_C, "pre-existing")], to_text(report, {})
