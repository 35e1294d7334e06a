"""Blame for the assembly rules on the synthetic kernel: a patch that only deletes lines of a defect is
blamed for it (issue 20, class 13); a patch that removes an offset still used gets its own finding even when
the use was reported as an offset on another struct's pointer, blamed on the patch that wrote it (class 14);
one planted bug per assembly rule of issue 20 is blamed on its patch."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.lint.blame import deleted_lines
from patchkit.lint.engine import lint_series
from patchkit.lint.model import Finding, LintReport
from tests.lint.synthetic import BASE, PATCH1, PATCH2, PATCH3, build

TDXCALL = "arch/x86/virt/vmx/tdx/tdxcall.S"
TDCALL = "arch/x86/coco/tdx/tdcall.S"


def _lint(tmp_path: Path, patches: list[dict[str, str]], base: dict[str, str] | None = None) -> LintReport:
    built = build(tmp_path, patches, base)
    return lint_series(built.tree, built.series, built.record, checkpatch=False)


def _tdx(report: LintReport) -> list[Finding]:
    return [f for f in report.failing if f.rule.startswith("tdx/")]


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} not in the text"
    return text.replace(old, new, 1)


def test_deleted_lines_sit_before_the_new_line_that_follows_them() -> None:
    diff = "diff --git a/x.S b/x.S\n--- a/x.S\n+++ b/x.S\n@@ -3,5 +3,3 @@\n a\n-\tpopq %rbx\n b\n-/* gone */\n-\n c\n"
    assert deleted_lines(diff) == {"x.S": [(4, "\tpopq %rbx")]}


def test_a_patch_that_only_deletes_a_clear_written_earlier_is_blamed_for_the_defect(tmp_path: Path) -> None:
    patch3 = {**PATCH3, TDXCALL: _replace(PATCH2[TDXCALL], "\txorl %edx, %edx\n", "")}
    report = _lint(tmp_path, [PATCH1, PATCH2, patch3])
    hits = [f for f in report.failing if f.rule == "tdx/clear-before-return"]
    assert hits and {f.patch for f in hits} == {3}, [(f.patch, f.message) for f in report.failing]
    assert all(f.reachable_from is None and "introduced by" not in f.message for f in hits)


def test_a_patch_that_deletes_the_last_pop_of_a_block_is_blamed_for_it(tmp_path: Path) -> None:
    """The deleted line was the last of the block's code before .endif: next to the evidence, not between."""
    broken = _replace(PATCH2[TDXCALL], "\tpopq %r12\n\tpopq %rbx\n.endif\n", "\tpopq %r12\n.endif\n")
    broken = _replace(broken, "\tFRAME_END\n\tRET\n.endm", ".endm")
    patch2 = {**PATCH2, TDXCALL: _replace(PATCH2[TDXCALL], "\tFRAME_END\n\tRET\n.endm", ".endm")}
    patch2[TDCALL] = patch2[TDCALL].replace("\nSYM_FUNC_END", "\n\tRET\nSYM_FUNC_END")
    patch3 = {**PATCH3, TDXCALL: broken}
    report = _lint(tmp_path, [PATCH1, patch2, patch3])
    hits = [f for f in report.failing if f.rule == "tdx/callee-saved-preserved"]
    assert hits and {f.patch for f in _tdx(report)} == {3}, [(f.patch, f.message) for f in report.failing]
    assert all(f.reachable_from is None for f in hits)


def test_a_comment_deleted_in_a_macro_does_not_take_the_blame_from_the_patch_that_wrote_the_defect(
    tmp_path: Path,
) -> None:
    """Patch 2 writes a scratch-register macro that is only wrong for a callee-saved argument; patch 3 adds
    that caller and deletes a comment inside the macro: still introduced by 2, reachable from 3."""
    macro = (
        "\n.macro LOAD_RCX_VIA tmp:req\n\t/* through a scratch register */\n\tmovq TDX_MODULE_rcx(%rsi), \\tmp\n"
        "\tmovq \\tmp, %rcx\n\ttdcall\n\txorl %ecx, %ecx\n.endm\n"
    )
    patch2 = {**PATCH2, TDXCALL: PATCH2[TDXCALL] + macro}
    patch3 = {
        **PATCH3,
        TDXCALL: patch2[TDXCALL].replace("\t/* through a scratch register */\n", ""),
        TDCALL: patch2[TDCALL]
        + "\nSYM_FUNC_START(__tdcall_via)\n\tLOAD_RCX_VIA %r12\n\tRET\nSYM_FUNC_END(__tdcall_via)\n",
    }
    report = _lint(tmp_path, [PATCH1, patch2, patch3])
    hits = [f for f in report.failing if f.rule == "tdx/callee-saved-preserved"]
    assert hits and {(f.patch, f.reachable_from) for f in hits} == {(2, 3)}, [(f.patch, f.message) for f in hits]


HYPERCALL_BASE = {
    **BASE,
    "arch/x86/include/asm/shared/tdx.h": "struct tdx_hypercall_args {\n\tu64 r12;\n\tu64 rbx;\n};\n",
    "arch/x86/kernel/asm-offsets.c": _replace(
        BASE["arch/x86/kernel/asm-offsets.c"], "}\n", "\tOFFSET(TDX_HYPERCALL_r12, tdx_hypercall_args, r12);\n"
        "\tOFFSET(TDX_HYPERCALL_rbx, tdx_hypercall_args, rbx);\n}\n",
    ),
}  # fmt: skip


