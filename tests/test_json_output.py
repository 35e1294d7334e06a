"""``status --format json`` and ``verify --format json``: what machines read, checked against the schemas in the
repository (patchkit/apply/status-schema.json, patchkit/verify/report-schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from tests.helpers import REPO_ROOT, REPORT_SCHEMA, GitTree, Project

STATUS_SCHEMA = REPO_ROOT / "patchkit" / "apply" / "status-schema.json"


def _valid(text: str, schema: Path) -> dict[str, Any]:
    """``text`` is exactly one JSON document, and it matches ``schema``."""
    data: dict[str, Any] = json.loads(text)
    validator = jsonschema.Draft202012Validator(json.loads(schema.read_text(encoding="utf-8")))
    validator.validate(data)
    return data


def test_the_schemas_are_valid_draft_2020_12_schemas() -> None:
    for schema in (STATUS_SCHEMA, REPORT_SCHEMA):
        jsonschema.Draft202012Validator.check_schema(json.loads(schema.read_text(encoding="utf-8")))


def test_status_json_says_what_the_text_says(applied_project: Project, small_tree: GitTree) -> None:
    tree = str(small_tree.path)
    text = applied_project.cli("status", "--tree", tree)
    result = applied_project.cli("status", "--tree", tree, "--format", "json")
    assert result.code == text.code == 0, result.err
    data = _valid(result.out, STATUS_SCHEMA)
    assert data["series"] == "demo" and data["revision"] == 1 and data["patches"] == 2 and data["overlays"] == 0
    assert data["tree"] == {"path": tree, "default": False, "prepared": True}
    assert data["branch"]["name"] == "patchkit/demo/v1" and data["branch"]["tip"] == small_tree.head()
    assert data["branch"]["checked_out"] is True and data["matches"] is True and data["exit_code"] == 0
    assert f"state:   {data['branch']['detail']}" in text.out

    small_tree.git("reset", "-q", "--hard", "HEAD~1")
    small_tree.commit("x86/virt: Add a Makefile\n\nreworded\n", {"arch/x86/virt/Makefile": "obj-y += vmx/\n"})
    diverged = applied_project.cli("status", "--tree", tree, "--format", "json")
    assert diverged.code == 1
    data = _valid(diverged.out, STATUS_SCHEMA)
    assert data["matches"] is False and data["exit_code"] == 1
    assert data["branch"]["detail"].startswith("differs from the data at patch 2 (x86/virt: Add a Makefile)")


def test_status_json_of_a_default_tree_not_prepared_yet(project: Project) -> None:
    result = project.cli("status", "--format", "json")
    assert result.code == 1, result.err
    data = _valid(result.out, STATUS_SCHEMA)
    assert data["tree"]["default"] is True and data["tree"]["prepared"] is False
    assert data["branch"] is None and data["matches"] is False


def test_verify_json_is_report_json_on_stdout_and_the_rest_on_stderr(applied_project: Project, tmp_path: Path) -> None:
    tree = str(applied_project.tree.path)
    results = tmp_path / "results"
    common = ["verify", "--tree", tree, "--no-build", "--no-checkpatch", "--fresh"]  # the same lint line twice
    text = applied_project.cli(*common, "--results", str(tmp_path / "text"))
    result = applied_project.cli(*common, "--results", str(results), "--format", "json")
    assert result.code == text.code == 0, result.err
    data = _valid(result.out, REPORT_SCHEMA)  # stdout is the report and nothing else
    assert data == json.loads((results / "report.json").read_text())
    assert data["verdict"] == "passed" and data["exit_code"] == 0
    assert "state " in result.err and "verify: passed" in result.err  # what a person watches, on stderr
    assert text.out.replace(str(tmp_path / "text"), "R") == result.err.replace(str(results), "R")


def test_verify_json_keeps_stdout_clean_of_annotations_and_fails_with_the_report(
    applied_project: Project, tmp_path: Path
) -> None:
    tree = str(applied_project.tree.path)
    result = applied_project.cli(
        "verify", "--tree", tree, "--no-build", "--no-checkpatch", "--fail-on", "warning",
        "--results", str(tmp_path / "r"), "--format", "json", env={"GITHUB_ACTIONS": "true"},
    )  # fmt: skip
    assert result.code == 1, result.err
    data = _valid(result.out, REPORT_SCHEMA)
    assert data["exit_code"] == 1 and data["verdict"].startswith("FAILED: lint")
    assert "::warning " in result.err or "::error " in result.err  # annotations: the runner reads stderr too
