"""Issues 12 and 20's mutation test: a bug of each class the issues list is planted in a copy of
series/tdx, in the patch that would have written it and carried through every later patch (the later diffs
are regenerated so they still apply), the copy is applied with ``patchkit apply`` to the real 6.1 tree and
linted, and exactly that patch, and only that patch, is blamed (a class-14 mutant also expects the finding
of the patch that breaks the build, and says so).

KVM-style code (class 6 of issue 12, and issue 20's C-side classes) is not in the series: it comes as an
extra patch (tests/lint/data/kvm, in upstream KVM's shape), inserted before the last mailed patch so that
a later patch carries it too. Issue 20's mutants follow issue 12's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from patchkit.apply.record import require_record
from patchkit.apply.states import mailed_states
from patchkit.lint.engine import lint_series
from patchkit.lint.model import LintReport
from patchkit.lint.output import to_text
from patchkit.series.load import load_series
from patchkit.tree.repo import KernelTree
from tests.conftest import REPO_ROOT
from tests.helpers import SharedRealTree, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.kernel]

SERIES_DIR = REPO_ROOT / "series" / "tdx"
TDXCALL = "arch/x86/virt/vmx/tdx/tdxcall.S"
SHARED_TDX_H = "arch/x86/include/asm/shared/tdx.h"
KVM_H = "arch/x86/kvm/vmx/tdx.h"
KVM_FILE = "arch/x86/kvm/vmx/tdx.c"
TDCALL_S = "arch/x86/coco/tdx/tdcall.S"
SEAMCALL_S = "arch/x86/virt/vmx/tdx/seamcall.S"
KVM_AT = 10  # the extra KVM patch becomes patch 10; the series' patch 10 follows it as patch 11

# Written for these tests, in the shape of upstream KVM's TDX code (tests/lint/data/kvm): a vCPU struct in a
# header holds the struct tdx_module_args member; the .c reaches the args struct only through that member and
# dispatches exits with case labels, translating registers for KVM's hypercall, MSR and CPUID emulation.
KVM_DATA = Path(__file__).parent / "data" / "kvm"
KVM_FILES = {KVM_H: (KVM_DATA / "tdx.h").read_text(), KVM_FILE: (KVM_DATA / "tdx.c").read_text()}
KVM_PATCH: dict[str, Any] = {
    "subject": "KVM: TDX: Handle TD exits",
    "body": "Enter the TD with TDH.VP.ENTER and hand what a TDVMCALL asks for to KVM's\n"
    "emulation, translating the TDVMCALL registers to the ABI of each handler.",
}


@dataclass(frozen=True)
class Mutant:
    """A bug of one class of issue 12 (or of issue 20: ``issue``): ``pattern`` (a regex) becomes
    ``replacement`` in ``path`` from the state of patch ``patch`` on, in every later state that still has it
    (at least the planted one). ``also``: (rule, patch, message part) of findings a later patch must get too
    (the one that breaks the build on the planted line)."""

    name: str
    issue_class: int
    patch: int
    path: str
    edits: tuple[tuple[str, str], ...]  # (pattern, replacement): every state takes the ones that match
    rule: str
    expect: str
    issue: int = 12
    also: tuple[tuple[str, int, str], ...] = ()


ISSUE_12 = (
    Mutant(
        "host=1 branch drops a pop, before any SEAMCALL function exists", 1, 2, TDXCALL,
        ((r"\tpop %r12\n(\tjmp \.Lout_done\n)", r"\1"),
         (r"\t\.if \\ret\n\tpopq\t%rsi\n\t\.endif\n(\tjmp\t\.Lout\\@\n)", r"\1")),
        "tdx/callee-saved-preserved", "(no caller yet): returns with 1 pushed value(s) still on the stack",
    ),
    Mutant(
        "saved variant drops a pop; patches 7 and 9 add users", 2, 6, TDXCALL,
        ((r"(\tpopq\t%r12\n)\tpopq\t%rbx\n", r"\1"),),
        "tdx/callee-saved-preserved", "pushed value(s) still on the stack",
    ),
    Mutant(
        "no-output path forgets one register", 3, 1, TDXCALL,
        ((r"\n\txor\s+%r9d,\s*%r9d\n", "\n"),),
        "tdx/clear-before-return", "%r9 still holds what the TDX module/VMM returned",
    ),
    Mutant(
        "copy-out forgets one register", 3, 5, TDXCALL,
        ((r"\n\tmovq\t%r9,\s*TDX_MODULE_r9\(%rsi\)\n", "\n"),),
        "tdx/clear-before-return", "%r9 still holds what the TDX module/VMM returned",
    ),
    Mutant(
        "the pointer's own field loaded into another register", 4, 6, TDXCALL,
        ((r"movq\tTDX_MODULE_rdi\(%rsi\), %rdi", r"movq\tTDX_MODULE_rsi(%rsi), %rdi"),),
        "tdx/mov-register-matches-offset", "TDX_MODULE_rsi is loaded into %rdi",
    ),
    Mutant(
        "a hypercall offset on the tdx_module_args pointer; patch 8 removes the offset", 5, 6, TDXCALL,
        ((r"movq\tTDX_MODULE_r13\(%rsi\), %r13", r"movq\tTDX_HYPERCALL_r13(%rsi), %r13"),),
        "tdx/offset-struct-matches-pointer", "TDX_HYPERCALL_r13 indexes %rsi", 20,
        # issue 20, class 14: patch 8 removes the offset while the (wrong) use is left: the build breaks there
        (("tdx/removed-symbol-users", 8, "uses TDX_HYPERCALL_r13, which patch 8 removed"),),
    ),
    Mutant(
        "a cast of the vcpu registers through a local alias", 6, KVM_AT, KVM_FILE,
        ((r"(noinstr void tdx_vcpu_enter_exit\(struct kvm_vcpu \*vcpu\)\n\{\n)",
          r"\1\tunsigned long *gprs = vcpu->arch.regs;\n"),
         (r"&tdx->vp_enter_args\);", "(struct tdx_module_args *)gprs);")),
        "tdx/vcpu-regs-layout", "cast between the vcpu register array (regs) and struct tdx_module_args",
    ),
    Mutant(
        "the TDVMCALL translation's pair where no TDVMCALL is handled", 6, KVM_AT, KVM_FILE,
        ((r"(\n\ttdx->vp_enter_ret = tdh_vp_enter)", r"\n\ttdx->vp_enter_args.r12 = kvm_rcx_read(vcpu);\1"),),
        "tdx/vcpu-regs-copy", "vcpu RCX -> tdx_module_args.r12: different registers; 'TDVMCALL hypercall arguments",
    ),
    Mutant(
        "an MSR value split the wrong way round", 6, KVM_AT, KVM_FILE,
        ((r"kvm_rax_write\(vcpu, tdx->vp_enter_args.r13 & -1u\)",
          "kvm_rax_write(vcpu, tdx->vp_enter_args.r13 >> 32)"),),
        "tdx/vcpu-regs-copy", "tdx_module_args.r13 (high 32 bits) -> vcpu RAX",
    ),
    Mutant(
        "a callee-saved field under the callee-clobbered comment", 7, 6, SHARED_TDX_H,
        ((r"(\t/\* callee-saved \+ rdi/rsi \*/\n)(\tu64 r12;\n)", r"\2\1"),),
        "tdx/grouping-comment-class", "r12 is callee-saved (SysV) but sits under the comment 'extra callee-clobbered'",
    ),
)  # fmt: skip

# Issue 20, the assembly side of the register contract (issue_class is issue 20's)
ISSUE_20_ASM = (
    Mutant(
        "the saved copy-out leaves R13 out (it is cleared anyway)", 3, 6, TDXCALL,
        ((r"\tmovq\t%r13, TDX_MODULE_r13\(%rsi\)\n", ""),),
        "tdx/copy-out-complete", "leaves %r13 out on a path where the call ran", 20,
    ),
    Mutant(
        "RSI's slot gets the struct pointer back from the stack, not the RSI the call returned", 3, 6, TDXCALL,
        ((r"\txchgq\t%rsi, \(%rsp\)\n", "\tpopq\t%rsi\n\tpushq\t%rsi\n"),),
        "tdx/copy-out-complete", "stores the struct pointer (from the stack) to %rsi's slot", 20,
    ),
    Mutant(
        "R14 cleared before it is stored", 3, 6, TDXCALL,
        ((r"(\tmovq\t%r14, TDX_MODULE_r14\(%rsi\)\n)", "\txor\t%r14d, %r14d\n\\1"),),
        "tdx/copy-out-complete", "stores 0: the register was cleared before it was stored to %r14's slot", 20,
    ),
    Mutant(
        "the 6.1 hypercall's copy-out leaves R13 out (R13 is popped, so nothing else notices)", 3, 3, TDCALL_S,
        ((r"\tmovq %r13, TDX_HYPERCALL_r13\(%rdi\)\n", ""),),
        "tdx/copy-out-complete", "the copy-out of __tdx_hypercall leaves %r13 out", 20,
    ),
    Mutant(
        "RDI not loaded in the saved variant: the leaf crosses in it", 4, 6, TDXCALL,
        ((r"\tmovq\tTDX_MODULE_rdi\(%rsi\), %rdi\n", ""),),
        "tdx/in-out-symmetry", "(TDX_MODULE_CALL ret=1 saved=1) holding the leaf number: the variant stores it", 20,
    ),
    Mutant(
        "R14 not loaded in the saved variant: the caller's R14 crosses", 4, 6, TDXCALL,
        ((r"\tmovq\tTDX_MODULE_r14\(%rsi\), %r14\n", ""),),
        "tdx/in-out-symmetry", "(TDX_MODULE_CALL ret=1 saved=1) holding the caller's callee-saved %r14", 20,
    ),
    Mutant(
        "STI moved up, before the last loads", 6, 7, TDXCALL,
        ((r"\t\.if \\sti\n\tsti\n\t\.endif\n\ttdcall\n", "\ttdcall\n"),
         (r"(\t\.if \\saved\n\tmovq\tTDX_MODULE_rdi)", r"\t.if \\sti\n\tsti\n\t.endif\n\1")),
        "tdx/sti-before-tdcall", "is followed by 'movq TDX_MODULE_rdi(%rsi), %rdi', not by TDCALL", 20,
    ),
    Mutant(
        "the STI function invokes the macro without sti=1", 6, 7, TDCALL_S,
        ((r"TDX_MODULE_CALL host=0 ret=1 saved=1 sti=1", "TDX_MODULE_CALL host=0 ret=1 saved=1"),),
        "tdx/sti-before-tdcall", "__tdcall_saved_ret_sti (TDX_MODULE_CALL ret=1 saved=1) enables interrupts", 20,
    ),
    Mutant(
        "the exception-table label after SEAMCALL", 6, KVM_AT + 1, TDXCALL,
        ((r"\.Lseamcall\\@:\n\tseamcall\n", "\tseamcall\n.Lseamcall\\@:\n"),),
        "tdx/extable-on-call", "covers 'jnc', an instruction after SEAMCALL, not SEAMCALL itself", 20,
    ),
    Mutant(
        "a plain exception-table entry for a fixup that reads the trap number", 6, KVM_AT + 1, TDXCALL,
        ((r"_ASM_EXTABLE_FAULT\(", "_ASM_EXTABLE("),),
        "tdx/extable-delivers-trap", "reads the trap number in %rax ('orq %rdi, %rax'), but _ASM_EXTABLE does not", 20,
    ),
    Mutant(
        "the hypercall's RCX bitmap no longer set (a patch that does not touch __tdx_hypercall otherwise)", 8, 4,
        TDCALL_S, ((r"\tmovl \$TDVMCALL_EXPOSE_REGS_MASK, %ecx\n", ""),),
        "tdx/tdvmcall-exposure", "TDG.VP.VMCALL in __tdx_hypercall is issued with RCX holding the caller's %rcx", 20,
    ),
    Mutant(
        "the exposure mask narrowed below the registers the hypercall passes", 8, 4, TDCALL_S,
        ((r"TDX_R14 \| TDX_R15 \)", "TDX_R14 )"),),
        "tdx/tdvmcall-exposure", "passes %r15 to the VMM, but its RCX bitmap (TDVMCALL_EXPOSE_REGS_MASK = 0x7c00)", 20,
    ),
    Mutant(
        "the KVM patch also drops a clear from TDX_MODULE_CALL (a deletion only)", 13, KVM_AT, TDXCALL,
        ((r"\txor\t%r10d, %r10d\n", ""),),
        "tdx/clear-before-return", "%r10 still holds what the TDX module/VMM returned", 20,
    ),
)  # fmt: skip


# Issue 20, the C side: each class's bug planted in the KVM fixture or the series (issue_class is issue 20's)
ISSUE_20_C = tuple(
    replace(mutant, issue=20)
    for mutant in (
    Mutant(
        "a register only the member reaches, wrong in the MSR read case", 1, KVM_AT, KVM_FILE,
        ((r"(case EXIT_REASON_MSR_READ:\n(?:\t\t/\*.*\*/\n)?\t\tkvm_rcx_write\(vcpu, tdx->vp_enter_args\.)r12",
          r"\1r13"),),
        "tdx/vcpu-regs-copy", "tdx_module_args.r13 -> vcpu RCX: different registers; tdx_handle_exit handles "
        "EXIT_REASON_MSR_READ, kvm_emulate_rdmsr",
    ),
    Mutant(
        "the hypercall translation's pair in the MSR write case", 2, KVM_AT, KVM_FILE,
        ((r"kvm_rax_write\(vcpu, tdx->vp_enter_args.r13 & -1u\)", "kvm_rax_write(vcpu, tdx->vp_enter_args.r10)"),),
        "tdx/vcpu-regs-copy", "it does not use R10 ('TDVMCALL hypercall arguments",
    ),
    Mutant(
        "TDH.VP.ENTER through a variant that returns nothing", 5, KVM_AT, KVM_H,
        ((r"__seamcall_saved_ret\(TDH_VP_ENTER", "__seamcall(TDH_VP_ENTER"),),
        "tdx/call-variant-registers", "tdx_vcpu_enter_exit reads vp_enter_args.rcx after tdh_vp_enter(), which does "
        "not return it",
    ),
    Mutant(
        "TDH.VP.ENTER through a variant that does not pass the saved registers", 5, KVM_AT, KVM_H,
        ((r"__seamcall_saved_ret\(TDH_VP_ENTER", "__seamcall_ret(TDH_VP_ENTER"),),
        "tdx/call-variant-registers", "tdx_handle_exit reads vp_enter_args.r12, which tdh_vp_enter() fills",
    ),
    Mutant(
        "a guest wrapper that reads outputs through a variant that returns none", 5, 5, "arch/x86/coco/tdx/tdx.c",
        ((r"if \(__tdcall_ret\(fn, args\)\)", "if (__tdcall(fn, args))"),),
        "tdx/call-variant-registers", "tdx_parse_tdinfo reads args.rcx after tdx_module_call(), which does not "
        "return it",
    ),
    Mutant(
        "a _ret variant that expands ret=0", 5, 9, "arch/x86/virt/vmx/tdx/seamcall.S",
        ((r"(SYM_FUNC_START\(__seamcall_ret\)\n(?:.*\n)*?\tTDX_MODULE_CALL host=1) ret=1", r"\1"),),
        "tdx/variant-matches-name", "__seamcall_ret expands TDX_MODULE_CALL with ret=0",
    ),
    Mutant(
        "the STI branches swapped", 5, 7, SHARED_TDX_H,
        ((r"__tdcall_saved_ret_sti\(TDG_VP_VMCALL", "__SWAPPED(TDG_VP_VMCALL"),
         (r"__tdcall_saved_ret\(TDG_VP_VMCALL", "__tdcall_saved_ret_sti(TDG_VP_VMCALL"),
         (r"__SWAPPED\(TDG_VP_VMCALL", "__tdcall_saved_ret(TDG_VP_VMCALL")),
        "tdx/call-variant-registers", "__tdx_hypercall calls __tdcall_saved_ret() in the branch taken when STI is "
        "asked for",
    ),
    Mutant(
        "the old hypercall struct copied into the new one with a register swapped", 7, 7, SHARED_TDX_H,
        ((r"\.r12 = args->r12,", ".r12 = args->r13,"),),
        "tdx/args-copy-pairs", "tdx_hypercall_args.r13 -> tdx_module_args.r12 in __tdx_hypercall: different registers",
    ),
    Mutant(
        "the copy-back of a hypercall's outputs without one register", 11, 7, SHARED_TDX_H,
        ((r"\n\t\targs->r14 = margs\.r14;", ""),),
        "tdx/args-copy-pairs", "__tdx_hypercall copies 5 of the 6 registers struct tdx_module_args and struct "
        "tdx_hypercall_args share, but leaves out r14",
    ),
    Mutant(
        "a leaf renamed after the spec with another leaf's number", 9, 3, SHARED_TDX_H,
        ((r"#define TDG_VP_VEINFO_GET\t\t3", "#define TDG_VP_VEINFO_GET\t\t4"),),
        "tdx/spec-constants", "TDG_VP_VEINFO_GET is 4, but TDG.VP.VEINFO.GET is 3",
    ),
    Mutant(
        "the #UD error code built on the #GP trap number", 9, 11, "arch/x86/include/asm/tdx.h",
        ((r"\(TDX_SW_ERROR \| X86_TRAP_UD\)", "(TDX_SW_ERROR | X86_TRAP_GP)"),),
        "tdx/spec-constants", "TDX_SEAMCALL_UD is 0x8000ff000000000d, but TDX_SW_ERROR | X86_TRAP_UD (6)",
    ),
    Mutant(
        "the guest's CPUID results stored into the wrong saved registers", 11, 8, "arch/x86/coco/tdx/tdx.c",
        ((r"regs->bx = args\.r13;", "regs->bx = args.r14;"),),
        "tdx/vcpu-regs-copy", "tdx_module_args.r14 -> pt_regs RBX: different registers; handle_cpuid handles "
        "EXIT_REASON_CPUID",
    ),
    Mutant(
        "a CPUID result left out", 11, 8, "arch/x86/coco/tdx/tdx.c",
        ((r"\n\tregs->dx = args\.r15;", ""),),
        "tdx/vcpu-regs-copy-complete", "leaves out R15 -> pt_regs RDX",
    ),
    Mutant(
        "a hypercall argument left out of KVM's copy", 11, KVM_AT, KVM_FILE,
        ((r"\n\tkvm_rdx_write\(vcpu, to_tdx\(vcpu\)->vp_enter_args\.r13\);", ""),),
        "tdx/vcpu-regs-copy-complete", "leaves out R13 -> vcpu RDX",
    ),
    Mutant(
        "a one-line accessor that stores the RDMSR result in another register", 11, KVM_AT, KVM_FILE,
        ((r"to_tdx\(vcpu\)->vp_enter_args\.r11 = val;", "to_tdx(vcpu)->vp_enter_args.r12 = val;"),),
        "tdx/vcpu-regs-copy", "-> tdx_module_args.r12: different registers; tdx_complete_msr handles "
        "EXIT_REASON_MSR_READ",
    ),
    Mutant(
        "the struct that wraps the register array passed as the args struct", 10, KVM_AT, KVM_FILE,
        ((r"&tdx->vp_enter_args\);", "(struct tdx_module_args *)&vcpu->arch);"),),
        "tdx/vcpu-regs-layout", "a struct kvm_vcpu_arch whose first field is the register array) and struct "
        "tdx_module_args",
    ),
    Mutant(
        "the register array passed as a void pointer", 10, KVM_AT, KVM_FILE,
        ((r"&tdx->vp_enter_args\);", "(void *)vcpu->arch.regs);"),),
        "tdx/vcpu-regs-layout", "argument 2 of tdh_vp_enter() between the vcpu register array (regs)",
    ),
    Mutant(
        "an offset DEFINE()d for another field", 12, 5, "arch/x86/kernel/asm-offsets.c",
        ((r"OFFSET\(TDX_MODULE_rcx, tdx_module_args, rcx\);",
          "DEFINE(TDX_MODULE_rcx, offsetof(struct tdx_module_args, rdx));"),),
        "tdx/offset-per-field", "OFFSET(TDX_MODULE_rcx, tdx_module_args, rdx) should be named TDX_MODULE_rdx",
    ),
)
)  # fmt: skip
MUTANTS = (*ISSUE_12, *ISSUE_20_ASM, *ISSUE_20_C)


def _git(tree: Path, *args: str, input_text: str | None = None, env: dict[str, str] | None = None) -> str:
    import os

    result = subprocess.run(
        ["git", "-C", str(tree), *args], input=input_text, capture_output=True, text=True, check=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    return result.stdout


@dataclass
class Original:
    tree: Path
    states: list[dict[str, str | None]]  # per state (base, each patch, then each overlay): path -> text
    patches: list[dict[str, Any]]  # series.yaml's patch entries, in order (mailed, then overlays)


@pytest.fixture(scope="module")
def original(shared_real_tree: SharedRealTree) -> Original:
    """The series applied once, with the KVM patch inserted, read back as full file contents per state.

    The session's real tree is this module's for its duration (every test here applies to it with --force).
    """
    tree = shared_real_tree.reset()
    applied = run_cli("apply", str(SERIES_DIR), "--tree", str(tree), cwd=REPO_ROOT)
    assert applied.code == 0, applied.err
    record = require_record(KernelTree(tree), "tdx")
    commits = [s.commit for s in mailed_states(record)] + [p.commit for p in record.overlays]
    data = yaml.safe_load((SERIES_DIR / "series.yaml").read_text())
    paths: set[str] = set()
    for entry in data["patches"]:
        text = (SERIES_DIR / entry["diff"]).read_text()
        paths.update(m.group(1) for m in re.finditer(r"^\+\+\+ b/(\S+)$", text, re.M))
    states: list[dict[str, str | None]] = []
    for commit in commits:
        present = set(_git(tree, "ls-tree", "-r", "--name-only", commit, "--", *sorted(paths)).split())
        states.append({p: (_git(tree, "show", f"{commit}:{p}") if p in present else None) for p in sorted(paths)})
    # the KVM patch: the state after patch KVM_AT - 1 plus the new files, carried by every later state
    states.insert(KVM_AT, dict(states[KVM_AT - 1]))
    for state in states[KVM_AT:]:
        state.update(KVM_FILES)
    for state in states[:KVM_AT]:
        state.update(dict.fromkeys(KVM_FILES))
    first = data["patches"][0]
    kvm = {**first, **KVM_PATCH, "diff": "0000-kvm-tdx-hand-tdvmcall-registers.diff"}
    kvm.pop("suppress", None)
    patches = [*data["patches"][: KVM_AT - 1], kvm, *data["patches"][KVM_AT - 1 :]]
    return Original(tree, states, patches)


def _write_series(original: Original, states: list[dict[str, str | None]], target: Path) -> None:
    """A copy of series/tdx whose diffs take the tree from each state to the next (made with git)."""
    shutil.copytree(SERIES_DIR, target)
    tree = original.tree
    base = _git(tree, "rev-parse", "patchkit-base").strip()
    with tempfile.TemporaryDirectory() as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(tree, "read-tree", base, env=env)
        parent = base
        commits = [base]
        for state in states[1:]:
            lines = []
            for path, text in sorted(state.items()):
                if text is None:
                    lines.append(f"0 {'0' * 40}\t{path}")
                    continue
                blob = _git(tree, "hash-object", "-w", "--stdin", input_text=text).strip()
                lines.append(f"100644 {blob}\t{path}")
            _git(tree, "update-index", "--index-info", input_text="\n".join(lines) + "\n", env=env)
            written = _git(tree, "write-tree", env=env).strip()
            parent = _git(tree, "commit-tree", written, "-p", parent, "-m", "state").strip()
            commits.append(parent)
    data = yaml.safe_load((SERIES_DIR / "series.yaml").read_text())
    data["patches"] = original.patches
    for number, entry in enumerate(original.patches, start=1):
        diff = _git(tree, "diff", "--no-renames", "--full-index", commits[number - 1], commits[number])
        (target / entry["diff"]).write_text(diff)
    (target / "series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _plant(original: Original, mutant: Mutant) -> list[dict[str, str | None]]:
    states = [dict(s) for s in original.states]
    for number in range(mutant.patch, len(states)):
        text = states[number][mutant.path]
        if text is None:
            continue
        changed = text
        for pattern, replacement in mutant.edits:
            changed = re.sub(pattern, replacement, changed, count=1)
        if number == mutant.patch:
            assert changed != text, f"{mutant.name}: nothing to plant in patch {number}'s {mutant.path}"
        states[number][mutant.path] = changed
    return states


def _lint(original: Original, series_dir: Path) -> LintReport:
    applied = run_cli("apply", str(series_dir), "--tree", str(original.tree), "--force", cwd=REPO_ROOT)
    assert applied.code == 0, applied.err
    series = load_series(series_dir)
    tree = KernelTree(original.tree)
    return lint_series(tree, series, require_record(tree, series.name), checkpatch=False)


def test_the_series_with_the_kvm_patch_lints_clean(original: Original, tmp_path: Path) -> None:
    """The baseline every mutant is measured against: no failing finding anywhere."""
    _write_series(original, original.states, tmp_path / "tdx")
    report = _lint(original, tmp_path / "tdx")
    assert len(report.states) == len(load_series(SERIES_DIR).mailed_patches) + 2
    assert report.failing == [], to_text(report, {})


@pytest.mark.parametrize(
    "mutant", MUTANTS, ids=[f"issue{m.issue}-class{m.issue_class}-patch{m.patch}-{m.name}" for m in MUTANTS]
)
def test_a_planted_bug_is_blamed_on_the_patch_that_wrote_it_and_only_on_it(
    original: Original, mutant: Mutant, tmp_path: Path
) -> None:
    _write_series(original, _plant(original, mutant), tmp_path / "tdx")
    report = _lint(original, tmp_path / "tdx")
    shown = to_text(report, {})
    hits = [f for f in report.failing if f.rule == mutant.rule and mutant.expect in f.message]
    assert hits, f"{mutant.rule} did not report {mutant.expect!r}:\n{shown}"
    assert {f.patch for f in hits} == {mutant.patch}, shown
    for rule, patch, expect in mutant.also:
        assert [f for f in report.failing if (f.rule, f.patch) == (rule, patch) and expect in f.message], shown
    assert {f.patch for f in report.failing} == {mutant.patch, *(p for _r, p, _e in mutant.also)}, shown
    assert all(f.reachable_from is None for f in report.failing), shown
