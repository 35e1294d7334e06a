"""A small tokenizer for the kernel's GNU assembly (.S) files: statements, macros and functions.

There is no GNU-as grammar for tree-sitter on PyPI that works offline except the 184 MB
tree-sitter-language-pack 0.13 bundle, whose ``asm`` grammar puts symbolic memory displacements
(``TDX_MODULE_rcx(%rsi)``) and every ``\\host`` macro argument into ERROR nodes: what rules over
assembly need most. A line tokenizer that knows AT&T operands, labels, ``.macro``/``.if`` and the
kernel's ``SYM_FUNC_*`` and ``_ASM_EXTABLE*`` macros says more, exactly, in a few hundred lines.

Preprocessor lines (``#include``, ``#ifdef``) are skipped, both sides of a cpp conditional are read;
object-like ``#define`` lines are kept as :attr:`AsmFacts.defines` (a constant such as a register
bitmap may be defined in the ``.S`` file that uses it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LABEL = re.compile(r"^\s*([A-Za-z_.$\\@0-9][\w.$\\@]*):(?!:)")
_CMACRO = re.compile(r"^([A-Za-z_]\w*)\s*\((.*)\)\s*$")
_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)\b(?!\()\s*(.*)$")
_MEM = re.compile(r"^(?P<disp>[^()]*)\((?P<base>%\w+)?(?:,\s*(?P<index>%\w+))?(?:,\s*\d+)?\)$")


@dataclass(frozen=True)
class Item:
    """One statement: a label, an instruction, a directive or a C-style macro call."""

    line: int
    kind: str  # "label" | "insn" | "directive" | "cmacro"
    name: str  # label name, mnemonic (lower case), directive (".if") or macro name
    operands: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Macro:
    name: str
    path: str
    line: int
    params: tuple[tuple[str, str | None, bool], ...]  # (name, default, required)
    body: tuple[Item, ...]
    end: int = 0  # the line of its ``.endm``


@dataclass(frozen=True)
class Function:
    name: str
    path: str
    line: int
    body: tuple[Item, ...]
    end: int = 0  # the line of its ``SYM_*_END``


@dataclass
class AsmFacts:
    path: str
    items: list[Item] = field(default_factory=list)  # every statement, macro bodies included
    macros: dict[str, Macro] = field(default_factory=dict)
    functions: list[Function] = field(default_factory=list)
    defines: dict[str, tuple[str, int]] = field(default_factory=dict)  # object-like #define: name -> (value, line)


def _strip_comments(text: str) -> list[str]:
    """Lines with /* */ and // comments blanked (line numbers kept)."""
    out: list[str] = []
    in_block = False
    for raw in text.split("\n"):
        line = ""
        i = 0
        while i < len(raw):
            if in_block:
                end = raw.find("*/", i)
                if end < 0:
                    i = len(raw)
                else:
                    in_block = False
                    i = end + 2
                continue
            start = raw.find("/*", i)
            slash = raw.find("//", i)
            if slash >= 0 and (start < 0 or slash < start):
                line += raw[i:slash]
                break
            if start < 0:
                line += raw[i:]
                break
            line += raw[i:start] + " "
            in_block = True
            i = start + 2
        out.append(line)
    return out


def defines(text: str) -> dict[str, tuple[str, int]]:
    """Object-like ``#define NAME value`` lines (continuations joined, comments dropped): name -> (value, line)."""
    out: dict[str, tuple[str, int]] = {}
    lines = _strip_comments(text)
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        while line.rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            line = line.rstrip()[:-1] + " " + lines[index]
        index += 1
        m = _DEFINE.match(line)
        if m is not None:
            out.setdefault(m.group(1), (" ".join(m.group(2).split()), number))
    return out


def split_operands(text: str) -> tuple[str, ...]:
    ops: list[str] = []
    depth = 0
    cur = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            ops.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        ops.append(cur.strip())
    return tuple(ops)


def tokenize(text: str) -> list[Item]:
    items: list[Item] = []
    continued = ""
    for number, line in enumerate(_strip_comments(text), start=1):
        stripped = line.strip()
        if continued:
            stripped = continued + " " + stripped
            continued = ""
        if stripped.endswith("\\") and not stripped.startswith("#"):
            continued = stripped[:-1]
            continue
        if not stripped or stripped.startswith("#"):
            continue
        for statement in stripped.split(";"):
            _statement(statement.strip(), number, items)
    return items


def _statement(stmt: str, number: int, items: list[Item]) -> None:
    while stmt:
        m = _LABEL.match(stmt)
        if m is None:
            break
        items.append(Item(number, "label", m.group(1), text=m.group(0)))
        stmt = stmt[m.end() :].strip()
    if not stmt:
        return
    cm = _CMACRO.match(stmt)
    if cm is not None and not stmt.startswith("."):
        items.append(Item(number, "cmacro", cm.group(1), split_operands(cm.group(2)), stmt))
        return
    head, _, rest = stmt.partition(" ")
    if "\t" in head:
        head, _, more = head.partition("\t")
        rest = more + " " + rest
    rest = rest.strip()
    if head.startswith("."):
        items.append(Item(number, "directive", head.lower(), (rest,) if rest else (), stmt))
    else:
        items.append(Item(number, "insn", head.lower() if head.islower() else head, split_operands(rest), stmt))


def _params(spec: str) -> tuple[tuple[str, str | None, bool], ...]:
    out: list[tuple[str, str | None, bool]] = []
    for token in re.split(r"[\s,]+", spec.strip()):
        if not token:
            continue
        name, _, default = token.partition("=")
        required = name.endswith(":req")
        name = name.split(":", 1)[0]
        out.append((name, default if "=" in token else None, required))
    return tuple(out)


def extract(path: str, src: bytes) -> AsmFacts:
    text = src.decode("utf-8", "replace")
    facts = AsmFacts(path=path, items=tokenize(text), defines=defines(text))
    items = facts.items
    i = 0
    while i < len(items):
        item = items[i]
        if item.kind == "directive" and item.name == ".macro" and item.operands:
            name, _, spec = item.operands[0].replace("\t", " ").partition(" ")
            body: list[Item] = []
            j = i + 1
            while j < len(items) and not (items[j].kind == "directive" and items[j].name in (".endm", ".endmacro")):
                body.append(items[j])
                j += 1
            end = items[j].line if j < len(items) else item.line
            facts.macros[name] = Macro(name, path, item.line, _params(spec), tuple(body), end)
            i = j + 1
            continue
        if item.kind == "cmacro" and item.name.startswith("SYM_") and "_START" in item.name and item.operands:
            fname = item.operands[0]
            body = []
            j = i + 1
            while j < len(items) and not (
                items[j].kind == "cmacro"
                and items[j].name.startswith("SYM_")
                and "_END" in items[j].name
                and items[j].operands[:1] == (fname,)
            ):
                body.append(items[j])
                j += 1
            end = items[j].line if j < len(items) else item.line
            facts.functions.append(Function(fname, path, item.line, tuple(body), end))
            i = j + 1
            continue
        i += 1
    return facts


def parse_mem(operand: str) -> tuple[str, str | None] | None:
    """``FOO_rcx(%rsi)`` -> (``FOO_rcx``, ``rsi``); None if not a memory operand."""
    m = _MEM.match(operand.strip())
    if m is None:
        return None
    base = m.group("base")
    return m.group("disp").strip(), (base.lstrip("%").lower() if base else None)
