"""Partial verify reports merge into the table, verdict and exit code of a single run; the job summary."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from patchkit.errors import DataError
from patchkit.verify.merge import merge
from patchkit.verify.report import VerifyReport, markdown, text_table, verdict
from tests.helpers import Project, run_cli, valid_report

GOLDEN = Path(__file__).resolve().parent / "data" / "ci"
LABELS = ["base", "patch 1", "patch 2", "patch 3", "overlay"]


def _build(config: str, label: str, status: str = "ok", warnings: int = 0) -> dict[str, Any]:
    return {"config": config, "state": label, "commit": f"c{LABELS.index(label)}", "status": status,
            "seconds": 1.0, "new_warnings": [f"init/main.c:{n}: warning: w [-Wx]" for n in range(warnings)],
            "error": "" if status == "ok" else "init/main.c:3: error: boom", "excerpt": "", "log": "x.log",
            "reconfigured": False, "cached": None}  # fmt: skip


def _boot(config: str, label: str, ok: bool = True) -> dict[str, Any]:
    return {"config": config, "state": label, "accel": "tcg", "ok": ok, "reason": "ok" if ok else "panic: oops",
            "excerpt": "", "console": "c.log", "seconds": 2.0, "cmdline": "", "cached": None}  # fmt: skip


def single_run(*, fail: tuple[str, str] | None = None, boot_fail: bool = False) -> dict[str, Any]:
    """What one `verify` over everything writes for a 3-patch series with an overlay and configs a, b."""
    stop = LABELS.index(fail[1]) if fail else len(LABELS) - 1
    results = []
    for label in LABELS[: stop + 1]:
        for config in ("a", "b"):
            failed = fail is not None and (config, label) == fail
            results.append(_build(config, label, "failed" if failed else "ok", 1 if label == "patch 2" else 0))
    boots = [] if fail else [_boot("a", "overlay", not boot_fail)]  # b does not boot
    return {
        "series": "demo", "revision": 2, "results": "/r/one",
        "branch": {"name": "patchkit/demo/v2", "matches": True, "detail": "matches the data (3 patches)"},
        "configs": [{"name": "a", "boot": True}, {"name": "b", "boot": False}],
        "states": [{"index": i, "label": label, "subject": "" if label == "base" else f"subject of {label}",
                    "patch": i if 0 < i < 4 else None, "commit": f"c{i}"} for i, label in enumerate(LABELS)],
        "scope": {"lint": True, "build": True, "boot": True, "configs": ["a", "b"], "states": [0, 4],
                  "keep_going": False},
        "lint_summary": {"ran": True, "failed": False, "summary": "0 error(s), 1 warning(s)",
                         "per_patch": {"2": "1 warning"}},
        "lint": {"schema_version": 1, "findings": []},
        "build": {"ccache": True, "configs": ["a", "b"], "results": results},
        "boot": {"accel": "tcg", "boots": boots},
    }  # fmt: skip


def partial(full: dict[str, Any], configs: list[str], span: tuple[int, int], *, lint: bool,
            build: bool = True) -> dict[str, Any]:  # fmt: skip
    """What `verify --config ... --states A..B` writes: its range (plus the warm-up state before it)."""
    part = copy.deepcopy(full)
    part["results"] = f"/r/{'-'.join(configs)}-{span[0]}"
    part["scope"] = {"lint": lint, "build": build, "boot": True, "configs": configs, "states": list(span),
                     "keep_going": False}  # fmt: skip
    if not lint:
        part["lint_summary"] = {"ran": False, "failed": False, "summary": "skipped (--no-lint)", "per_patch": {}}
        del part["lint"]
    if not build:
        del part["build"], part["boot"]
        return part
    low = max(span[0] - 1, 0)  # the warm-up build of the state before the range is in the partial's results
    part["build"]["configs"] = configs
    part["build"]["results"] = [r for r in full["build"]["results"]
                                if r["config"] in configs and low <= LABELS.index(r["state"]) <= span[1]]  # fmt: skip
    part["boot"]["boots"] = [b for b in full["boot"]["boots"]
                             if b["config"] in configs and span[0] <= LABELS.index(b["state"]) <= span[1]]  # fmt: skip
    return part


def typed(data: dict[str, Any], name: str = "report.json") -> VerifyReport:
    return VerifyReport.from_json(data, name)


def merged_of(parts: list[tuple[str, dict[str, Any]]]) -> VerifyReport:
    return merge([(name, typed(part, name)) for name, part in parts])


def _same(one: dict[str, Any], merged: VerifyReport) -> None:
    assert text_table(merged) == text_table(typed(one))
    assert verdict(merged) == verdict(typed(one))
    assert (merged.to_json()["exit_code"], merged.to_json()["verdict"]) == verdict(typed(one))
    assert markdown(merged) == markdown(typed(one))


@pytest.mark.parametrize("case", ["pass", "boot-fails", "build-fails", "warm-up-fails"])
def test_merge_of_per_config_and_per_range_partials_equals_one_run(case: str) -> None:
    # warm-up-fails: a fails at patch 2, the state the a-3-4 job builds first as its starting point
    fail = {"build-fails": ("b", "patch 2"), "warm-up-fails": ("a", "patch 2")}.get(case)
    one = single_run(fail=fail, boot_fail=case == "boot-fails")
    parts = [
        ("lint", partial(one, [], (0, 4), lint=True, build=False)),
        ("a-0-2", partial(one, ["a"], (0, 2), lint=False)),
        ("a-3-4", partial(one, ["a"], (3, 4), lint=False)),
        ("b", partial(one, ["b"], (0, 4), lint=False)),
    ]
    if case == "build-fails":  # the per-config job of 'a' built on past the state where b failed; one run stops
        for label in ("patch 3", "overlay"):
            parts[2][1]["build"]["results"].append(_build("a", label))
    merged = merged_of(parts)
    _same(one, merged)
    if case == "warm-up-fails":  # that job fails too, on its warm-up state, and builds nothing of its range
        assert verdict(typed(parts[2][1]))[0] == 5
        assert {r["state"] for r in parts[2][1]["build"]["results"]} == {"patch 2"}
    expected = {"pass": 0, "boot-fails": 6, "build-fails": 5, "warm-up-fails": 5}[case]
    assert merged.to_json()["exit_code"] == expected
    assert merged.to_json()["merged_from"] == ["lint", "a-0-2", "a-3-4", "b"]


def test_a_missing_prerequisite_fails_the_merged_run_as_it_fails_one_run() -> None:
    one = single_run()
    detail = "not in the base: patch 2 (x: Y): x.c: patch does not apply (v1, history/v1)"
    one["depends"] = [{"dependency": "20260101-x-0123456789ab v1", "change_id": "20260101-x-0123456789ab",
                       "revision": 1, "status": "missing", "failed": True, "detail": detail}]  # fmt: skip
    parts = [
        ("lint", partial(one, [], (0, 4), lint=True, build=False)),
        ("a", partial(one, ["a"], (0, 4), lint=False)),
        ("b", partial(one, ["b"], (0, 4), lint=False)),
    ]
    merged = merged_of(parts)
    _same(one, merged)
    data = merged.to_json()
    assert data["exit_code"] == 1
    assert data["verdict"] == f"FAILED: depends ({one['depends'][0]['dependency']}: {one['depends'][0]['detail']})"
    assert data["depends"] == one["depends"]
    assert "depends: FAILED (20260101-x-0123456789ab v1: not in the base: patch 2" in markdown(merged)


def test_the_table_of_a_passing_run() -> None:
    lines = text_table(typed(single_run()))
    assert lines[0].split() == ["state", "lint", "build:a", "build:b", "boot:a", "subject"]
    assert lines[3].split()[:6] == ["patch", "2", "1", "warning", "ok", "+1w"]
    assert lines[5].split()[:4] == ["overlay", "ok", "ok", "ok"]


def test_merge_refuses_reports_of_different_data() -> None:
    one = single_run()
    other = copy.deepcopy(one)
    other["states"][2]["commit"] = "different"
    with pytest.raises(DataError, match="states"):
        merged_of([("x", one), ("y", other)])
    other = copy.deepcopy(one)
    other["revision"] = 3
    with pytest.raises(DataError, match="revision"):
        merged_of([("x", one), ("y", other)])


def test_a_partial_on_a_stale_branch_fails_the_merge() -> None:
    stale = {"series": "demo", "revision": 2, "results": "/r/stale",
             "branch": {"name": "patchkit/demo/v2", "matches": False, "detail": "not applied"},
             "configs": [{"name": "a", "boot": True}, {"name": "b", "boot": False}]}  # fmt: skip
    merged = merged_of([("ok", single_run()), ("stale", stale)]).to_json()
    assert merged["exit_code"] == 1 and merged["verdict"] == "FAILED (branch)"
    assert "(in stale)" in merged["branch"]["detail"]


def test_job_summary_markdown_is_golden() -> None:
    one = single_run(fail=("b", "patch 2"))
    assert markdown(typed(one)) == (GOLDEN / "summary-build-fails.md").read_text()
    assert markdown(typed(single_run())) == (GOLDEN / "summary-pass.md").read_text()


def test_ci_merge_command_exit_code_output_and_summary(tmp_path: Path) -> None:
    one = single_run(fail=("b", "patch 2"))
    paths = []
    for name, part in [("a", partial(one, ["a"], (0, 4), lint=True)), ("b", partial(one, ["b"], (0, 4), lint=False))]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(typed(part).to_json()))  # as verify writes it
        paths.append(str(tmp_path / name))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    out = tmp_path / "merged.json"
    result = run_cli(
        "ci", "merge", *paths, "--output", str(out), cwd=tmp_path, env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert result.code == 5, result.out + result.err
    table = result.out[result.out.index("state ") :].split("\n\n")[0].splitlines()
    assert table == text_table(typed(one))
    assert "verify (merged): FAILED: patch 2 does not build (config b)" in result.out
    assert valid_report(out)["exit_code"] == 5
    assert summary.read_text() == "earlier step\n" + markdown(typed(one))
    missing = run_cli("ci", "merge", str(tmp_path / "nothing-here"), cwd=tmp_path)
    assert missing.code == 2  # click: the path does not exist
    empty = tmp_path / "empty"
    empty.mkdir()
    none = run_cli("ci", "merge", str(empty), cwd=tmp_path)
    assert none.code == 3 and "no report.json" in none.err


def test_real_lint_only_partial_merges_to_the_single_run(applied_project: Project, tmp_path: Path) -> None:
    """verify --no-build on a small tree, once whole and once as a lint-only partial: same table and code."""
    series_dir, tree = applied_project.series, applied_project.tree
    common = ["verify", str(series_dir), "--tree", str(tree.path), "--no-build", "--no-checkpatch"]
    one = run_cli(*common, "--results", str(tmp_path / "one"), cwd=tmp_path)
    part = run_cli(*common, "--states", "0..2", "--results", str(tmp_path / "part"), cwd=tmp_path)
    assert one.code == part.code == 0, one.out + one.err
    merged = run_cli("ci", "merge", str(tmp_path / "part"), cwd=tmp_path)
    assert merged.code == one.code

    def table(out: str) -> str:
        return re.search(r"^state .*?(?=\n\n)", out, re.MULTILINE | re.DOTALL).group(0)  # type: ignore[union-attr]

    assert table(merged.out) == table(one.out)
    assert "hygiene" not in table(one.out) and "1 warning" in table(one.out)  # patch 2 has no body


def test_job_summary_shows_subjects_as_written() -> None:
    one = single_run()
    one["states"][1]["subject"] = "x86/tdx: Rename __tdx_module_call() to __tdcall() | <asm>"
    text = markdown(typed(one))
    assert "| x86/tdx: Rename \\_\\_tdx\\_module\\_call() to \\_\\_tdcall() \\| &lt;asm&gt; |" in text


# ---- coverage: every part of the series (or of the matrix) must be in some report ----------------------------


def _parts(one: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The four jobs of a split matrix: lint, a over two ranges, b whole."""
    return [
        ("lint", partial(one, [], (0, 4), lint=True, build=False)),
        ("a-0-2", partial(one, ["a"], (0, 2), lint=False)),
        ("a-3-4", partial(one, ["a"], (3, 4), lint=False)),
        ("b", partial(one, ["b"], (0, 4), lint=False)),
    ]


