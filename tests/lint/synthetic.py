"""A small synthetic kernel with the TDX files, and a clean 3-patch series on it, for lint tests.

Patch 1 renames __tdx_module_call() to __tdcall(); patch 2 replaces struct tdx_module_output with
struct tdx_module_args and adds the saved/ret variant; patch 3 adds KVM code that copies between
the args struct and the vcpu registers (with the TDVMCALL -> KVM hypercall translation).
Mutation tests break one patch and check the finding is blamed on it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from patchkit.apply.record import AppliedPatch, AppliedSeries
from patchkit.series.model import Base, Patch, Person, Series
from patchkit.tree.repo import KernelTree
from tests.helpers import GitTree

VCPU_REGS_H = """#ifndef _ASM_X86_KVM_VCPU_REGS_H
#define _ASM_X86_KVM_VCPU_REGS_H
#define __VCPU_REGS_RAX  0
#define __VCPU_REGS_RCX  1
#define __VCPU_REGS_RDX  2
#define __VCPU_REGS_RBX  3
#define __VCPU_REGS_RSP  4
#define __VCPU_REGS_RBP  5
#define __VCPU_REGS_RSI  6
#define __VCPU_REGS_RDI  7
#define __VCPU_REGS_R8   8
#define __VCPU_REGS_R9   9
#define __VCPU_REGS_R10 10
#define __VCPU_REGS_R11 11
#define __VCPU_REGS_R12 12
#define __VCPU_REGS_R13 13
#define __VCPU_REGS_R14 14
#define __VCPU_REGS_R15 15
#endif
"""

BASE = {
    "Makefile": "VERSION = 6\nPATCHLEVEL = 1\n",
    "arch/x86/include/asm/kvm_vcpu_regs.h": VCPU_REGS_H,
    "arch/x86/include/asm/tdx.h": """#ifndef _ASM_X86_TDX_H
#define _ASM_X86_TDX_H

struct tdx_module_output {
	u64 rcx;
	u64 rdx;
};

u64 __tdx_module_call(u64 fn, u64 rcx, struct tdx_module_output *out);

#endif
""",
    "arch/x86/kernel/asm-offsets.c": """// SPDX-License-Identifier: GPL-2.0
static void __used common(void)
{
	BLANK();
	OFFSET(TDX_MODULE_rcx, tdx_module_output, rcx);
	OFFSET(TDX_MODULE_rdx, tdx_module_output, rdx);
}
""",
    "arch/x86/virt/vmx/tdx/tdxcall.S": """/* SPDX-License-Identifier: GPL-2.0 */
#include <asm/asm-offsets.h>

.macro TDX_MODULE_CALL host:req
	push %r12
	push %rdx
	mov %rdi, %rax
	mov %rsi, %rcx
	xor %edx, %edx
	tdcall
	pop %r12
	test %r12, %r12
	jz .Lno_output_struct
	movq %rcx, TDX_MODULE_rcx(%r12)
	movq %rdx, TDX_MODULE_rdx(%r12)
	jmp .Lout
.Lno_output_struct:
	xor %ecx, %ecx
	xor %edx, %edx
.Lout:
	pop %r12
.endm
""",
    "arch/x86/coco/tdx/tdcall.S": """/* SPDX-License-Identifier: GPL-2.0 */
#include "../../virt/vmx/tdx/tdxcall.S"

SYM_FUNC_START(__tdx_module_call)
	FRAME_BEGIN
	TDX_MODULE_CALL host=0
	FRAME_END
	RET
SYM_FUNC_END(__tdx_module_call)
""",
    "arch/x86/coco/tdx/tdx.c": """// SPDX-License-Identifier: GPL-2.0
#include <asm/tdx.h>

static u64 get_info(void)
{
	struct tdx_module_output out;

	__tdx_module_call(1, 0, &out);
	return out.rcx + out.rdx;
}
""",
    "arch/x86/boot/compressed/tdx.c": """// SPDX-License-Identifier: GPL-2.0
#include "../../include/asm/tdx.h"

void early_tdx(void)
{
	struct tdx_module_output out = { .rcx = 0, .rdx = 0 };

	__tdx_module_call(3, 0, &out);
}
""",
}

PATCH1 = {
    "arch/x86/include/asm/tdx.h": BASE["arch/x86/include/asm/tdx.h"].replace("__tdx_module_call", "__tdcall"),
    "arch/x86/coco/tdx/tdcall.S": BASE["arch/x86/coco/tdx/tdcall.S"].replace("__tdx_module_call", "__tdcall"),
    "arch/x86/coco/tdx/tdx.c": BASE["arch/x86/coco/tdx/tdx.c"].replace("__tdx_module_call", "__tdcall"),
    "arch/x86/boot/compressed/tdx.c": BASE["arch/x86/boot/compressed/tdx.c"].replace("__tdx_module_call", "__tdcall"),
}

PATCH2 = {
    "arch/x86/include/asm/tdx.h": """#ifndef _ASM_X86_TDX_H
#define _ASM_X86_TDX_H

struct tdx_module_args {
	/* callee-clobbered */
	u64 rcx;
	u64 rdx;
	/* callee-saved */
	u64 r12;
	u64 rbx;
};

u64 __tdcall(u64 fn, struct tdx_module_args *args);
u64 __tdcall_saved_ret(u64 fn, struct tdx_module_args *args);

#endif
""",
    "arch/x86/kernel/asm-offsets.c": """// SPDX-License-Identifier: GPL-2.0
