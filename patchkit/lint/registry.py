"""Rules: one YAML definition per rule under ``patchkit/lint/rules/`` (the repository's ``rules/``
directory points there), each with a ``<name>.cases.yaml`` of valid and invalid cases, bound to the
code that emits it.

A definition holds ``id``, ``severity``, ``message`` (what a finding says, in general),
``rationale``, ``bad`` and ``good`` examples (schema: ``rule-schema.json``). ``checkpatch/*``
stands for every checkpatch type.

Code declares what it emits with :func:`emits` (``@emits("tdx/field-exists")`` on the function that
returns those hits); the declaration looks the definition up at once, so a rule without YAML fails
at import. :func:`registered_rules` imports every emitter and fails when a YAML has no code.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar, cast

from patchkit.errors import DataError
from patchkit.lint.severity import Severity
from patchkit.util.yamldata import Loaded, load_file, package_schema

# Every module that declares rules with @emits; registered_rules() imports them all.
EMITTERS = ("patchkit.lint.tdxrules", "patchkit.lint.hygiene", "patchkit.lint.checkpatch", "patchkit.lint.engine")


class RuleError(DataError):
    """A rule id in code without its YAML definition, or a definition no code emits."""


@dataclass(frozen=True)
class RuleDef:
    id: str
    severity: Severity
    message: str
    rationale: str
    bad: str
    good: str
    file: str

    def matches(self, rule_id: str) -> bool:
        return fnmatch.fnmatchcase(rule_id, self.id)


@dataclass(frozen=True)
class Rule:
    """A definition bound to the code that emits it (``emitter``: module.function)."""

    definition: RuleDef
    emitter: str

    @property
    def id(self) -> str:
        return self.definition.id


def rules_dir() -> Path:
    return Path(str(resources.files("patchkit.lint") / "rules"))


def definition_files() -> list[Path]:
    return sorted(p for p in rules_dir().glob("*.yaml") if not p.name.endswith(".cases.yaml"))


def cases_file(definition: Path) -> Path:
    return definition.with_name(definition.name[: -len(".yaml")] + ".cases.yaml")


def load_cases(definition: Path) -> Loaded:
    """A rule's ``<name>.cases.yaml``, checked against ``cases-schema.json``."""
    schema = package_schema("patchkit.lint", "cases-schema.json")
    return load_file(cases_file(definition), schema, what="rule cases", multiline=True)


def _load(path: Path) -> RuleDef:
    schema = package_schema("patchkit.lint", "rule-schema.json")
    data = load_file(path, schema, what="rule definitions", multiline=("message", "rationale", "bad", "good")).data
    return RuleDef(
        id=data["id"],
        severity=cast(Severity, data["severity"]),
        message=data["message"].strip(),
        rationale=data["rationale"].strip(),
        bad=data["bad"],
        good=data["good"],
        file=path.name,
    )


@functools.lru_cache(maxsize=1)
def all_rules() -> tuple[RuleDef, ...]:
    return tuple(_load(p) for p in definition_files())


def find(rule_id: str) -> RuleDef | None:
    exact = {r.id: r for r in all_rules()}
    if rule_id in exact:
        return exact[rule_id]
    return next((r for r in all_rules() if r.matches(rule_id)), None)


def definition(rule_id: str) -> RuleDef:
    """The YAML definition of ``rule_id``; a :class:`RuleError` when there is none."""
    found = find(rule_id)
    if found is None:
        raise RuleError(f"rule {rule_id} has no definition under {rules_dir()} (add {_file_name(rule_id)})")
    return found


def severity(rule_id: str) -> Severity:
    return definition(rule_id).severity


def _file_name(rule_id: str) -> str:
    return rule_id.replace("/", "-").replace("*", "").rstrip("-") + ".yaml"


_DECLARED: dict[str, str] = {}  # rule id -> the function that emits it (module.name)
F = TypeVar("F", bound=Callable[..., object])


def emits(*rule_ids: str) -> Callable[[F], F]:
    """Declare the rule ids a function emits; each must have its YAML definition (checked now)."""

    def bind(fn: F) -> F:
        for rule_id in rule_ids:
            definition(rule_id)
            _DECLARED.setdefault(rule_id, f"{fn.__module__}.{fn.__qualname__}")
        fn.__dict__["rule_ids"] = rule_ids
        return fn

    return bind


def declared_ids(fn: Callable[..., object]) -> tuple[str, ...]:
    ids: tuple[str, ...] = fn.__dict__.get("rule_ids", ())
    return ids


@functools.lru_cache(maxsize=1)
def registered_rules() -> tuple[Rule, ...]:
    """Every rule, definition and code together; a :class:`RuleError` when either side is missing."""
    for module in EMITTERS:
        importlib.import_module(module)
    rules: list[Rule] = []
    for rule_def in all_rules():
        emitter = _DECLARED.get(rule_def.id)
        if emitter is None:
            raise RuleError(
                f"{rules_dir() / rule_def.file}: rule {rule_def.id} is emitted by no code (declare it with @emits)"
            )
        rules.append(Rule(rule_def, emitter))
    return tuple(rules)