def _matrix_entry(name: str, args: str, series: str = "demo") -> dict[str, Any]:
    config = re.search(r"--config (\S+)", args)
    states = re.search(r"--states (\S+)", args)
    return {"name": f"{series}-{name}", "series": series, "base": "b", "config": config.group(1) if config else "",
            "states": states.group(1) if states else "", "lint": "--no-lint" not in args, "args": args,
            "save_base": name == "lint"}  # fmt: skip


MATRIX = {"include": [_matrix_entry("lint", "--no-build"), _matrix_entry("a-0-2", "--no-lint --config a --states 0..2"),
                      _matrix_entry("a-3-4", "--no-lint --config a --states 3..4"),
                      _matrix_entry("b", "--no-lint --config b")]}  # fmt: skip


def _write(directory: Path, parts: list[tuple[str, dict[str, Any]]]) -> list[str]:
    paths = []
    for name, part in parts:
        (directory / name).mkdir(parents=True)
        (directory / name / "report.json").write_text(json.dumps(typed(part).to_json()))
        paths.append(str(directory / name))
    return paths


def test_a_missing_job_fails_the_merge_naming_every_part_no_report_covered() -> None:
    one = single_run()
    parts = _parts(one)
    assert merged_of(parts).verdict == (0, "passed") and merged_of(parts).to_json()["coverage"]["missing"] == []
    without = [p for p in parts if p[0] != "a-3-4"]  # the job that never reported
    merged = merged_of(without)
    assert merged.verdict == (1, "FAILED: not covered by any report: build a at patch 3..overlay; boot a at overlay")
    assert [(c["stage"], c["config"], c["state"]) for c in merged.to_json()["coverage"]["missing"]] == [
        ("build", "a", "patch 3"), ("build", "a", "overlay"), ("boot", "a", "overlay")]  # fmt: skip
    assert merged.to_json()["coverage"]["expected"] == "the series' configs and states"
    lintless = merged_of(parts[1:])
    assert lintless.verdict == (1, "FAILED: not covered by any report: lint")
    assert "not covered by any report: lint" in markdown(lintless)
    # a real failure in what was covered still comes first, as in one run; the gap is still named
    failing = single_run(boot_fail=True)
    assert merged_of([p for p in _parts(failing) if p[0] != "b"]).verdict[0] == 6
    assert merged_of([p for p in _parts(failing) if p[0] != "b"]).missing_text == "build b at base..overlay"


