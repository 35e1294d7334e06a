"""What each rule is, in words: one YAML definition per rule, beside its code and cases in its pack's folder.

``patchkit/lint/rules/<pack>/<name>.yaml`` (the repository's ``rules/`` points at
``patchkit/lint/rules/``) holds ``id``, ``severity``, ``message`` (what a finding says, in general),
``rationale``, ``bad`` and ``good`` examples (schema: ``rule-schema.json``); ``<name>.cases.yaml``
beside it holds its valid and invalid cases (``cases-schema.json``) and ``<name>.py`` its code
(:mod:`patchkit.lint.registry` binds the two). ``checkpatch/*`` stands for every checkpatch type.
Reading these needs no rule code, so severities and SARIF descriptions cost no imports.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import cast

from patchkit.errors import DataError
from patchkit.lint.severity import Severity
from patchkit.util.yamldata import Loaded, load_file, package_schema


class RuleError(DataError):
    """A rule id in code without its YAML definition, or a definition without its code or cases."""


@dataclass(frozen=True)
class RuleDef:
    id: str
    severity: Severity
    message: str
    rationale: str
    bad: str
    good: str
    file: str  # <pack>/<name>.yaml under the rules directory

    def matches(self, rule_id: str) -> bool:
        return fnmatch.fnmatchcase(rule_id, self.id)

    @property
    def pack(self) -> str:
        return self.file.split("/", 1)[0]

    @property
    def stem(self) -> str:
        """<name>: the rule's YAML, cases and code are <name>.yaml, <name>.cases.yaml and <name>.py."""
        return self.file.rsplit("/", 1)[-1][: -len(".yaml")]


def rules_dir() -> Path:
    return Path(str(resources.files("patchkit.lint") / "rules"))


def definition_files() -> list[Path]:
    """Every ``<name>.yaml``; ``<name>.<what>.yaml`` belongs to that rule (its cases, a table of its data)."""
    return sorted(p for p in rules_dir().glob("*/*.yaml") if p.name.count(".") == 1)


def cases_file(definition: Path) -> Path:
    return definition.with_name(definition.name[: -len(".yaml")] + ".cases.yaml")


def load_cases(definition: Path) -> Loaded:
    """A rule's ``<name>.cases.yaml``, checked against ``cases-schema.json``."""
    schema = package_schema("patchkit.lint", "cases-schema.json")
    return load_file(cases_file(definition), schema, what="rule cases", multiline=True)


def load(path: Path) -> RuleDef:
    schema = package_schema("patchkit.lint", "rule-schema.json")
    data = load_file(path, schema, what="rule definitions", multiline=("message", "rationale", "bad", "good")).data
    return RuleDef(
        id=data["id"],
        severity=cast(Severity, data["severity"]),
        message=data["message"].strip(),
        rationale=data["rationale"].strip(),
        bad=data["bad"],
        good=data["good"],
        file=f"{path.parent.name}/{path.name}",
    )


@functools.lru_cache(maxsize=1)
def all_rules() -> tuple[RuleDef, ...]:
    return tuple(load(p) for p in definition_files())


def find(rule_id: str) -> RuleDef | None:
    """The definition of ``rule_id``: its own, or the wildcard one that matches it (``checkpatch/*``)."""
    rules = all_rules()
    return next((r for r in rules if r.id == rule_id), None) or next((r for r in rules if r.matches(rule_id)), None)


def definition(rule_id: str) -> RuleDef:
    """The YAML definition of ``rule_id``; a :class:`RuleError` when there is none."""
    found = find(rule_id)
    if found is None:
        name = rule_id.split("/", 1)[-1].replace("-", "_").replace("*", "")
        raise RuleError(
            f"rule {rule_id} has no definition under {rules_dir()} (add <pack>/{name or '<name>'}.yaml beside its code)"
        )
    return found


def severity(rule_id: str) -> Severity:
    return definition(rule_id).severity


def known(pattern: str) -> bool:
    """Whether a rule id or glob (a suppression's ``rule``) names at least one defined rule."""
    return any(r.matches(pattern) or fnmatch.fnmatchcase(r.id, pattern) for r in all_rules())
