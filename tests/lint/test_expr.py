"""The bounded expression parser (no eval): C's operators and precedence, names, and bounds that make a
hostile condition a clean error instead of a huge integer."""

from __future__ import annotations

import time

import pytest

from patchkit.lint import expr
from patchkit.lint.engine import lint_files


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1), ("0x2a", 42), ("0b101", 5), ("010", 8), ("-3", -3), ("~0", -1), ("!0", 1), ("!7", 0),
        ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("7 / 2", 3), ("-7 / 2", -3), ("-7 % 2", -1), ("1 << 4 >> 2", 4),
        ("6 & 3", 2), ("6 | 3", 7), ("6 ^ 3", 5), ("1 == 1", 1), ("1 != 1", 0), ("2 < 3", 1), ("3 <= 2", 0),
        ("1 || 0 && 0", 1), ("(1 || 0) && 0", 0), ("1 + 1 == 2 && 3 > 2", 1), ("1 << 63", 1 << 63),
        ("0 && unknown", 0), ("1 || unknown", 1),
    ],
)  # fmt: skip
def test_values_as_c_computes_them(text: str, value: int) -> None:
    assert expr.evaluate(text) == value


def test_names_and_the_words_of_lint_yaml() -> None:
    assert expr.evaluate("saved && ret", {"saved": 1, "ret": 1}) == 1
    assert expr.evaluate("saved and ret", {"saved": 1, "ret": 0}, words=True) == 0
    assert expr.evaluate("not saved or ret", {"saved": 0, "ret": 0}, words=True) == 1
    with pytest.raises(expr.Unknown, match="ret has no value"):
        expr.evaluate("saved && ret", {"saved": 1})
    with pytest.raises(expr.Unreadable):  # without words=True, 'and' is a name, not an operator
        expr.evaluate("1 and 1")


@pytest.mark.parametrize("text", ["", "1 +", "(1", "1)", "\\host", "rax,rax", "1 2", "08", "1f", "a = 1"])
def test_what_is_not_an_expression_is_unreadable(text: str) -> None:
    with pytest.raises(expr.Unreadable):
        expr.evaluate(text, {"a": 1})


@pytest.mark.parametrize(
    "text",
    [
        "1<<99999999999", "1 << 65", "1 >> -1", "0xffffffffffffffff + 1", "0xffffffffffffffff * 0xffffffffffffffff",
        "9" * 100, "1 / 0", "1 % 0", "(" * 40 + "1" + ")" * 40, "-" * 40 + "1", "1+" * 300 + "1",
    ],
)  # fmt: skip
def test_bounds_make_a_hostile_condition_a_clean_error_at_once(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(expr.OutOfBounds):
        expr.evaluate(text)
    assert time.perf_counter() - started < 0.5


def test_a_name_bound_beyond_64_bits_is_out_of_bounds() -> None:
    with pytest.raises(expr.OutOfBounds):
        expr.evaluate("x", {"x": 1 << 70})


@pytest.mark.parametrize(
    ("text", "value"), [("16", 16), ("-8", -8), ("0x10", 16), ("$16", None), ("8*2", None), ("9" * 30, None)]
)
def test_literal(text: str, value: int | None) -> None:
    assert expr.literal(text) == value


def _unparsed(condition: str) -> list[str]:
    source = f"SYM_FUNC_START(f)\n.if {condition}\n\tmovq TDX_MODULE_rcx(%rsi), %rcx\n.endif\n\tRET\nSYM_FUNC_END(f)\n"
    hits = lint_files({"arch/x86/coco/tdx/f.S": source})
    return [h.message for h in hits if h.rule == "parse/unparsed-construct"]


def test_an_if_beyond_the_bounds_is_an_unparsed_construct_not_memory_exhaustion() -> None:
    started = time.perf_counter()
    messages = _unparsed("1<<99999999999")
    assert messages == ["'.if 1<<99999999999' cannot be evaluated (a shift by 99999999999); the TDX rules read "
                        "its block as taken"]  # fmt: skip
    assert time.perf_counter() - started < 5


def test_an_if_on_a_symbol_or_arithmetic_is_read_quietly() -> None:
    assert _unparsed("SOME_SYMBOL") == []
    assert _unparsed("(2 + 2) * 4 == 16") == []