def test_ci_merge_exits_1_and_prints_what_no_job_covered(tmp_path: Path) -> None:
    paths = _write(tmp_path / "jobs", [p for p in _parts(single_run()) if p[0] != "a-3-4"])
    out = tmp_path / "merged.json"
    result = run_cli("ci", "merge", *paths, "--output", str(out), cwd=tmp_path)
    assert result.code == 1, result.out + result.err
    assert "not covered by any report: build a at patch 3..overlay; boot a at overlay" in result.out
    assert "verify (merged): FAILED: not covered by any report" in result.out
    assert valid_report(out)["exit_code"] == 1


def test_expect_checks_the_matrix_jobs_and_names_the_missing_one(tmp_path: Path) -> None:
    matrix = tmp_path / "matrix.json"
    matrix.write_text(json.dumps(MATRIX))
    paths = _write(tmp_path / "jobs", [p for p in _parts(single_run()) if p[0] != "a-3-4"])
    result = run_cli("ci", "merge", *paths, "--expect", str(matrix), cwd=tmp_path)
    assert result.code == 1, result.out + result.err
    assert ("not covered by any report: build a at patch 3..overlay (job demo-a-3-4); "
            "boot a at overlay (job demo-a-3-4)") in result.out  # fmt: skip
    # a matrix without the lint job (ci matrix --no-lint) expects no lint
    no_lint = tmp_path / "no-lint.json"
    no_lint.write_text(json.dumps({"include": MATRIX["include"][1:]}))
    every = _write(tmp_path / "all", _parts(single_run())[1:])
    assert run_cli("ci", "merge", *every, "--expect", str(no_lint), cwd=tmp_path).code == 0
    assert run_cli("ci", "merge", *every, cwd=tmp_path).code == 1  # the whole series includes lint


