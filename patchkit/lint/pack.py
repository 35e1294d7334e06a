"""What the engine asks of a tree rule pack: a small typed interface.

Between the generic engine and what a pack that reads the kernel tree knows (the TDX pack:
``rules/tdx/pack.py``).

The engine walks the states (the base, then one per patch), reads files from git objects, caches facts
by blob, runs the pack's state and history rules (:mod:`patchkit.lint.rule`), blames, suppresses and
reports. The pack says which files a state needs (:meth:`TreePack.selection`), how to read one
(:meth:`TreePack.extract`), how one state's facts hang together (:meth:`TreePack.state`) and what it
could not read (:meth:`TreePack.unparsed`, reported as ``parse/unparsed-construct``). Its rules are the
rule modules in its folder.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from patchkit.lint.options import Option, Settings

F = TypeVar("F")  # the facts of one file
S = TypeVar("S")  # the facts of one state


@dataclass(frozen=True)
class FileSelection:
    """Which files of a state the pack reads."""

    # fixed strings: the base is searched for them once (``git grep -F``) under ``search_paths``; a file with
    # a line that holds one and that ``pattern`` also matches is read
    words: tuple[str, ...]
    pattern: re.Pattern[str]  # text that makes a file one the pack reads (a file a patch touches is tested whole)
    always: frozenset[str]  # paths read in every state, whatever they hold
    search_paths: tuple[str, ...]  # directories the base is searched under ("" for the whole tree)
    extensions: tuple[str, ...]  # the source files the pack reads: ("c", "h", "S")


@dataclass(frozen=True)
class Followed:
    """What :meth:`TreePack.followed` found: fixed strings the base is searched for, and the pattern a line of
    a file (in the base search, or a whole file a patch changes) must match."""

    words: tuple[str, ...]
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Unparsed:
    """A construct the pack's rules could not read, so cannot check: reported, never passed over in silence."""

    path: str
    line: int
    message: str
    identity: str | None = None
    evidence: tuple[tuple[str, int], ...] = ()


class TreePack(ABC, Generic[F, S]):
    """A rule pack over the kernel tree's source files."""

    name: str  # its folder under rules/, and the key of its options in lint.yaml's ``packs:``
    options: tuple[Option[Any], ...] = ()  # options every rule of the pack reads (lint.yaml: packs: <name>:)

    @abstractmethod
    def selection(self, settings: Settings) -> FileSelection: ...

    @abstractmethod
    def extract(self, path: str, content: bytes, settings: Settings) -> F:
        """The facts of one file (called once per distinct content)."""

    @abstractmethod
    def state(self, label: str, files: Sequence[tuple[str, F]], settings: Settings) -> S:
        """The facts of one state, from those of its files (sorted by path)."""

    def unparsed(self, state: S, settings: Settings) -> list[Unparsed]:
        """What the pack could not read in this state."""
        return []

    def followed(self, files: Sequence[tuple[str, F]], settings: Settings) -> Followed | None:
        """Files these files make relevant, found by the names they declare (a struct member whose type is one
        the pack follows: the files that use the member), or None. The engine searches the base for the words
        and tests the files a patch changes with the pattern, in every state, until nothing new is found."""
        return None
