"""hygiene/body-wrap: body lines are wrapped at ``width`` columns.

Body lines are wrapped at ``width`` columns; quoted output, logs and long URLs are left
as they are.
"""

from __future__ import annotations

import re

from patchkit.lint import options
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import PatchRule
from patchkit.series.model import Patch

WIDTH = options.integer("width", 75, "the longest body line, in characters (indented lines and long URLs excepted)")
RULE = PatchRule("hygiene/body-wrap", options=(WIDTH,), part="body")


@RULE.checker
def check(patch: Patch, diff: str, settings: Settings) -> list[Hit]:
    if not patch.body.strip():
        return []  # hygiene/body-missing says so
    width = settings[WIDTH]
    hits = []
    for number, line in enumerate(patch.body.splitlines(), start=1):
        if len(line) <= width or line.startswith((" ", "\t")) or re.search(r"https?://\S{40,}", line):
            continue  # quoted output, logs and long URLs are left as they are
        hits.append(RULE.hit(None, 0, f"body line {number} is {len(line)} characters (wrap at {width}): "
                             f"'{line[:40]}...'"))  # fmt: skip
    return hits