@pytest.mark.parametrize(
    ("matrix", "expected"),
    [
        ("not json", "matrix.json: not valid JSON (Expecting value, line 1, column 1)"),
        (
            json.dumps({"include": [{k: v for k, v in MATRIX["include"][0].items() if k != "save_base"}]}),
            "matrix.json: include[0]",
        ),
        (
            json.dumps({"include": [_matrix_entry("x", "--no-lint --config nope")]}),
            "matrix.json: include[0].args: --config nope: series demo has no such config (its reports name: a, b)",
        ),
        (
            json.dumps({"include": [_matrix_entry("x", "--no-lint --config a --states 3..9")]}),
            "matrix.json: include[0].args: --states: '9' is not a state of this series",
        ),
        (
            json.dumps({"include": [_matrix_entry("lint", "--no-build", series="other")]}),
            "report.json: series 'demo' is not in",
        ),
    ],
)
def test_a_bad_matrix_is_exit_3_naming_the_file_and_key(tmp_path: Path, matrix: str, expected: str) -> None:
    (tmp_path / "matrix.json").write_text(matrix)
    paths = _write(tmp_path / "jobs", _parts(single_run()))
    result = run_cli("ci", "merge", *paths, "--expect", str(tmp_path / "matrix.json"), cwd=tmp_path)
    assert result.code == 3 and expected in result.err, result.err


