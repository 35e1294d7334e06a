"""hygiene/trailer-order: trailers come in the order the kernel's process asks for.

Fixes: first, what credits others before the first Signed-off-by, a Co-developed-by
followed at once by that person's Signed-off-by.
"""

from __future__ import annotations

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import PatchRule
from patchkit.lint.rules.hygiene.trailers import parse, same_person
from patchkit.series.model import Patch

RULE = PatchRule("hygiene/trailer-order", part="trailers")
_BEFORE_SOB = ("fixes", "reported-by", "closes", "suggested-by", "originally-by")


@RULE.checker
def check(patch: Patch, diff: str, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    parsed = parse(patch.trailers)
    first_sob = next((i for i, (k, _v) in enumerate(parsed) if k == "signed-off-by"), None)
    for i, (key, value) in enumerate(parsed):
        if key in _BEFORE_SOB and first_sob is not None and i > first_sob:
            hits.append(RULE.hit(None, 0, f"'{key}' trailer should come before the first Signed-off-by"))
        if key == "fixes" and any(k != "fixes" for k, _v in parsed[:i]):
            hits.append(RULE.hit(None, 0, "Fixes: should be the first trailer"))
        if key == "co-developed-by":
            nxt = parsed[i + 1] if i + 1 < len(parsed) else None
            if nxt is None or nxt[0] != "signed-off-by" or not same_person(nxt[1], value):
                hits.append(RULE.hit(None, 0, f"Co-developed-by: {value} must be followed at once by that person's "
                                     "Signed-off-by"))  # fmt: skip
    return hits
