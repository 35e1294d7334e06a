"""tdx/grouping-comment-class: grouping comments in an args struct match the SysV class of its fields.

A grouping comment in an args struct ("callee-saved", "callee-clobbered") agrees
with the SysV class of the fields under it.
"""

from __future__ import annotations

import re

from patchkit.lint.lang.x86 import canonical, sysv_class
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule
from patchkit.lint.rules.tdx.facts import TdxState

RULE: StateRule[TdxState] = StateRule("tdx/grouping-comment-class")
_CLOBBERED_WORDS = re.compile(r"callee[- ]clobbered|caller[- ]saved|scratch|\bvolatile")
_SAVED_WORDS = re.compile(r"callee[- ]saved|non-volatile|preserved")
_REG_WORD = re.compile(r"\b(r[a-z0-9]{1,3}|e[a-z]{2})\b")


@RULE.checker
def check(state: TdxState, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    for name, (path, sdef) in sorted(state.structs().items()):
        if name not in state.args_structs:
            continue
        for group in sdef.groups:
            text = group.comment.lower()
            clobbered, saved = bool(_CLOBBERED_WORDS.search(text)), bool(_SAVED_WORDS.search(text))
            if clobbered == saved:
                continue
            want = "clobbered" if clobbered else "saved"
            named = {canonical(w) for w in _REG_WORD.findall(text)} - {None}
            comment = " ".join(group.comment.strip("/* \t\n").split())
            for fname in group.fields:
                reg = canonical(fname)
                if reg is None or reg in named:
                    continue
                actual = sysv_class(reg)
                if actual is not None and actual != want:
                    field_line = next((f.line for f in sdef.fields if f.name == fname), group.line)
                    cls = "callee-saved" if actual == "saved" else "callee-clobbered"
                    hits.append(RULE.hit(path, field_line, f"struct {name}: {fname} is {cls} (SysV) but sits under "
                                         f"the comment '{comment}'"))  # fmt: skip
    return hits
