"""The code side of a rule: one ``RULE`` per rule module, bound to the YAML beside it.

A rule module ``rules/<pack>/<name>.py`` declares ``RULE`` (its id, the options it reads, and for
findings about a patch's entry in series.yaml the part of the entry they concern) and its check:

- :class:`StateRule`: over the facts of one tree state (the pack's state object), run on the base and
  after every patch; blame compares the states.
- :class:`HistoryRule`: over the change one patch makes (its diff, and the uses of given words in the
  state after it), for what only the history shows (a symbol removed while still used).
- :class:`PatchRule`: over one patch's data and diff (subject, trailers, body, added lines).
- :class:`Rule`: a rule whose code the engine calls itself (suppressions, parse coverage, checkpatch).

Constructing a rule looks its YAML up at once, so a rule without a definition fails at import; a check
may only report its own id (checked as it runs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from patchkit.lint import definitions
from patchkit.lint.definitions import RuleError
from patchkit.lint.model import Hit
from patchkit.lint.options import Option, Settings
from patchkit.lint.severity import Severity
from patchkit.series.model import Patch

S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., list[Hit]])


class Rule:
    def __init__(
        self,
        rule_id: str,
        *,
        options: Sequence[Option[Any]] = (),
        part: str | Callable[[str], str | None] | None = None,
    ) -> None:
        self.definition = definitions.definition(rule_id)  # a RuleError now when the YAML is missing
        self.id = rule_id
        self.options = tuple(options)
        self._part = part

    def entry_part(self, rule_id: str) -> str | None:
        """For a finding on the patch's entry in series.yaml: the part of the entry it concerns ("subject",
        "trailers", "body", "suppress"), None for the entry as a whole."""
        return self._part(rule_id) if callable(self._part) else self._part

    def hit(
        self,
        path: str | None,
        line: int,
        message: str,
        identity: str | None = None,
        evidence: tuple[tuple[str, int], ...] = (),
        severity: Severity | None = None,
    ) -> Hit:
        return Hit(self.id, path, line, message, identity, evidence, severity)

    def own(self, hits: list[Hit], check: str) -> list[Hit]:
        """``hits`` after checking each is of this rule."""
        for hit in hits:
            if hit.rule != self.id and not self.definition.matches(hit.rule):
                raise RuleError(f"{check} ({self.id}) emitted {hit.rule}, which is another rule's id")
        return hits

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r})"


class _Checked(Rule, Generic[F]):
    """A rule whose check is the function decorated with :meth:`checker`."""

    _check: F | None = None

    def checker(self, fn: F) -> F:
        self._check = fn
        return fn

    def _fn(self) -> F:
        if self._check is None:
            raise RuleError(f"rule {self.id} declares no check (decorate it with @RULE.checker)")
        return self._check


class StateRule(_Checked[Callable[[S, Settings], list[Hit]]], Generic[S]):
    def run(self, state: S, settings: Settings) -> list[Hit]:
        return self.own(self._fn()(state, settings), "a state check")


@dataclass(frozen=True)
class PatchChange(Generic[S]):
    """What one patch changed, for a :class:`HistoryRule`."""

    number: int  # the patch
    diff: str  # its diff against the state before it
    state: S  # the pack's facts of the state after it
    # (path, line, text) of every line of the state after it that names one of the words (whole words), in the
    # pack's search paths and every file a patch has touched so far
    uses: Callable[[Sequence[str]], list[tuple[str, int, str]]]


class HistoryRule(_Checked[Callable[[PatchChange[S], Settings], list[Hit]]], Generic[S]):
    def __init__(self, rule_id: str, *, words: Callable[[str], list[str]], options: Sequence[Option[Any]] = ()) -> None:
        super().__init__(rule_id, options=options)
        self.words = words  # from one patch's diff: the words whose uses the check reads (found at the base once)

    def run(self, change: PatchChange[S], settings: Settings) -> list[Hit]:
        return self.own(self._fn()(change, settings), "a history check")


class PatchRule(_Checked[Callable[[Patch, str, Settings], list[Hit]]]):
    def run(self, patch: Patch, diff: str, settings: Settings) -> list[Hit]:
        return self.own(self._fn()(patch, diff, settings), "a patch check")
