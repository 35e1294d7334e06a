"""Rule definitions: one YAML file per rule under ``patchkit/lint/rules/`` (the repository's
``rules/`` directory points there), each with a ``<name>.cases.yaml`` of valid and invalid cases.

A definition holds ``id``, ``severity``, ``message`` (what a finding says, in general),
``rationale``, ``bad`` and ``good`` examples. ``checkpatch/*`` stands for every checkpatch type.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from patchkit.errors import DataError

REQUIRED = ("id", "severity", "message", "rationale", "bad", "good")


@dataclass(frozen=True)
class RuleDef:
    id: str
    severity: str
    message: str
    rationale: str
    bad: str
    good: str
    file: str

    def matches(self, rule_id: str) -> bool:
        return fnmatch.fnmatchcase(rule_id, self.id)


def rules_dir() -> Path:
    return Path(str(resources.files("patchkit.lint") / "rules"))


def definition_files() -> list[Path]:
    return sorted(p for p in rules_dir().glob("*.yaml") if not p.name.endswith(".cases.yaml"))


def cases_file(definition: Path) -> Path:
    return definition.with_name(definition.name[: -len(".yaml")] + ".cases.yaml")


def _load(path: Path) -> RuleDef:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: unreadable rule definition: {exc}") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path}: a rule definition must be a mapping")
    missing = [k for k in REQUIRED if not data.get(k)]
    if missing:
        raise DataError(f"{path}: rule definition lacks {', '.join(missing)}")
    if data["severity"] not in ("error", "warning", "info"):
        raise DataError(f"{path}: severity must be error, warning or info")
    return RuleDef(
        id=str(data["id"]),
        severity=str(data["severity"]),
        message=str(data["message"]).strip(),
        rationale=str(data["rationale"]).strip(),
        bad=str(data["bad"]),
        good=str(data["good"]),
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


def severity(rule_id: str, default: str = "warning") -> str:
    rule = find(rule_id)
    return rule.severity if rule is not None else default
