"""What the assembly walk knows about values (issue 20): #define lines of a .S file, a constant's value from
the state's defines, and the values a walk follows through moves, the stack and the call."""

from __future__ import annotations

from patchkit.lint.lang import asm, asmflow
from patchkit.lint.rules.tdx import constants
from patchkit.lint.rules.tdx.facts import CROSSING


def test_object_like_defines_are_kept_with_continuations_and_without_comments() -> None:
    text = "#define A 1 /* one */\n#define F(x) (x)\n# define MASK (A | \\\n\tBIT(3))\n\tmov $A, %eax\n"
    assert asm.defines(text) == {"A": ("1", 1), "MASK": ("(A | BIT(3))", 3)}


def test_a_constant_is_evaluated_through_names_bit_macros_and_suffixes() -> None:
    names = {
        "R10": ("BIT(10)", "h", 1), "R11": ("_BITUL(11)", "h", 2), "MASK": ("(R10 | R11 | BIT_ULL(12))", "h", 3),
        "LEAF": ("0x0UL", "h", 4), "LOOP": ("LOOP + 1", "h", 5), "CAST": ("((u64)1)", "h", 6),
    }  # fmt: skip
    assert constants.value("MASK", names) == 0x1C00
    assert constants.value("LEAF", names) == 0
    assert constants.value("_AC(1, UL) << 63", names) == 1 << 63
    assert constants.value("GENMASK(15, 10) | BIT(3)", names) == 0xFC08
    assert constants.value("LOOP", names) is None  # defined in terms of itself: no value
    assert constants.value("CAST", names) is None  # a cast is not an expression of the bounded parser
    assert constants.value("BIT(99999999999)", names) is None  # beyond 64 bits
    assert constants.used("MASK", names) == {("h", 1), ("h", 2), ("h", 3)}


def _walk(body: str) -> asmflow.Walk:
    facts = asm.extract("x.S", ("SYM_FUNC_START(f)\n" + body + "SYM_FUNC_END(f)\n").encode())
    variant = asmflow.Expander(facts.macros, CROSSING).expand(facts.functions[0])
    return asmflow.walk(variant, CROSSING)


def test_values_follow_moves_the_stack_and_the_call() -> None:
    walk = _walk(
        "\tmov %rdi, %rax\n\tpushq %rsi\n\tmovq TDX_MODULE_rsi(%rsi), %rsi\n\tmovq TDX_MODULE_rdi(%rsi), %rdi\n"
        "\tmovl $7, %ecx\n\ttdcall\n\txchgq %rsi, (%rsp)\n\tmovq %rdi, TDX_MODULE_rdi(%rsi)\n"
        "\tpopq TDX_MODULE_rsi(%rsi)\n\tRET\n"
    )
    (call,) = walk.calls
    assert (call.holds("rax"), call.holds("rsi"), call.holds("rdi"), call.holds("rcx")) == (
        "orig:rdi", "slot:rsi", "stray:rdi", "const:7",
    )  # fmt: skip
    stores = {(s.field, s.value, s.base_value) for s in walk.stores}
    assert stores == {("rdi", "ret:rdi", "orig:rsi"), ("rsi", "ret:rsi", "orig:rsi")}
    (out,) = walk.exits
    assert out.phase == "after" and out.stored == {"rdi", "rsi"}


def test_the_vmfailinvalid_branch_and_the_fault_path_are_not_paths_where_the_call_ran() -> None:
    walk = _walk(
        "\tmovq TDX_MODULE_rcx(%rsi), %rcx\n.Lcall:\n\tseamcall\n\tjc .Lfail\n\tmovq %rcx, TDX_MODULE_rcx(%rsi)\n"
        "\tRET\n.Lfail:\n\tRET\n.Ltrap:\n\torq %rdi, %rax\n\tRET\n\t_ASM_EXTABLE(.Lcall, .Ltrap)\n"
    )
    assert sorted(out.phase for out in walk.exits) == ["after", "failed", "failed"]
    (entry,) = walk.entries
    assert not entry.delivers_trap and walk.fault_reads == ((entry.at, len(walk.steps) - 3),)
