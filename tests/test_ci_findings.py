"""Findings where reviewers look: SARIF and GitHub annotations on the series files, not on kernel paths."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from patchkit.github.locate import DiffIndex, Location, Locator
from patchkit.lint.model import Finding
from patchkit.series.load import load_series
from tests.helpers import DIFF_NEW_FILE, DIFF_README, REPO_ROOT, GitTree, run_cli, small_series_data, write_series

SARIF_SCHEMA = REPO_ROOT / "tests" / "lint" / "sarif-schema-2.1.0.json"
TDX = REPO_ROOT / "series" / "tdx"

# Patch 1 adds a line with trailing whitespace: a hygiene/whitespace error on README:2 at patch 1.
DIFF_TRAILING = DIFF_README.replace("+second line\n", "+second line \n")


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().split("\n"), start=1) if line == text)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A series repository (git) with the demo series, applied to a small tree."""
    tree = GitTree.create_small(tmp_path / "linux")
    repo = tmp_path / "repo"
    series_dir = write_series(repo / "series" / "demo", small_series_data(tree),
                              {"0001-readme.diff": DIFF_TRAILING, "0002-makefile.diff": DIFF_NEW_FILE})  # fmt: skip
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    applied = run_cli("apply", "demo", "--tree", str(tree.path), cwd=repo)
    assert applied.code == 0, applied.err
    return repo, series_dir, tree.path


def test_verify_sarif_points_at_the_diff_line_and_series_yaml(project: tuple[Path, Path, Path],
                                                              tmp_path: Path) -> None:  # fmt: skip
    repo, series_dir, tree = project
    summary = tmp_path / "summary.md"
    results = tmp_path / "results"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "CI": "true"}
    # run from a subdirectory: the paths in the findings are still relative to the top of the repository
    run = run_cli("verify", "demo", "--tree", str(tree), "--no-build", "--no-checkpatch", "--results", str(results),
                  cwd=repo / "series", env=env)  # fmt: skip
    assert run.code == 1, run.out + run.err  # the whitespace error fails lint
    sarif = json.loads((results / "lint.sarif").read_text())
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    sarif_run = sarif["runs"][0]
    assert sarif_run["automationDetails"]["id"] == "patchkit/demo/lint/"
    locations = [r["locations"][0] for r in sarif_run["results"]]
    for location in locations:  # every location is a file of the series repository
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/") and (repo / uri).is_file(), uri

    by_rule = {r["ruleId"]: r for r in sarif_run["results"]}
    whitespace = by_rule["hygiene/whitespace"]
    where = whitespace["locations"][0]
    diff = series_dir / "0001-readme.diff"
    assert where["physicalLocation"]["artifactLocation"]["uri"] == "series/demo/0001-readme.diff"
    assert where["physicalLocation"]["region"]["startLine"] == _line_of(diff, "+second line ")
    assert "README:2 at patch 1" in whitespace["message"]["text"]  # the kernel path and state stay
    assert where["logicalLocations"][0]["fullyQualifiedName"] == "patch 1:README:2"

    body = by_rule["hygiene/body-missing"]["locations"][0]["physicalLocation"]
    assert body["artifactLocation"]["uri"] == "series/demo/series.yaml"
    yaml_lines = (series_dir / "series.yaml").read_text().split("\n")
    assert yaml_lines[body["region"]["startLine"] - 1] == "- subject: 'x86/virt: Add a Makefile'"

    annotation = next(line for line in run.out.splitlines() if line.startswith("::error "))
    assert annotation.startswith(
        f"::error file=series/demo/0001-readme.diff,line={_line_of(diff, '+second line ')},"
        "title=hygiene/whitespace (patch 1)::trailing whitespace"
    )
    assert annotation.endswith("(README:2 at patch 1)")
    text = summary.read_text()
    assert "| state | lint | subject |" in text and "FAILED: lint" in text


def test_lint_keeps_kernel_paths_in_text_and_json(project: tuple[Path, Path, Path], tmp_path: Path) -> None:
    repo, _series_dir, tree = project
    results = tmp_path / "results"
    run_cli("verify", "demo", "--tree", str(tree), "--no-build", "--no-checkpatch", "--results", str(results), cwd=repo)
    data = json.loads((results / "lint.json").read_text())
    assert any(f["path"] == "README" and f["line"] == 2 for f in data["findings"])
    assert "README:2" in (results / "lint.txt").read_text()


