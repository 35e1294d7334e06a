"""Every rule is one thing: its YAML definition bound to the code beside it that declares ``RULE``, both
sides present, and a check that reports only its own id."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from patchkit.errors import DataError
from patchkit.lint import definitions, registry
from patchkit.lint.definitions import RuleDef, RuleError
from patchkit.lint.model import Hit
from patchkit.lint.options import Settings
from patchkit.lint.rule import StateRule

PACKAGE = Path(registry.__file__).resolve().parents[1]
# a rule id written in code: a quoted "area/name" in one of the rule areas
_RULE_ID = re.compile(r"""["']((?:tdx|hygiene|parse|suppression|checkpatch)/[A-Za-z0-9_{}*-]+)["']""")


def _ids_in_code() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for rule_id in _RULE_ID.findall(path.read_text(encoding="utf-8")):
            found.add("checkpatch/*" if rule_id.startswith("checkpatch/") else rule_id)
    return found


def test_every_definition_has_code_and_every_declared_id_a_definition() -> None:
    rules = registry.registered_rules()
    assert {r.id for r in rules} == {d.id for d in definitions.all_rules()}
    for r in rules:
        assert r.module == f"patchkit.lint.rules.{r.definition.pack}.{r.definition.stem}"


def test_every_rule_id_written_in_code_is_declared_and_defined() -> None:
    declared = {r.id for r in registry.registered_rules()}
    in_code = _ids_in_code()
    assert len(in_code) >= 20
    # a family prefix ("hygiene/trailer" in a startswith) is not an id of its own
    unknown = {i for i in in_code - declared if not any(d.startswith(i + "-") for d in declared)}
    assert not unknown, f"ids in code without YAML or RULE: {sorted(unknown)}"
    assert declared <= in_code, f"ids declared but never written in code: {sorted(declared - in_code)}"


def test_severity_of_an_unknown_rule_is_an_error_not_a_default() -> None:
    with pytest.raises(RuleError, match="tdx/no-such-rule has no definition"):
        definitions.severity("tdx/no-such-rule")
    assert definitions.severity("checkpatch/CAMELCASE") == "warning"  # the checkpatch/* definition


def test_declaring_a_rule_without_yaml_fails_at_once() -> None:
    with pytest.raises(RuleError, match=r"tdx/not-defined has no definition .*add <pack>/not_defined\.yaml"):
        StateRule("tdx/not-defined")


def test_a_check_that_reports_another_rules_id_fails() -> None:
    rule: StateRule[object] = StateRule("tdx/field-exists")

    @rule.checker
    def check(state: object, settings: Settings) -> list[Hit]:
        return [Hit("tdx/offset-per-field", "a.c", 1, "m")]

    with pytest.raises(RuleError, match="emitted tdx/offset-per-field, which is another rule's id"):
        rule.run(object(), Settings({}))


def test_a_definition_without_code_fails_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    orphan = RuleDef("tdx/orphan", "error", "m", "r", "b", "g", "tdx/orphan.yaml")
    real = definitions.all_rules()
    monkeypatch.setattr(registry, "all_rules", lambda: (*real, orphan))
    registry.registered_rules.cache_clear()
    try:
        with pytest.raises(RuleError, match=r"rule tdx/orphan has no code \(orphan\.py\)"):
            registry.registered_rules()
    finally:
        registry.registered_rules.cache_clear()


def test_code_that_declares_another_rule_fails_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    impostor = types.ModuleType("patchkit.lint.rules.tdx.field_exists")
    impostor.RULE = StateRule("tdx/offset-per-field")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "patchkit.lint.rules.tdx.field_exists", impostor)
    registry.registered_rules.cache_clear()
    try:
        with pytest.raises(RuleError, match="declares RULE tdx/offset-per-field, not tdx/field-exists"):
            registry.registered_rules()
    finally:
        registry.registered_rules.cache_clear()


def test_a_bad_rule_definition_names_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "tdx" / "x.yaml"
    bad.parent.mkdir()
    bad.write_text("id: tdx/x\nseverity: fatal\nmessage: m\nrationale: r\nbad: b\ngood: g\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.yaml:2: severity: "):
        definitions.load(bad)


def test_a_bad_case_file_names_file_line_and_key(tmp_path: Path) -> None:
    definition = tmp_path / "x.yaml"
    definition.write_text("", encoding="utf-8")
    definitions.cases_file(definition).write_text(
        "rule: tdx/x\ncases:\n- name: a\n  valid: true\n  files: {a.c: ''}\n- name: b\n  valid: false\n"
        "  files: {a.c: ''}\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"x\.cases\.yaml:6: cases\[1\]"):
        definitions.load_cases(definition)
