"""A small bounded integer expression parser: ``.if`` conditions in assembly and the conditions in lint.yaml.

Both come from text patchkit does not control (a patched ``.S`` file, a project's configuration), so
nothing here calls ``eval`` and every step is bounded: at most :data:`MAX_TEXT` characters, nesting
at most :data:`MAX_DEPTH` deep, and every value (literals, names and results) within 64 bits
(``|v| < 2**64``, shift counts 0..64). ``.if 1<<99999999999`` is :class:`OutOfBounds`, never a huge
integer.

Grammar, with C's precedence (lowest first)::

    ||   &&   |   ^   &   == !=   < <= > >=   << >>   + -   * / %   unary ! ~ - +   (...) integer name

Integers are written as C and GNU as write them (``42``, ``0x2a``, ``0b101010``, ``052``). With
``words=True`` (the lint.yaml conditions) ``and``, ``or`` and ``not`` stand for ``&&``, ``||`` and ``!``.
Comparisons and logical operators give 1 or 0; ``&&`` and ``||`` only evaluate their right side when
they need it. Division truncates toward zero, as in C.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_TEXT = 512
MAX_DEPTH = 32
LIMIT = 1 << 64  # every value v satisfies -LIMIT < v < LIMIT
MAX_SHIFT = 64


class ExprError(ValueError):
    """The expression has no value: see the subclasses for why."""


class Unknown(ExprError):
    """A name that has no value (a symbol, a parameter that was not given)."""


class Unreadable(ExprError):
    """Not an expression of this grammar (a string comparison, a stray character, a missing operand)."""


class OutOfBounds(ExprError):
    """Too long, nested too deep, or a value beyond 64 bits (a literal, a shift, a product, division by zero)."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>0[xX][0-9a-fA-F]+|0[bB][01]+|\d+)(?![\w.])|(?P<name>[A-Za-z_.$][\w.$]*)"
    r"|(?P<op>\|\||&&|<<|>>|<=|>=|==|!=|[-+*/%&|^~!<>()]))"
)
_WORDS = {"and": "&&", "or": "||", "not": "!"}
_BINARY: tuple[tuple[str, ...], ...] = (
    ("||",),
    ("&&",),
    ("|",),
    ("^",),
    ("&",),
    ("==", "!="),
    ("<", "<=", ">", ">="),
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
)


@dataclass(frozen=True)
class Node:
    """One node of a parsed expression: ``op`` is "int", "name", a unary ("u-", "u+", "!", "~") or a binary
    operator; ``value`` holds the integer or the name."""

    op: str
    left: Node | None = None
    right: Node | None = None
    value: int | str = 0


def _literal(text: str) -> int:
    digits = text[2:] if text[:2].lower() in ("0x", "0b") else text
    if len(digits) > 64:  # more digits than 64 bits take in any base: refused before int() sees them
        raise OutOfBounds(f"the literal {text[:24]}... is beyond 64 bits")
    if text[:2].lower() == "0x":
        value = int(digits, 16)
    elif text[:2].lower() == "0b":
        value = int(digits, 2)
    elif len(text) > 1 and text[0] == "0":
        if not re.fullmatch(r"[0-7]+", text):
            raise Unreadable(f"{text} is not an octal number")
        value = int(text, 8)
    else:
        value = int(text)
    return _bounded(value)


def _bounded(value: int) -> int:
    if not -LIMIT < value < LIMIT:
        raise OutOfBounds("a value beyond 64 bits")
    return value


def literal(text: str) -> int | None:
    """``text`` as one integer literal within 64 bits (an optional leading minus), else None."""
    stripped = text.strip()
    negative = stripped.startswith("-")
    body = stripped[1:] if negative else stripped
    if not re.fullmatch(r"0[xX][0-9a-fA-F]+|0[bB][01]+|\d+", body):
        return None
    try:
        value = _literal(body)
    except ExprError:
        return None
    return -value if negative else value


