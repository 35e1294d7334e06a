"""hygiene/whitespace: lines a patch adds are clean of whitespace errors.

Lines a patch adds have no trailing whitespace, no space before a tab in the indent,
and (in C and assembly) a tab indent rather than spaces.
"""

from __future__ import annotations

import re

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import PatchRule
from patchkit.series.model import Patch

RULE = PatchRule("hygiene/whitespace")


@RULE.checker
def check(patch: Patch, diff: str, settings: Settings) -> list[Hit]:
    return added_whitespace(diff)


def added_whitespace(diff_text: str) -> list[Hit]:
    """Trailing whitespace, space before tab, and spaces instead of a tab indent, on added lines."""
    hits: list[Hit] = []
    path = ""
    new_line = 0
    for raw in diff_text.splitlines():
        if raw.startswith("+++ "):
            path = raw[6:] if raw.startswith("+++ b/") else ""
            continue
        if raw.startswith("@@"):
            m = re.match(r"^@@ -\d+(?:,\d+)? \+(\d+)", raw)
            new_line = int(m.group(1)) if m else 0
            continue
        if not path or raw.startswith(("diff ", "index ", "--- ", "new file", "deleted file", "similarity")):
            continue
        if raw.startswith("+"):
            text = raw[1:]
            if text != text.rstrip():
                hits.append(RULE.hit(path, new_line, "trailing whitespace on an added line"))
            elif " \t" in text[: len(text) - len(text.lstrip())]:
                hits.append(RULE.hit(path, new_line, "space before tab in the indent of an added line"))
            elif path.endswith((".c", ".h", ".S")) and text.startswith(" " * 8) and not text.lstrip().startswith("*"):
                hits.append(RULE.hit(path, new_line, "added line indented with spaces instead of tabs"))
            new_line += 1
        elif raw.startswith(" ") or raw == "":
            new_line += 1
    return hits