static void __used common(void)
{
	BLANK();
	OFFSET(TDX_MODULE_rcx, tdx_module_args, rcx);
	OFFSET(TDX_MODULE_rdx, tdx_module_args, rdx);
	OFFSET(TDX_MODULE_r12, tdx_module_args, r12);
	OFFSET(TDX_MODULE_rbx, tdx_module_args, rbx);
}
""",
    "arch/x86/virt/vmx/tdx/tdxcall.S": """/* SPDX-License-Identifier: GPL-2.0 */
#include <asm/asm-offsets.h>

.macro TDX_MODULE_CALL host:req ret=0 saved=0
	FRAME_BEGIN
	mov %rdi, %rax
	movq TDX_MODULE_rcx(%rsi), %rcx
	movq TDX_MODULE_rdx(%rsi), %rdx
.if \\saved
	pushq %rbx
	pushq %r12
	movq TDX_MODULE_r12(%rsi), %r12
	movq TDX_MODULE_rbx(%rsi), %rbx
.endif
	tdcall
.if \\ret
	movq %rcx, TDX_MODULE_rcx(%rsi)
	movq %rdx, TDX_MODULE_rdx(%rsi)
.if \\saved
	movq %r12, TDX_MODULE_r12(%rsi)
	movq %rbx, TDX_MODULE_rbx(%rsi)
.endif
.endif
.if \\saved && \\ret
	xorl %ecx, %ecx
	xorl %edx, %edx
.endif
.if \\saved
	popq %r12
	popq %rbx
.endif
	FRAME_END
	RET
.endm
""",
    "arch/x86/coco/tdx/tdcall.S": """/* SPDX-License-Identifier: GPL-2.0 */
#include "../../virt/vmx/tdx/tdxcall.S"

SYM_FUNC_START(__tdcall)
	TDX_MODULE_CALL host=0
SYM_FUNC_END(__tdcall)

SYM_FUNC_START(__tdcall_saved_ret)
	TDX_MODULE_CALL host=0 ret=1 saved=1
SYM_FUNC_END(__tdcall_saved_ret)
""",
    "arch/x86/coco/tdx/tdx.c": """// SPDX-License-Identifier: GPL-2.0
#include <asm/tdx.h>

static u64 get_info(void)
{
	struct tdx_module_args args = {};

	__tdcall_saved_ret(1, &args);
	return args.rcx + args.rdx + args.r12;
}
""",
    "arch/x86/boot/compressed/tdx.c": """// SPDX-License-Identifier: GPL-2.0
#include "../../include/asm/tdx.h"

void early_tdx(void)
{
	struct tdx_module_args args = { .rcx = 0, .rdx = 0 };

	__tdcall(3, &args);
}
""",
}

PATCH3 = {
    "arch/x86/kvm/vmx/tdx.c": """// SPDX-License-Identifier: GPL-2.0
#include <asm/tdx.h>

struct vcpu_tdx {
	struct tdx_module_args vp_enter_args;
};

static int tdx_to_kvm_hypercall(struct kvm_vcpu *vcpu, struct vcpu_tdx *tdx)
{
	kvm_rcx_write(vcpu, tdx->vp_enter_args.r12);
	kvm_rdx_write(vcpu, tdx->vp_enter_args.rdx);
	tdx->vp_enter_args.rcx = vcpu->arch.regs[VCPU_REGS_RCX];
	return __kvm_emulate_hypercall(vcpu, 0, NULL);
}
""",
}

SUBJECTS = (
    "x86/tdx: Rename __tdx_module_call() to __tdcall()",
    "x86/tdx: Pass TDCALL arguments in struct tdx_module_args",
    "KVM: TDX: Copy hypercall arguments to the vcpu registers",
)
AUTHOR = Person("Ann Dev", "ann@example.org")


@dataclass
class Built:
    tree: KernelTree
    series: Series
    record: AppliedSeries
    git: GitTree


def build(
    root: Path, patches: list[dict[str, str]] | None = None, base: dict[str, str] | None = None, *,
    series_dir: Path | None = None, trailers: tuple[str, ...] | None = None,
) -> Built:  # fmt: skip
    """The base and one commit per patch (full file contents), with the Series and record lint takes."""
    patches = patches if patches is not None else [PATCH1, PATCH2, PATCH3]
    git = GitTree.create_small(root / "linux", base if base is not None else BASE)
    base_commit = git.head()
    applied: list[AppliedPatch] = []
    model: list[Patch] = []
    for number, files in enumerate(patches, start=1):
        subject = SUBJECTS[number - 1] if number <= len(SUBJECTS) else f"x86/tdx: Change {number}"
        body = "Explain why the change is needed, wrapped well within the limit."
        sob = trailers if trailers is not None else (f"Signed-off-by: {AUTHOR.ident()}",)
        message = f"{subject}\n\n{body}\n\n" + "\n".join(sob) + "\n"
        for name, text in files.items():
            target = git.path / name
            if text is None:
                target.unlink()
        commit = git.commit(message, {k: v for k, v in files.items() if v is not None})
        applied.append(AppliedPatch(number, subject, commit))
        model.append(Patch(number, subject, AUTHOR, "2026-01-03T10:00:00+01:00", body, sob, f"{number:04}.diff"))
    directory = series_dir or (root / "series" / "demo")
    directory.mkdir(parents=True, exist_ok=True)
    series = Series(
        directory=directory, name="demo", revision=1, subject_prefix="PATCH",
        base=Base("linux-source-6.1", "6.1.0", git.tree_hash(base_commit)), patches=tuple(model),
    )  # fmt: skip
    record = AppliedSeries("demo", 1, "patchkit/demo/v1", base_commit, tuple(applied))
    return Built(KernelTree(git.path), series, record, git)


def commit_all(git: GitTree) -> None:
    subprocess.run(["git", "-C", str(git.path), "add", "-A"], check=True)