class _Parser:
    def __init__(self, text: str, words: bool) -> None:
        if len(text) > MAX_TEXT:
            raise OutOfBounds(f"longer than {MAX_TEXT} characters")
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        end = len(text.rstrip())
        while pos < end:
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise Unreadable(f"unexpected {text[pos:].strip()[:20]!r}")
            pos = m.end()
            if m.group("num") is not None:
                self.tokens.append(("num", m.group("num")))
            elif m.group("name") is not None:
                name = m.group("name")
                if words and name in _WORDS:
                    self.tokens.append(("op", _WORDS[name]))
                else:
                    self.tokens.append(("name", name))
            else:
                self.tokens.append(("op", m.group("op")))
        self.pos = 0
        self.depth = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise Unreadable("empty")
        node = self._binary(0)
        if self.pos != len(self.tokens):
            raise Unreadable(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise OutOfBounds(f"nested deeper than {MAX_DEPTH}")

    def _binary(self, level: int) -> Node:
        if level == len(_BINARY):
            return self._unary()
        node = self._binary(level + 1)
        while (token := self._peek()) is not None and token[0] == "op" and token[1] in _BINARY[level]:
            self.pos += 1
            node = Node(token[1], node, self._binary(level + 1))
        return node

    def _unary(self) -> Node:
        token = self._peek()
        if token is None:
            raise Unreadable("an operand is missing")
        kind, text = token
        self.pos += 1
        if kind == "op" and text in ("!", "~", "-", "+"):
            self._enter()
            operand = self._unary()
            self.depth -= 1
            return Node("u" + text if text in "-+" else text, operand)
        if kind == "op" and text == "(":
            self._enter()
            inner = self._binary(0)
            self.depth -= 1
            if self._peek() != ("op", ")"):
                raise Unreadable("a ')' is missing")
            self.pos += 1
            return inner
        if kind == "num":
            return Node("int", value=_literal(text))
        if kind == "name":
            return Node("name", value=text)
        raise Unreadable(f"unexpected {text!r}")


@functools.lru_cache(maxsize=2048)
def parse(text: str, *, words: bool = False) -> Node:
    """The parsed expression (cached by text); an :class:`ExprError` when it is not one."""
    return _Parser(text, words).parse()


def evaluate(text: str, names: Mapping[str, int] | None = None, *, words: bool = False) -> int:
    """The value of ``text`` with ``names`` bound; :class:`Unknown`, :class:`Unreadable` or
    :class:`OutOfBounds` when it has none."""
    return _value(parse(text, words=words), names or {})


def _value(node: Node, names: Mapping[str, int]) -> int:
    op = node.op
    if op == "int":
        assert isinstance(node.value, int)
        return node.value
    if op == "name":
        name = str(node.value)
        if name not in names:
            raise Unknown(f"{name} has no value")
        return _bounded(names[name])
    assert node.left is not None
    left = _value(node.left, names)
    if node.right is None:
        if op == "!":
            return int(not left)
        if op == "~":
            return _bounded(~left)
        return _bounded(-left if op == "u-" else left)
    if op == "&&":
        return int(bool(left) and bool(_value(node.right, names)))
    if op == "||":
        return int(bool(left) or bool(_value(node.right, names)))
    right = _value(node.right, names)
    return _bounded(_binary(op, left, right))


def _binary(op: str, a: int, b: int) -> int:
    if op in ("<<", ">>"):
        if not 0 <= b <= MAX_SHIFT:
            raise OutOfBounds(f"a shift by {b}")
        return a << b if op == "<<" else a >> b
    if op in ("/", "%"):
        if b == 0:
            raise OutOfBounds("division by zero")
        quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)  # C truncates toward zero
        return quotient if op == "/" else a - quotient * b
    return _ARITHMETIC[op](a, b)


_ARITHMETIC: dict[str, Callable[[int, int], int]] = {
    "|": operator.or_, "^": operator.xor, "&": operator.and_, "+": operator.add, "-": operator.sub,
    "*": operator.mul, "==": lambda a, b: int(a == b), "!=": lambda a, b: int(a != b),
    "<": lambda a, b: int(a < b), "<=": lambda a, b: int(a <= b), ">": lambda a, b: int(a > b),
    ">=": lambda a, b: int(a >= b),
}  # fmt: skip