def test_diff_index_maps_added_and_context_lines_of_a_real_patch() -> None:
    series = load_series(TDX)
    locator = Locator(series, REPO_ROOT)
    first = series.patches[0]
    diff = TDX / first.diff
    text = diff.read_text().split("\n")
    hunk = next(n for n, line in enumerate(text, start=1) if line.startswith("@@ -89,8 +89,23 @@"))
    # The hunk starts at line 89 of tdxcall.S: three context lines, then the first added line at 92.
    added = locator.in_patch(1, "arch/x86/virt/vmx/tdx/tdxcall.S", 92)
    assert added == Location(f"series/tdx/{first.diff}", hunk + 4)
    assert text[hunk + 3].startswith("+")
    context = locator.in_patch(1, "arch/x86/virt/vmx/tdx/tdxcall.S", 89)
    assert context == Location(f"series/tdx/{first.diff}", hunk + 1)
    # A line of a changed file outside every hunk: the file's header in the diff.
    header = locator.in_patch(1, "arch/x86/virt/vmx/tdx/tdxcall.S", 1)
    assert header == Location(f"series/tdx/{first.diff}", 1)
    assert locator.in_patch(1, "init/main.c", 10) is None


def test_diff_index_counts_hunks_and_ignores_removed_lines() -> None:
    index = DiffIndex.parse(
        "diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        "diff --git a/g.c b/g.c\nnew file mode 100644\n--- /dev/null\n+++ b/g.c\n@@ -0,0 +1,2 @@\n+x\n+-- y\n"
    )
    assert index.lines["f.c"] == {1: 5, 2: 7, 3: 8}
    assert index.lines["g.c"] == {1: 14, 2: 15}
    assert index.headers == {"f.c": 1, "g.c": 9}


def test_message_findings_land_on_the_series_yaml_line_they_are_about() -> None:
    """The locator takes plain values: the part of the patch's entry a finding concerns, and its words."""
    series = load_series(TDX)
    locator = Locator(series, REPO_ROOT)
    yaml_path = "series/tdx/series.yaml"
    lines = (TDX / "series.yaml").read_text().split("\n")
    patch = series.patches[2]

    subject = locator.place(yaml_path, 0, 3, "subject", "subject is 80 characters")
    assert subject.path == yaml_path and lines[subject.line - 1].startswith("- subject: ")
    assert patch.subject.split(":")[0] in lines[subject.line - 1]
    body = locator.place(yaml_path, 0, 3, "body", "body line 2 is 80 characters (wrap at 75): 'x...'")
    assert lines[body.line - 1].strip() == patch.body.split("\n")[1].strip()
    trailer = patch.trailers[0]
    sob = locator.place(yaml_path, 0, 3, "trailers", f"trailer '{trailer}' should name 'Full Name <email>'")
    assert lines[sob.line - 1].strip() == f"- '{trailer}'" or lines[sob.line - 1].strip() == f"- {trailer}"
    entry = locator.place(yaml_path, 0, 3)
    assert lines[entry.line - 1].startswith("- subject: ")  # no part: the patch's entry
    base = locator.place("arch/x86/kernel/asm-offsets.c", 5, None)
    assert lines[base.line - 1] == "base:"
    outside = locator.place("arch/x86/kvm/vmx/tdx.c", 40, 3)
    assert outside == Location(f"series/tdx/{patch.diff}", 1)  # a file the patch does not touch


def test_each_rule_says_which_part_of_the_patch_entry_its_findings_concern() -> None:
    from patchkit.lint import registry

    parts = {
        "hygiene/subject-length": "subject", "hygiene/subject-form": "subject", "hygiene/body-wrap": "body",
        "hygiene/body-missing": "body", "hygiene/trailer-format": "trailers", "hygiene/signed-off-by": "trailers",
        "hygiene/trailer-order": "trailers", "suppression/missing-reason": "suppress",
        "suppression/unknown-rule": "suppress", "checkpatch/MISSING_SIGN_OFF": "trailers",
        "checkpatch/TITLE_TOO_LONG": "subject", "checkpatch/COMMIT_LOG_LONG_LINE": "body",
        "checkpatch/SPACING": None, "tdx/field-exists": None,
    }  # fmt: skip
    assert {rule: registry.code(rule).entry_part(rule) for rule in parts} == parts


