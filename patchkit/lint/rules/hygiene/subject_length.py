"""hygiene/subject-length: the subject fits in a short line (``max_length`` characters)."""

from __future__ import annotations

from patchkit.lint import options
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import PatchRule
from patchkit.series.model import Patch

MAX_LENGTH = options.integer("max_length", 75, "the longest subject, in characters")
RULE = PatchRule("hygiene/subject-length", options=(MAX_LENGTH,), part="subject")


@RULE.checker
def check(patch: Patch, diff: str, settings: Settings) -> list[Hit]:
    limit = settings[MAX_LENGTH]
    if len(patch.subject) <= limit:
        return []
    return [RULE.hit(None, 0, f"subject is {len(patch.subject)} characters (at most {limit})")]
