"""Every rule's valid and invalid cases (rules/<pack>/<name>.cases.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from patchkit.lint import definitions
from tests.lint.cases import run_case

DEFINITIONS = definitions.definition_files()


def _cases() -> list[Any]:
    params = []
    for definition in DEFINITIONS:
        if not definitions.cases_file(definition).is_file():
            continue
        data = definitions.load_cases(definition).data
        for case in data["cases"]:
            kind = "valid" if case["valid"] else "invalid"
            params.append(pytest.param(data["rule"], case, id=f"{data['rule']}::{kind}::{case['name']}"))
    return params


@pytest.mark.parametrize(("rule", "case"), _cases())
def test_rule_case(rule: str, case: dict[str, Any]) -> None:
    messages = run_case(rule, case)
    if case["valid"]:
        assert messages == [], f"{rule} reported on a valid case: {messages}"
    else:
        assert messages, f"{rule} reported nothing on an invalid case"
        for expected in case["expect"]:
            assert any(expected in m for m in messages), f"expected {expected!r} among {messages}"


def test_every_rule_has_valid_and_invalid_cases_and_a_unique_id() -> None:
    assert len(DEFINITIONS) >= 20
    ids = [r.id for r in definitions.all_rules()]
    assert len(ids) == len(set(ids)), "duplicate rule ids"
    for definition, rule in zip(DEFINITIONS, definitions.all_rules(), strict=True):
        cases_path = definitions.cases_file(definition)
        assert cases_path.is_file(), f"{definition.name} has no {cases_path.name}"
        data = definitions.load_cases(definition).data
        assert data["rule"] == rule.id, f"{cases_path.name} is for {data['rule']}, not {rule.id}"
        kinds = {bool(c["valid"]) for c in data["cases"]}
        assert kinds == {True, False}, f"{rule.id} needs both valid and invalid cases"
        for c in data["cases"]:
            if not c["valid"]:
                assert c.get("expect"), f"{rule.id}: invalid case {c['name']!r} names no expected message"


def test_the_eleven_tdx_rules_exist() -> None:
    ids = {r.id for r in definitions.all_rules()}
    assert {
        "tdx/offset-per-field", "tdx/asm-offset-defined", "tdx/mov-register-matches-offset",
        "tdx/callee-saved-preserved", "tdx/clear-before-return", "tdx/grouping-comment-class",
        "tdx/vcpu-regs-layout", "tdx/vcpu-regs-copy", "tdx/field-exists", "tdx/removed-symbol-users",
        "tdx/offset-struct-matches-pointer",
    } <= ids  # fmt: skip


def test_rules_directory_is_the_packaged_one() -> None:
    repo_rules = Path(__file__).resolve().parents[2] / "rules"
    assert repo_rules.resolve() == definitions.rules_dir().resolve()