def test_new_compiler_warnings_land_on_the_diff_line_with_a_category_per_fragment() -> None:
    from patchkit.apply.states import State
    from patchkit.kbuild.diagnostics import CompilerWarning
    from patchkit.kbuild.walk import StateBuild
    from patchkit.verify import build_findings

    series = load_series(TDX)
    locator = Locator(series, REPO_ROOT)
    first = series.patches[0]
    text = (TDX / first.diff).read_text().split("\n")
    hunk = next(n for n, line in enumerate(text, start=1) if line.startswith("@@ -89,8 +89,23 @@"))
    patch1 = StateBuild("guest", State(1, "patch 1", "c1", first.subject, 1), "ok", 1.0, Path("l.log"))
    patch1.new_warnings = [CompilerWarning("arch/x86/virt/vmx/tdx/tdxcall.S", 92, "odd jump", "-Wfoo"),
                           CompilerWarning("vmlinux.o", 0, "objtool: something", "")]  # fmt: skip
    overlay = series.overlay_patches[0]
    over = StateBuild("guest", State(11, "overlay", "c11", overlay.subject), "ok", 1.0, Path("l.log"))
    over.new_warnings = [CompilerWarning("init/main.c", 3, "unused", "-Wunused-variable")]
    category = build_findings.category("tdx", "guest", (6, 11))
    sarif = build_findings.to_sarif(locator, "guest", [patch1, over], category)
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    run = sarif["runs"][0]
    assert run["automationDetails"]["id"] == "patchkit/tdx/build/guest/6-11/"
    located = [r["locations"][0]["physicalLocation"] for r in run["results"]]
    assert located[0] == {"artifactLocation": {"uri": f"series/tdx/{first.diff}"}, "region": {"startLine": hunk + 4}}
    assert located[1]["artifactLocation"]["uri"] == f"series/tdx/{first.diff}"  # no line: top of the patch
    assert located[2]["artifactLocation"]["uri"] == f"series/tdx/{overlay.diff}"
    for place in located:
        assert (REPO_ROOT / place["artifactLocation"]["uri"]).is_file()
    assert "(arch/x86/virt/vmx/tdx/tdxcall.S:92 at patch 1, config guest)" in run["results"][0]["message"]["text"]
    annotations = build_findings.to_github(locator, "guest", [patch1]).splitlines()
    assert annotations[0].startswith(f"::warning file=series/tdx/{first.diff},line={hunk + 4},title=compiler/-Wfoo")


def test_lint_command_sarif_and_annotations_use_the_series_files_too(project: tuple[Path, Path, Path],
                                                                     tmp_path: Path) -> None:  # fmt: skip
    repo, series_dir, tree = project
    common = ["lint", "demo", "--tree", str(tree), "--no-checkpatch"]
    annotations = run_cli(*common, "--format", "github", cwd=repo)
    assert annotations.code == 1
    line = _line_of(series_dir / "0001-readme.diff", "+second line ")
    assert f"::error file=series/demo/0001-readme.diff,line={line}," in annotations.out
    out = tmp_path / "lint.sarif"
    assert run_cli(*common, "--format", "sarif", "--output", str(out), cwd=repo).code == 1
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(out.read_text())["runs"][0]["results"]}  # fmt: skip
    assert uris == {"series/demo/0001-readme.diff", "series/demo/series.yaml"}


def test_findings_present_at_the_base_are_not_alerts_on_the_series() -> None:
    from patchkit.lint.model import LintReport
    from patchkit.lint.output import to_sarif

    report = LintReport(series="tdx", states=["base", "patch 1"])
    report.findings = [
        Finding("tdx/offset-per-field", "error", "arch/x86/kernel/asm-offsets.c", 5, "old", status="pre-existing"),
        Finding("tdx/offset-per-field", "error", "arch/x86/virt/vmx/tdx/tdxcall.S", 92, "new", patch=1,
                state="patch 1"),
    ]  # fmt: skip
    mapped = to_sarif(report, Locator(load_series(TDX), REPO_ROOT), "patchkit/tdx/lint/")["runs"][0]["results"]
    assert mapped[0]["suppressions"][0]["justification"] == "present at the base, before the series"
    assert "suppressions" not in mapped[1]
    assert "suppressions" not in to_sarif(report)["runs"][0]["results"][0]  # kernel paths: as before
