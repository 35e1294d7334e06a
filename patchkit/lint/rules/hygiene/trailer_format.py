"""hygiene/trailer-format: every trailer is well formed for its key.

Every trailer is ``Key: value``; people as ``Full Name <email>``, Fixes: with a
commit id and subject, Link:/Closes: with a URL.
"""

from __future__ import annotations

import re

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import PatchRule
from patchkit.lint.rules.hygiene.trailers import TRAILER
from patchkit.series.model import Patch

RULE = PatchRule("hygiene/trailer-format", part="trailers")
_PERSON_TRAILERS = {
    "signed-off-by", "co-developed-by", "reviewed-by", "acked-by", "tested-by", "reported-by",
    "suggested-by", "originally-by", "reviewed-and-tested-by", "cc",
}  # fmt: skip
_PERSON = re.compile(r"^[^<>]+ <[^<>@\s]+@[^<>\s]+>(\s*#.*)?$|^<[^<>@\s]+@[^<>\s]+>$")
_FIXES = re.compile(r'^[0-9a-f]{12,40} \(".+"\)$')


@RULE.checker
def check(patch: Patch, diff: str, settings: Settings) -> list[Hit]:
    hits: list[Hit] = []
    for trailer in patch.trailers:
        m = TRAILER.match(trailer)
        if m is None:
            hits.append(RULE.hit(None, 0, f"trailer '{trailer}' is not 'Key: value'"))
            continue
        key, value = m.group("key").lower(), m.group("value").strip()
        if key in _PERSON_TRAILERS and not _PERSON.match(value):
            hits.append(RULE.hit(None, 0, f"trailer '{trailer}' should name 'Full Name <email>'"))
        elif key == "fixes" and not _FIXES.match(value):
            hits.append(RULE.hit(None, 0, f"trailer '{trailer}' should be 'Fixes: <12+ hex digits> (\"subject\")'"))
        elif key in ("link", "closes") and not value.startswith(("http://", "https://")):
            hits.append(RULE.hit(None, 0, f"trailer '{trailer}' should carry a URL"))
    return hits
