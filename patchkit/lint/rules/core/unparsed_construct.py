"""parse/unparsed-construct: what a rule pack could not read, so cannot check, is reported, never passed over."""

from __future__ import annotations

from collections.abc import Sequence

from patchkit.lint.model import Hit
from patchkit.lint.pack import Unparsed
from patchkit.lint.rule import Rule

RULE = Rule("parse/unparsed-construct")


def report(unparsed: Sequence[Unparsed]) -> list[Hit]:
    """One finding per construct a pack says it could not read (:meth:`patchkit.lint.pack.TreePack.unparsed`)."""
    return [RULE.hit(u.path, u.line, u.message, u.identity, u.evidence) for u in unparsed]
