"""tdx/spec-constants: TDX leaf numbers and status codes have the values their spec names fix.

Every ``#define`` of a name in the pack's table (``spec_constants.table.yaml``: TDCALL and SEAMCALL leaves,
TDG.VP.VMCALL sub-functions and status codes, TDX status codes) is evaluated, other definitions of the state
and the usual bit macros (``BIT``, ``GENMASK_ULL``, ``_BITUL``, ``_UL``) included, by the bounded expression
parser, and compared with the table.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchkit.lint import expr
from patchkit.lint.model import Hit
from patchkit.lint.options import Option, Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import TdxState
from patchkit.util.yamldata import load_file

TABLE = Path(__file__).with_name("spec_constants.table.yaml")
_VALUE = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^(0[xX][0-9a-fA-F]+|[0-9]+)$"}]}
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["constants"],
    "properties": {
        "helpers": {"type": "object", "additionalProperties": _VALUE},
        "constants": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "value", "spec"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]*$"},
                    "value": _VALUE,
                    "spec": {"type": "string"},
                },
            },
        },
    },
}

EXTRA: Option[dict[str, int]] = Option(
    "constants",
    "more names and the values their spec fixes, checked beside the shipped table (spec_constants.table.yaml)",
    "mapping: macro name -> integer",
    {},
    {"type": "object", "propertyNames": {"pattern": "^[A-Z_][A-Z0-9_]*$"}, "additionalProperties": _VALUE},
    lambda value: {str(k): _int(v) for k, v in value.items()},
    merge="add",
)
RULE: StateRule[TdxState] = StateRule("tdx/spec-constants", options=(EXTRA,))


@dataclass(frozen=True)
class Constant:
    name: str
    value: int
    spec: str


def _int(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 0)


@functools.lru_cache(maxsize=1)
def table() -> tuple[dict[str, Constant], dict[str, int]]:
    """The shipped table: name -> constant, and the helper values."""
    data = load_file(TABLE, _SCHEMA, what="spec constants").data
    constants = {c["name"]: Constant(c["name"], _int(c["value"]), c["spec"]) for c in data["constants"]}
    helpers = {str(k): _int(v) for k, v in (data.get("helpers") or {}).items()}
    return constants, helpers


def constants(settings: Settings) -> dict[str, Constant]:
    def make() -> dict[str, Constant]:
        shipped, _helpers = table()
        extra = {n: Constant(n, v, n) for n, v in settings[EXTRA].items()}
        return {**shipped, **extra}

    return settings.derived("tdx/spec-constants table", make)


def spec_names(settings: Settings) -> tuple[str, ...]:
    """The names whose definitions the pack reads (its file selection)."""
    return tuple(sorted(constants(settings)))


_COMMENT = re.compile(r"/\*.*?\*/|//.*$", re.S)
_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b")
_CAST = re.compile(r"\(\s*(?:u8|u16|u32|u64|s32|s64|__u32|__u64|int|long|unsigned(?: int| long(?: long)?)?)\s*\)")
_CALL = re.compile(r"\b(BIT|BIT_ULL|_BITUL|_BITULL|GENMASK|GENMASK_ULL|_UL|_ULL|UL|ULL|_AC)\s*\(([^()]*)\)")
MAX_DEPTH = 8


def _macros(text: str) -> str:
    for _ in range(16):
        m = _CALL.search(text)
        if m is None:
            return text
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
        if name in ("BIT", "BIT_ULL", "_BITUL", "_BITULL") and len(args) == 1:
            new = f"(1 << ({args[0]}))"
        elif name in ("GENMASK", "GENMASK_ULL") and len(args) == 2:
            new = f"(((1 << (({args[0]}) - ({args[1]}) + 1)) - 1) << ({args[1]}))"
        else:
            new = f"({args[0]})"
        text = text[: m.start()] + new + text[m.end() :]
    return text


class _Values:
    """Values of the state's definitions, evaluated on demand (each at most once, depth-bounded)."""

    def __init__(self, state: TdxState, helpers: dict[str, int]) -> None:
        self.texts: dict[str, str] = {}
        for _path, facts in sorted(state.c.items()):
            for name, (text, _line) in facts.defines.items():
                self.texts.setdefault(name, text)
        self.helpers = helpers
        self.known: dict[str, int | None] = {}

    def evaluate(self, text: str, depth: int = 0) -> int | None:
        text = _CAST.sub(" ", _SUFFIX.sub(r"\1", _macros(_COMMENT.sub(" ", text)))).strip()
        if not text or depth > MAX_DEPTH:
            return None
        names: dict[str, int] = {}
        for word in set(re.findall(r"\b[A-Za-z_]\w*\b", text)):
            value = self.value(word, depth + 1)
            if value is None:
                return None
            names[word] = value
        try:
            return expr.evaluate(text, names)
        except expr.ExprError:
            return None

    def value(self, name: str, depth: int) -> int | None:
        if name in self.known:
            return self.known[name]
        self.known[name] = None  # a definition that refers to itself has no value
        found = self.evaluate(self.texts[name], depth) if name in self.texts else self.helpers.get(name)
        self.known[name] = found
        return found


def _shown(value: int) -> str:
    return str(value) if value < 0x10000 else f"{value:#x}"


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    wanted = constants(settings)
    values: _Values | None = None
    for path, facts in sorted(state.c.items()):
        for name, (text, line) in sorted(facts.defines.items()):
            constant = wanted.get(name)
            if constant is None:
                continue
            values = values or _Values(state, table()[1])
            found = values.evaluate(text)
            if found is None or found == constant.value:
                continue
            hits.append(
                RULE.hit(path, line, f"{name} is {_shown(found)}, but {constant.spec} is {_shown(constant.value)}")
            )
    return hits
