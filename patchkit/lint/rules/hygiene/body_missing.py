"""hygiene/body-missing: the commit message has a body that says why."""

from __future__ import annotations

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import PatchRule
from patchkit.series.model import Patch

RULE = PatchRule("hygiene/body-missing", part="body")


@RULE.checker
def check(patch: Patch, diff: str, settings: Settings) -> list[Hit]:
    if patch.body.strip():
        return []
    return [RULE.hit(None, 0, "the commit message has no body explaining why")]
