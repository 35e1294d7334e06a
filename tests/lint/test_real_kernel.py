"""Lint on real kernels: Debian's 6.12 TDX files (the upstream form of the series) give no TDX-rule
findings; the bundled series on the real 6.1 tree lints clean, and its mutants are blamed on the
right patch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from patchkit.apply.record import AppliedPatch, AppliedSeries, require_record
from patchkit.lint.engine import lint_series
from patchkit.lint.model import LintReport
from patchkit.lint.output import to_text
from patchkit.series.load import load_series
from patchkit.series.model import Base, Patch, Person, Series
from patchkit.tree.repo import KernelTree
from tests.conftest import REPO_ROOT
from tests.helpers import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.kernel]

TARBALL_612 = Path("/usr/src/linux-source-6.12.tar.xz")
MEMBERS_612 = (
    "arch/x86/virt/*", "arch/x86/coco/*", "arch/x86/include/asm/tdx*.h", "arch/x86/include/asm/shared/*",
    "arch/x86/include/asm/kvm_vcpu_regs.h", "arch/x86/include/asm/kvm_host.h", "arch/x86/kernel/asm-offsets*.c",
    "arch/x86/boot/compressed/*", "arch/x86/kvm/vmx/*", "arch/x86/kvm/kvm_cache_regs.h", "drivers/virt/coco/*",
)  # fmt: skip
# PATCHKIT_LINT_SERIES points these tests at another series directory (a stand-in while developing)
SERIES_DIR = Path(os.environ.get("PATCHKIT_LINT_SERIES", str(REPO_ROOT / "series" / "tdx")))
needs_series = pytest.mark.skipif(
    not (SERIES_DIR / "series.yaml").is_file(),
    reason="series/tdx is not in the repository yet (it is being written); these tests run once it is",
)


def _git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def tree_612(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TDX-relevant files of linux-source-6.12 as a one-commit git repository."""
    if not TARBALL_612.is_file():
        pytest.skip("linux-source-6.12 is not installed (apt-get install linux-source-6.12)")
    root = tmp_path_factory.mktemp("linux-6.12")
    prefix = "linux-source-6.12/"
    subprocess.run(
        ["tar", "-xJf", str(TARBALL_612), "-C", str(root), "--wildcards", *(prefix + m for m in MEMBERS_612)],
        check=True,
    )
    tree = root / "linux-source-6.12"
    _git(tree.parent, "init", "-q", str(tree))
    _git(tree, "add", "-f", "-A")
    _git(tree, "commit", "-q", "-m", "linux-source-6.12 TDX files")
    return tree


def _single_state(tree: Path) -> tuple[KernelTree, Series, AppliedSeries]:
    head = _git(tree, "rev-parse", "HEAD").strip()
    series = Series(tree / "no-series", "upstream", 1, "PATCH", Base("linux-source-6.12", "6.12", ""), ())
    return KernelTree(tree), series, AppliedSeries("upstream", 1, "none", head, ())


def test_linux_6_12_tdx_files_give_no_tdx_rule_findings(tree_612: Path) -> None:
    tree, series, record = _single_state(tree_612)
    report = lint_series(tree, series, record, checkpatch=False)
    tdx = [f for f in report.findings if f.rule.startswith(("tdx/", "parse/"))]
    assert tdx == [], to_text(report, {})
    # the check was not vacuous: the args struct, its offsets, the macro and its users were read
    assert report.timings["parsed_files"] >= 8


