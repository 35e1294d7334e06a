"""Options, each declared once by the rule (or rule pack) that reads it, as gitlint's ``options_spec``.

An :class:`Option` carries everything about a setting: its name, what it means, its default as
lint.yaml writes it, the JSON schema of a value (lint.yaml's schema is generated from these, see
:mod:`patchkit.lint.config`), how a project's value combines with the default (``replace``, or
``add``: a mapping updates the default, a list extends it) and how the written value becomes the
typed value the rule reads (``read``, run once per lint run; a :class:`ValueError` from it is a
data error naming lint.yaml's line). A rule reads ``settings[OPTION]`` and gets that typed value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Merge = Literal["replace", "add"]


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: each declaration is one option
class Option(Generic[T_co]):
    name: str
    description: str
    kind: str  # what a value is, in words, for the documentation ("boolean", "list of globs", ...)
    default: Any  # as lint.yaml writes it
    schema: Mapping[str, Any]  # JSON schema of one value
    read: Callable[[Any], T_co]  # the written value (default merged with the project's) as the rule reads it
    merge: Merge = "replace"

    def written(self, given: Mapping[str, Any]) -> Any:
        """The value as written for this run: the default, combined with ``given[name]`` when a project gives one."""
        return self.combine(given[self.name]) if self.name in given else copy.deepcopy(self.default)

    def combine(self, given: Any) -> Any:
        """The default with a project's value: replaced, or (``add``) updated/extended by it."""
        base = copy.deepcopy(self.default)
        if self.merge == "add" and isinstance(base, dict) and isinstance(given, dict):
            return {**base, **given}
        if self.merge == "add" and isinstance(base, list) and isinstance(given, list):
            return [*base, *given]
        return copy.deepcopy(given)


def boolean(name: str, default: bool, description: str) -> Option[bool]:
    return Option(name, description, "boolean", default, {"type": "boolean"}, bool)


def integer(name: str, default: int, description: str, *, minimum: int = 1) -> Option[int]:
    return Option(name, description, f"integer >= {minimum}", default, {"type": "integer", "minimum": minimum}, int)


def text(name: str, default: str, description: str) -> Option[str]:
    return Option(name, description, "text", default, {"type": "string", "minLength": 1}, str)


def choice(name: str, default: str, choices: tuple[str, ...], description: str) -> Option[str]:
    return Option(name, description, " | ".join(choices), default, {"enum": list(choices)}, str)


def strings(name: str, default: list[str], description: str, *, kind: str = "list of text") -> Option[tuple[str, ...]]:
    schema = {"type": "array", "items": {"type": "string"}}
    return Option(name, description, kind, default, schema, lambda value: tuple(str(v) for v in value))


class Settings:
    """The value of every declared option for one lint run (lint.yaml over the defaults), plus the rules
    lint.yaml disables."""

    def __init__(self, values: Mapping[Option[Any], Any], disabled: frozenset[str] = frozenset()) -> None:
        self._values = dict(values)
        self.disabled = disabled
        self._derived: dict[str, Any] = {}

    def __getitem__(self, option: Option[T]) -> T:
        try:
            return cast(T, self._values[option])
        except KeyError:
            raise LookupError(f"option {option.name!r} is read but no rule or pack declares it") from None

    def derived(self, key: str, make: Callable[[], T]) -> T:
        """A value computed from options once per run (``key`` names it; the rule that computes it owns it)."""
        if key not in self._derived:
            self._derived[key] = make()
        return cast(T, self._derived[key])