def test_removing_an_offset_still_used_on_another_structs_pointer_reports_the_cause_and_the_break(
    tmp_path: Path,
) -> None:
    """Patch 2 loads R12 with a hypercall offset on the tdx_module_args pointer (wrong from then on); patch 3
    removes the hypercall offsets, which breaks the build at that line: both are reported, each on its own
    patch, and the break says it is the same line."""
    offsets = PATCH2["arch/x86/kernel/asm-offsets.c"]
    patch2 = {
        **PATCH2,
        "arch/x86/kernel/asm-offsets.c": _replace(
            offsets, "}\n", "\tOFFSET(TDX_HYPERCALL_r12, tdx_hypercall_args, r12);\n"
            "\tOFFSET(TDX_HYPERCALL_rbx, tdx_hypercall_args, rbx);\n}\n",
        ),
        TDXCALL: _replace(PATCH2[TDXCALL], "movq TDX_MODULE_r12(%rsi), %r12", "movq TDX_HYPERCALL_r12(%rsi), %r12"),
    }  # fmt: skip
    patch3 = {
        **PATCH3,
        "arch/x86/kernel/asm-offsets.c": offsets,
        "arch/x86/include/asm/shared/tdx.h": "/* struct tdx_hypercall_args is gone */\n",
    }
    report = _lint(tmp_path, [PATCH1, patch2, patch3], HYPERCALL_BASE)
    cause = [f for f in report.failing if f.rule == "tdx/offset-struct-matches-pointer"]
    broken = [f for f in report.failing if f.rule == "tdx/removed-symbol-users"]
    assert [(f.patch, f.path) for f in cause] == [(2, TDXCALL)], [(f.rule, f.patch, f.message) for f in report.failing]
    assert [(f.patch, f.path, f.line) for f in broken] == [(3, TDXCALL, cause[0].line)]
    assert "the build breaks here" in broken[0].message and "tdx/offset-struct-matches-pointer" in broken[0].message
    assert not [f for f in report.failing if f.rule == "tdx/asm-offset-defined"]  # the break is reported once


# one planted bug per assembly rule of issue 20, in patch 2 of the synthetic series
MUTANTS = [
    ("tdx/copy-out-complete", "\tmovq %r12, TDX_MODULE_r12(%rsi)\n", "", "leaves %r12 out"),
    (
        "tdx/copy-out-complete",
        "\tmovq %rcx, TDX_MODULE_rcx(%rsi)\n\tmovq %rdx, TDX_MODULE_rdx(%rsi)\n",
        "\tmovq %rcx, TDX_MODULE_rcx(%rsi)\n\txorl %edx, %edx\n\tmovq %rdx, TDX_MODULE_rdx(%rsi)\n",
        "stores 0: the register was cleared",
    ),
    ("tdx/in-out-symmetry", "\tmovq TDX_MODULE_rbx(%rsi), %rbx\n", "", "holding the caller's callee-saved %rbx"),
    ("tdx/sti-before-tdcall", "\ttdcall\n", "\tsti\n\tmov %rdi, %rax\n\ttdcall\n", "is followed by 'mov %rdi, %rax'"),
]


@pytest.mark.parametrize(("rule", "old", "new", "expect"), MUTANTS, ids=[f"{m[0]}-{i}" for i, m in enumerate(MUTANTS)])
def test_an_assembly_mutant_is_blamed_on_its_patch(tmp_path: Path, rule: str, old: str, new: str, expect: str) -> None:
    patch2 = {**PATCH2, TDXCALL: _replace(PATCH2[TDXCALL], old, new)}
    report = _lint(tmp_path, [PATCH1, patch2, PATCH3])
    hits = [f for f in report.failing if f.rule == rule and expect in f.message]
    assert hits, [(f.rule, f.message) for f in report.findings]
    assert {f.patch for f in _tdx(report)} == {2}, [(f.patch, f.rule, f.message) for f in report.failing]


@pytest.mark.parametrize(
    ("name", "invocation", "rule", "expect"),
    [
        ("__tdcall_saved_ret_sti", "TDX_MODULE_CALL host=0 ret=1 saved=1", "tdx/sti-before-tdcall",
         "__tdcall_saved_ret_sti (TDX_MODULE_CALL ret=1 saved=1) enables interrupts for the call"),
        ("__tdcall_ret", "TDX_MODULE_CALL host=0", "tdx/copy-out-complete",
         "__tdcall_ret (TDX_MODULE_CALL) returns outputs but a path where the call ran copies none out"),
    ],
)  # fmt: skip
def test_a_function_whose_invocation_does_not_ask_for_what_its_name_promises_is_blamed_not_the_macro(
    tmp_path: Path, name: str, invocation: str, rule: str, expect: str
) -> None:
    """Patch 3 adds a function named for STI (or for outputs) that expands the macro without asking for it: the
    finding sits at the invocation, which patch 3 wrote, not at the macro written by patch 2."""
    added = f"\nSYM_FUNC_START({name})\n\t{invocation}\nSYM_FUNC_END({name})\n"
    patch3 = {**PATCH3, TDCALL: PATCH2[TDCALL] + added}
    report = _lint(tmp_path, [PATCH1, PATCH2, patch3])
    hits = [f for f in report.failing if f.rule == rule and expect in f.message]
    assert [(f.patch, f.path, f.reachable_from) for f in hits] == [(3, TDCALL, None)], [
        (f.patch, f.rule, f.message) for f in report.failing
    ]
