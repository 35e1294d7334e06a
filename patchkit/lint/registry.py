"""Every rule, definition and code together: found by their files, bound both ways.

A pack is a folder under ``patchkit/lint/rules/`` (a Python package); a tree pack also has ``pack.py``
with ``PACK`` (:class:`patchkit.lint.pack.TreePack`). Each ``<name>.yaml`` of a pack is a rule whose code
is the module ``<name>.py`` beside it, declaring ``RULE`` with the same id. :func:`registered_rules`
(called by every lint run) imports them all and fails with a :class:`RuleError` when a definition has no
module or ``RULE``, when ``RULE`` names another id, or when a module declares a ``RULE`` that has no YAML.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
from dataclasses import dataclass
from typing import Any

from patchkit.lint.definitions import RuleDef, RuleError, all_rules, rules_dir
from patchkit.lint.options import Option
from patchkit.lint.pack import TreePack
from patchkit.lint.rule import HistoryRule, PatchRule, Rule, StateRule

PACKAGE = "patchkit.lint.rules"


@dataclass(frozen=True)
class Registered:
    definition: RuleDef
    rule: Rule
    module: str  # the module that declares it

    @property
    def id(self) -> str:
        return self.definition.id


def pack_names() -> list[str]:
    return sorted(p.name for p in rules_dir().iterdir() if (p / "__init__.py").is_file())


def _module_rule(module: str) -> Rule | None:
    found = getattr(importlib.import_module(module), "RULE", None)
    if found is not None and not isinstance(found, Rule):
        raise RuleError(f"{module}: RULE is a {type(found).__name__}, not a rule")
    return found


@functools.lru_cache(maxsize=1)
def registered_rules() -> tuple[Registered, ...]:
    """Every rule, definition and code together; a :class:`RuleError` when either side is missing."""
    out: list[Registered] = []
    defined: set[str] = set()
    for definition in all_rules():
        module = f"{PACKAGE}.{definition.pack}.{definition.stem}"
        defined.add(module)
        if not (rules_dir() / definition.pack / f"{definition.stem}.py").is_file():
            raise RuleError(f"{rules_dir() / definition.file}: rule {definition.id} has no code ({definition.stem}.py)")
        rule = _module_rule(module)
        if rule is None:
            raise RuleError(f"{rules_dir() / definition.file}: {module} declares no RULE")
        if rule.id != definition.id:
            raise RuleError(f"{rules_dir() / definition.file}: {module} declares RULE {rule.id}, not {definition.id}")
        out.append(Registered(definition, rule, module))
    for pack in pack_names():
        for path in sorted((rules_dir() / pack).glob("*.py")):
            module = f"{PACKAGE}.{pack}.{path.stem}"
            if module not in defined and path.stem != "__init__" and _module_rule(module) is not None:
                raise RuleError(f"{path}: declares a RULE but has no {path.stem}.yaml beside it")
    return tuple(out)


def code(rule_id: str) -> Rule:
    """The code of ``rule_id`` (a checkpatch type: of ``checkpatch/*``)."""
    rules = registered_rules()
    found = next((r for r in rules if r.id == rule_id), None) or next(
        (r for r in rules if fnmatch.fnmatchcase(rule_id, r.id)), None
    )
    if found is None:
        raise RuleError(f"rule {rule_id} is not registered")
    return found.rule


@functools.cache
def state_rules(pack: str) -> tuple[StateRule[Any], ...]:
    return tuple(r.rule for r in registered_rules() if r.definition.pack == pack and isinstance(r.rule, StateRule))


@functools.cache
def history_rules(pack: str) -> tuple[HistoryRule[Any], ...]:
    return tuple(r.rule for r in registered_rules() if r.definition.pack == pack and isinstance(r.rule, HistoryRule))


@functools.cache
def patch_rules() -> tuple[PatchRule, ...]:
    return tuple(r.rule for r in registered_rules() if isinstance(r.rule, PatchRule))


@functools.lru_cache(maxsize=1)
def tree_packs() -> tuple[TreePack[Any, Any], ...]:
    packs: list[TreePack[Any, Any]] = []
    for name in pack_names():
        if (rules_dir() / name / "pack.py").is_file():
            pack = getattr(importlib.import_module(f"{PACKAGE}.{name}.pack"), "PACK", None)
            if not isinstance(pack, TreePack) or pack.name != name:
                raise RuleError(f"{rules_dir() / name / 'pack.py'}: PACK is not the tree pack named {name}")
            packs.append(pack)
    return tuple(packs)


@dataclass(frozen=True)
class Declared:
    """An option and who declares it: a pack (lint.yaml ``packs: <owner>:``) or a rule (``rules: <owner>:``)."""

    section: str  # "packs" | "rules"
    owner: str
    option: Option[Any]


def declared_options() -> list[Declared]:
    """Every option of every pack and rule, in lint.yaml's order."""
    out = [Declared("packs", pack.name, option) for pack in tree_packs() for option in pack.options]
    out += [Declared("rules", r.id, option) for r in registered_rules() for option in r.rule.options]
    return out
