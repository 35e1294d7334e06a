"""tdx/removed-symbol-users: what a patch removes has no users left.

The structs, functions, macros and offsets a patch removes (from its removed lines,
and not defined again) have no users left (whole-word search, comments excluded). A use that
tdx/offset-struct-matches-pointer already reports (an offset on another struct's pointer, blamed on the
patch that wrote it) is reported here too, on the patch that removes the offset: that patch breaks the
build at that line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import HistoryRule, PatchChange
from patchkit.lint.rules.tdx import offset_struct_matches_pointer
from patchkit.lint.rules.tdx.facts import TdxState, pointer_mismatches

_REMOVED_DEFS = (
    re.compile(r"^\s*struct\s+(\w+)\s*\{"),
    re.compile(r"^\s*#\s*define\s+(\w+)"),
    re.compile(r"^\s*SYM_[A-Z_]*START[A-Z_]*\(\s*(\w+)"),
    re.compile(r"^\s*(?:OFFSET|DEFINE)\(\s*(\w+)\s*,"),
    re.compile(r"^\s*\.macro\s+(\w+)"),
    re.compile(
        r"^(?:static\s+|extern\s+|inline\s+|__always_inline\s+|noinstr\s+|const\s+)*"
        r"(?:unsigned\s+|signed\s+|struct\s+|enum\s+)?\w+[\s*]+(?:__\w+\s+)*\**(\w+)\s*\("
    ),
)
_NOT_NAMES = {"if", "while", "for", "switch", "return", "sizeof", "defined"}
_HEADER_GUARD = re.compile(r"^_*[A-Z0-9_]+_H_*$")


def defined_names(line: str) -> list[str]:
    names = []
    for pattern in _REMOVED_DEFS:
        m = pattern.match(line)
        if m and m.group(1) not in _NOT_NAMES:
            names.append(m.group(1))
            break
    return names


@functools.lru_cache(maxsize=64)  # read for the words to search and again by the check, per patch
def removed_symbols(diff_text: str) -> tuple[tuple[str, str], ...]:
    """(symbol, file) for definitions on removed lines of a unified diff that no added line defines again."""
    removed: dict[str, str] = {}
    added: set[str] = set()
    path = ""
    for line in diff_text.splitlines():
        if line.startswith("+++ ") or line.startswith("--- "):
            if line.startswith("--- "):
                path = line[6:] if line.startswith("--- a/") else path
            continue
        if not path.endswith((".c", ".h", ".S")):
            continue
        if line.startswith("-"):
            for name in defined_names(line[1:]):
                if not _HEADER_GUARD.match(name):
                    removed.setdefault(name, path)
        elif line.startswith("+"):
            added.update(defined_names(line[1:]))
    return tuple((name, p) for name, p in removed.items() if name not in added)


def _words(diff_text: str) -> list[str]:
    return [name for name, _p in removed_symbols(diff_text)]


RULE: HistoryRule[TdxState] = HistoryRule("tdx/removed-symbol-users", words=_words)


def _in_comment(text: str, name: str) -> bool:
    stripped = text.lstrip()
    if stripped.startswith(("*", "/*", "//")):
        return True
    pos = re.search(r"\b" + re.escape(name) + r"\b", text)
    if pos is None:
        return True
    before = text[: pos.start()]
    return before.rfind("/*") > before.rfind("*/") or "//" in before


def removed_symbol_users(
    removed: Sequence[tuple[str, str]],
    lines: Iterable[tuple[str, int, str]],
    patch: int,
    wrong: Mapping[tuple[str, int], str] | None = None,
) -> list[Hit]:
    """Uses of a symbol patch ``patch`` removed, among ``lines`` ((path, line, text) of the state after it).
    ``wrong``: (path, line) -> offset, for the uses already reported as an offset on another struct's pointer
    (the message says so: the removal is what breaks the build there, the use was wrong before it)."""
    hits_by_symbol: dict[str, list[tuple[str, int, str]]] = {}
    if removed:
        symbol = re.compile(r"\b(" + "|".join(re.escape(n) for n, _p in removed) + r")\b")
        for path, number, text in lines:
            for m in symbol.finditer(text):
                hits_by_symbol.setdefault(m.group(1), []).append((path, number, text))
    out: list[Hit] = []
    for name, where in removed:
        hits = hits_by_symbol.get(name, [])
        if any(name in defined_names(text) for _p, _l, text in hits):
            continue  # still (or again) defined somewhere: moved, not removed
        for path, line, text in hits:
            if _in_comment(text, name):
                continue
            also = ""
            if (wrong or {}).get((path, line)) == name:
                also = (
                    f" (this use also indexes another struct's pointer with {name}, reported by "
                    f"{offset_struct_matches_pointer.RULE.id} where it was written)"
                )
            out.append(RULE.hit(path, line, f"uses {name}, which patch {patch} removed (from {where}) and nothing "
                                f"defines any more: the build breaks here{also}"))  # fmt: skip
    return out


@RULE.checker
def check(change: PatchChange[TdxState], settings: Settings) -> list[Hit]:
    removed = removed_symbols(change.diff)
    if not removed:
        return []
    # A use that is also an offset on another struct's pointer was reported as that where it was written (the
    # cause of the wrong code); the patch that removes the offset still breaks the build there, and is told so.
    wrong = {}
    if offset_struct_matches_pointer.RULE.id not in settings.disabled:
        wrong = {(m.path, m.line): m.symbol for m in pointer_mismatches(change.state)}
    return removed_symbol_users(removed, change.uses([name for name, _p in removed]), change.number, wrong)
