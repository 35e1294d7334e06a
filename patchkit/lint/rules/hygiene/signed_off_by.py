"""hygiene/signed-off-by: the patch has a Signed-off-by, and one of them is the author's."""

from __future__ import annotations

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import PatchRule
from patchkit.lint.rules.hygiene.trailers import parse, same_person
from patchkit.series.model import Patch

RULE = PatchRule("hygiene/signed-off-by", part="trailers")


@RULE.checker
def check(patch: Patch, diff: str, settings: Settings) -> list[Hit]:
    sobs = [v for k, v in parse(patch.trailers) if k == "signed-off-by"]
    author = patch.author.ident()
    if not sobs:
        return [RULE.hit(None, 0, "no Signed-off-by trailer")]
    if not any(same_person(s, author) for s in sobs):
        return [RULE.hit(None, 0, f"no Signed-off-by matches the author {author}")]
    return []