def test_linux_6_12_mutants_are_caught(tree_612: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(tree_612), str(clone))
    base = _git(clone, "rev-parse", "HEAD").strip()
    tdxcall = clone / "arch/x86/virt/vmx/tdx/tdxcall.S"
    text = tdxcall.read_text()
    text = text.replace("movq\tTDX_MODULE_r9(%rsi),  %r9", "movq\tTDX_MODULE_r9(%rsi),  %r8", 1)
    text = text.replace("\txorl %edi,  %edi\n", "", 1)
    text = text.replace("\tpopq\t%r14\n\tpopq\t%r13\n", "\tpopq\t%r13\n\tpopq\t%r14\n", 1)
    # issue 20: a store dropped from the saved copy-out, RBX no longer loaded, a plain exception-table entry
    for old, new in (
        ("\tmovq %r13, TDX_MODULE_r13(%rsi)\n", ""),
        ("\tmovq\tTDX_MODULE_rbx(%rsi), %rbx\n", ""),
        ("_ASM_EXTABLE_FAULT(", "_ASM_EXTABLE("),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    tdxcall.write_text(text)
    offsets = clone / "arch/x86/kernel/asm-offsets.c"
    offsets.write_text(offsets.read_text().replace("\tOFFSET(TDX_MODULE_rbx, tdx_module_args, rbx);\n", "", 1))
    _git(clone, "commit", "-q", "-a", "-m", "x86/tdx: Break it\n\nOn purpose.\n\nSigned-off-by: T <t@example.org>")
    head = _git(clone, "rev-parse", "HEAD").strip()
    tree = KernelTree(clone)
    series = Series(tmp_path / "s", "m", 1, "PATCH", Base("p", "6.12", ""), load_patch_stub())
    record = AppliedSeries("m", 1, "b", base, (AppliedPatch(1, "x86/tdx: Break it", head),))
    report = lint_series(tree, series, record, checkpatch=False)
    rules = {f.rule for f in report.failing if f.patch == 1}
    assert {
        "tdx/mov-register-matches-offset", "tdx/clear-before-return", "tdx/callee-saved-preserved",
        "tdx/offset-per-field", "tdx/asm-offset-defined", "tdx/copy-out-complete", "tdx/in-out-symmetry",
        "tdx/extable-delivers-trap",
    } <= rules, to_text(report, {})  # fmt: skip


def load_patch_stub() -> tuple[Patch, ...]:
    who = Person("T", "t@example.org")
    return (Patch(1, "x86/tdx: Break it", who, "2026-01-01T00:00:00+00:00", "On purpose.",
                  ("Signed-off-by: T <t@example.org>",), "0001.diff"),)  # fmt: skip


# ---- the bundled series on the real 6.1 tree -----------------------------------------------------


def _apply_and_lint(series_dir: Path, tree: Path, *, checkpatch: bool) -> LintReport:
    applied = run_cli("apply", str(series_dir), "--tree", str(tree), "--force", cwd=REPO_ROOT)
    assert applied.code == 0, applied.err
    series = load_series(series_dir)
    ktree = KernelTree(tree)
    return lint_series(ktree, series, require_record(ktree, series.name), checkpatch=checkpatch)


@needs_series
def test_bundled_series_lints_clean(real_tree: Path) -> None:
    report = _apply_and_lint(SERIES_DIR, real_tree, checkpatch=True)
    assert report.checkpatch_ran and len(report.states) == len(load_series(SERIES_DIR).mailed_patches) + 1
    failing = [f for f in report.failing if f.severity == "error" or f.rule.startswith(("tdx/", "parse/"))]
    assert failing == [], to_text(report, {})
    for f in report.findings:
        if f.suppressed:
            assert f.suppression is not None and f.suppression.reason.strip()


_LOAD = re.compile(r"^\+\s*movq?\s+TDX_MODULE_(r\w+)\(%(\w+)\),\s*%(r\w+)\s*$")
_OFFSET = re.compile(r"^\+\s*OFFSET\(TDX_MODULE_(\w+),\s*tdx_module_args,\s*\w+\);\s*$")
_POP = re.compile(r"^\+\s*popq?\s+%(rbx|rbp|r1[2-5])\s*$")
_XOR_RDI = re.compile(r"^\+\s*xorl?\s+%edi,\s*%edi\s*$")
_INIT = re.compile(r"^\+\s*\.(r\d+|r[a-z]{2})\s*=")
_OTHER = {"rcx": "rdx", "rdx": "rcx", "r8": "r9", "r9": "r8", "r10": "r11", "r11": "r10", "r12": "r13",
          "r13": "r12", "r14": "r15", "r15": "r14", "rbx": "r12", "rdi": "rcx", "rsi": "rdx"}  # fmt: skip

# kind -> rule the mutant must trigger, blamed on the mutated patch
MUTANT_RULES = {
    "swap": "tdx/mov-register-matches-offset",
    "drop-offset": "tdx/offset-per-field",
    "pop-order": "tdx/callee-saved-preserved",
    "drop-xor-rdi": "tdx/clear-before-return",
    "bad-field": "tdx/field-exists",
    "unconverted-user": "tdx/removed-symbol-users",
}

Edit = tuple[int, str]  # (line index in the diff file, new text)


def _mutants(kind: str) -> list[tuple[int, str, list[Edit], str]]:
    """(patch number, diff file, edits, expected message part) candidates, last patch first."""
    from patchkit.lint.rules.tdx.removed_symbol_users import removed_symbols

    series = load_series(SERIES_DIR)
    found = []
    for patch in reversed(series.mailed_patches):
        text = (SERIES_DIR / patch.diff).read_text()
        lines = text.split("\n")
        removed = {name for name, _p in removed_symbols(text)}
        path = ""
        for i, line in enumerate(lines):
            if line.startswith("+++ "):
                path = line[6:]
            if kind == "swap" and (m := _LOAD.match(line)) and m.group(1) == m.group(3) and m.group(1) in _OTHER:
                other = _OTHER[m.group(3)]
                edit = (i, line.replace(f"%{m.group(3)}", f"%{other}"))
                found.append((patch.number, patch.diff, [edit], f"TDX_MODULE_{m.group(1)} is loaded into %{other}"))
            elif kind == "drop-offset" and (o := _OFFSET.match(line)):
                edit = (i, "+\t/* OFFSET dropped by a mutation test */")
                found.append((patch.number, patch.diff, [edit], f"tdx_module_args.{o.group(1)} has no OFFSET"))
            elif (
                kind == "pop-order"
                and (a := _POP.match(line))
                and i + 1 < len(lines)
                and (b := _POP.match(lines[i + 1]))
            ):
                edits = [(i, lines[i + 1]), (i + 1, line)]
                found.append(
                    (patch.number, patch.diff, edits, f"%{a.group(1)} gets the value saved from %{b.group(1)}")
                )
            elif kind == "drop-xor-rdi" and _XOR_RDI.match(line):
                edit = (i, "+\t/* xor dropped by a mutation test */")
                found.append((patch.number, patch.diff, [edit], "%rdi still holds what the TDX module/VMM returned"))
            elif kind == "bad-field" and path.endswith(".c") and (f := _INIT.match(line)):
                edit = (i, line.replace(f".{f.group(1)}", ".not_a_field", 1))
                found.append((patch.number, patch.diff, [edit], "has no field 'not_a_field'"))
            elif (
                kind == "unconverted-user" and path.endswith(".c") and line.startswith("-") and i + 1 < len(lines)
                and lines[i + 1].startswith("+") and lines[i + 1][1:] != line[1:]
            ):  # fmt: skip
                names = [n for n in removed if re.search(rf"\b{re.escape(n)}\b", line)]
                if names and not any(re.search(rf"\b{re.escape(n)}\b", lines[i + 1]) for n in names):
                    edit = (i + 1, "+" + line[1:])
                    found.append((patch.number, patch.diff, [edit], f"uses {names[0]}, which patch {patch.number}"))
    return found


@needs_series
def test_bundled_series_mutants_are_blamed_on_their_patch(real_tree: Path, tmp_path: Path) -> None:
    """For each kind of mutation: break one patch of a copy of the series, apply it, lint, and find the
    rule's finding blamed on that patch (candidates whose later patches no longer apply are skipped)."""
    outcome: dict[str, str] = {}
    for kind, rule in MUTANT_RULES.items():
        candidates = _mutants(kind)
        outcome[kind] = "no candidate line in the series"
        for number, diff, edits, expected in candidates[:4]:
            copy = tmp_path / f"{kind}-{number}-{edits[0][0]}"
            shutil.copytree(SERIES_DIR, copy)
            lines = (copy / diff).read_text().split("\n")
            for index, text in edits:
                lines[index] = text
            (copy / diff).write_text("\n".join(lines))
            applied = run_cli("apply", str(copy), "--tree", str(real_tree), "--force", cwd=REPO_ROOT)
            if applied.code != 0:
                outcome[kind] = "no candidate applied"
                continue  # a later patch has the line as context: try another candidate
            series = load_series(copy)
            tree = KernelTree(real_tree)
            report = lint_series(tree, series, require_record(tree, series.name), checkpatch=False)
            hits = [f for f in report.failing if f.rule == rule and expected in f.message]
            if hits and {f.patch for f in hits} == {number}:
                outcome[kind] = "caught"
            else:
                outcome[kind] = f"patch {number}: not caught as expected ({expected!r}):\n" + to_text(report, {})
            break
    missed = {k: v for k, v in outcome.items() if v != "caught"}
    assert not missed, missed