def test_conflicting_verdicts_for_one_part_are_an_error_naming_both_reports(tmp_path: Path) -> None:
    one = single_run()
    first = partial(one, ["a"], (0, 4), lint=True)
    second = copy.deepcopy(first)
    second["build"]["results"][2]["status"] = "failed"  # a at patch 2
    second["build"]["results"][2]["error"] = "init/main.c:3: error: boom"
    with pytest.raises(DataError) as caught:
        merged_of([("jobs/x", first), ("jobs/y", second)])
    assert caught.value.exit_code == 3
    assert caught.value.message == (
        "jobs/y: build a at patch 2: failed, but ok in jobs/x; conflicting verdicts for one part "
        "(were both runs of the same data, with the same settings?)"
    )
    both_ok = merged_of(
        [("jobs/x", first), ("jobs/z", copy.deepcopy(first)), ("b", partial(one, ["b"], (0, 4), lint=False))]
    )
    assert both_ok.verdict == (0, "passed")  # the same verdict twice is no conflict
    booted = copy.deepcopy(first)
    booted["boot"]["boots"][0]["ok"] = False
    with pytest.raises(DataError, match="jobs/y: boot a at overlay: did not boot, but booted in jobs/x"):
        merged_of([("jobs/x", first), ("jobs/y", booted)])
    paths = _write(tmp_path, [("x", first), ("y", second)])
    result = run_cli("ci", "merge", *paths, cwd=tmp_path)
    assert result.code == 3 and "conflicting verdicts" in result.err and "y/report.json" in result.err


def _other_series(data: dict[str, Any]) -> dict[str, Any]:
    other = copy.deepcopy(data)
    other["series"] = "other"
    other["branch"]["name"] = "patchkit/other/v2"
    return other


def test_reports_of_several_series_merge_per_series(tmp_path: Path) -> None:
    demo = _parts(single_run())
    other = [(f"other-{name}", _other_series(part)) for name, part in _parts(single_run(fail=("b", "patch 2")))]
    paths = _write(tmp_path / "jobs", demo + other)
    summary = tmp_path / "summary.md"
    result = run_cli("ci", "merge", str(tmp_path / "jobs"), "--output-dir", str(tmp_path / "merged"), cwd=tmp_path,
                     env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert result.code == 5, result.out + result.err
    assert "== series demo" in result.out and "== series other" in result.out
    assert "patch 2 does not build (config b) (series other; 1 of 2 failed) (merged)" in result.err
    assert valid_report(tmp_path / "merged" / "demo" / "report.json")["exit_code"] == 0
    assert valid_report(tmp_path / "merged" / "other" / "report.json")["exit_code"] == 5
    assert (
        "### patchkit verify: demo v2" in summary.read_text() and "### patchkit verify: other v2" in summary.read_text()
    )
    one_file = run_cli("ci", "merge", *paths, "--output", str(tmp_path / "m.json"), cwd=tmp_path)
    assert one_file.code == 2 and "use --output-dir" in one_file.err
    # a series of the matrix no job reported on at all fails the merge
    matrix = tmp_path / "matrix.json"
    matrix.write_text(json.dumps({"include": [*MATRIX["include"], _matrix_entry("lint", "--no-build", "third")]}))
    third = run_cli("ci", "merge", *paths[:4], "--expect", str(matrix), cwd=tmp_path)
    assert third.code == 1, third.out + third.err
    assert "FAILED: no report of series third (jobs: third-lint)" in third.out
