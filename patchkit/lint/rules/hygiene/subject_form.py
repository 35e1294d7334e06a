"""hygiene/subject-form: the subject reads ``area: Summary``, the summary capitalised and without a period."""

from __future__ import annotations

import re

from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import PatchRule
from patchkit.series.model import Patch

RULE = PatchRule("hygiene/subject-form", part="subject")
_SUBJECT = re.compile(r"^(?P<area>[\w.+/,\- ]*[\w.+]): (?P<summary>\S.*)$")


@RULE.checker
def check(patch: Patch, diff: str, settings: Settings) -> list[Hit]:
    m = _SUBJECT.match(patch.subject)
    if m is None:
        return [RULE.hit(None, 0, f"subject '{patch.subject}' is not of the form 'area: Summary'")]
    hits = []
    summary = m.group("summary")
    if not summary[0].isupper() and not summary[0].isdigit() and not summary.startswith("__"):
        hits.append(RULE.hit(None, 0, f"summary '{summary}' should start with a capital letter"))
    if summary.endswith("."):
        hits.append(RULE.hit(None, 0, f"summary '{summary}' should not end with a period"))
    return hits
