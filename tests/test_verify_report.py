"""report.json typed: to_json/from_json round trips, its schema, malformed reports are exit 3, merge at scale."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from patchkit.apply.states import State
from patchkit.errors import DataError, ExitCode
from patchkit.verify.merge import merge
from patchkit.verify.prerequisites import FAILING, MISSING, PRESENT, UNCHECKED, UNKNOWN
from patchkit.verify.report import (
    MAX_REPORT_BYTES,
    BootCell,
    BootSection,
    BranchCheck,
    BuildCell,
    BuildSection,
    DependsCheck,
    LintSummary,
    Scope,
    SeriesConfig,
    VerifyReport,
    depends_summary,
    read_report,
    text_table,
)
from tests.helpers import REPORT_SCHEMA, run_cli, valid_report
from tests.test_ci_merge import partial, single_run

Data = dict[str, Any]


def full_run() -> Data:
    """A whole run's report as verify writes it: every optional part present, a failure and a cached cell."""
    data = VerifyReport.from_json(single_run(boot_fail=True), "one").to_json()
    data["build"]["results"][3]["cached"] = "cached from 2026-11-30 on host"
    data["build"]["results"][3]["reconfigured"] = True
    data["boot"]["accel_why"] = "no /dev/kvm"
    data["depends"] = [
        {"dependency": "20260101-x-0123456789ab v1", "change_id": "20260101-x-0123456789ab", "revision": 1,
         "status": "present", "failed": False, "detail": "its 2 patch(es) (v1, history/v1) are in the base"},
        {"dependency": "1 patch(es) from 111111111111", "change_id": None, "revision": None,
         "status": "cannot check", "failed": False, "detail": "cannot check: the base has no commit history"},
    ]  # fmt: skip
    return VerifyReport.from_json(data, "one").to_json()


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_to_json_and_from_json_round_trip() -> None:
    data = full_run()
    report = VerifyReport.from_json(data, "one")
    assert report.to_json() == data
    assert VerifyReport.from_json(json.loads(json.dumps(data)), "again") == report
    assert (data["format"], data["exit_code"], data["verdict"]) == (
        1,
        6,
        "FAILED: config a at overlay did not boot (panic: oops)",
    )
    assert report.build is not None and report.build.results[3].cached and report.build.results[3].reconfigured
    assert report.lint_summary == LintSummary(True, False, "0 error(s), 1 warning(s)", {2: "1 warning"})
    assert report.depends is not None and [(d.status, d.failed, d.revision) for d in report.depends] == [
        ("present", False, 1),
        ("cannot check", False, None),
    ]
    jsonschema.Draft202012Validator(json.loads(REPORT_SCHEMA.read_text())).validate(data)


def test_reports_of_every_kind_match_the_schema_and_round_trip() -> None:
    schema = jsonschema.Draft202012Validator(json.loads(REPORT_SCHEMA.read_text()))
    one = single_run(fail=("b", "patch 2"))
    stale = VerifyReport("demo", 2, BranchCheck("patchkit/demo/v2", False, "not applied"), (SeriesConfig("a"),),
                         results="/r/stale")  # fmt: skip
    parts = [("lint", partial(one, [], (0, 4), lint=True, build=False)), ("a", partial(one, ["a"], (0, 4), lint=False)),
             ("b", partial(one, ["b"], (0, 4), lint=False))]  # fmt: skip
    typed = [(name, VerifyReport.from_json(part, name)) for name, part in parts]
    merged = merge(typed)
    stale_merged = merge([*typed, ("stale", stale)])
    no_boot = VerifyReport.from_json({**single_run(), "boot": None}, "no-boot")
    for report in (stale, merged, stale_merged, no_boot, *(r for _, r in typed)):
        data = report.to_json()
        schema.validate(data)
        assert VerifyReport.from_json(data, "x") == report
    assert "boot" not in typed[0][1].to_json() and no_boot.to_json()["boot"] is None
    assert merged.to_json()["merged_from"] == ["lint", "a", "b"] and "results" not in merged.to_json()


def test_depends_statuses_are_the_checks_and_only_missing_or_unknown_fail() -> None:
    schema = json.loads(REPORT_SCHEMA.read_text())["$defs"]["depends_check"]
    assert set(schema["properties"]["status"]["enum"]) == {PRESENT, MISSING, UNKNOWN, UNCHECKED}
    assert set(schema["if"]["properties"]["status"]["enum"]) == FAILING == {MISSING, UNKNOWN}
    base = VerifyReport.from_json(single_run(), "one")
    heads = {PRESENT: "ok", UNCHECKED: "cannot check", MISSING: "FAILED", UNKNOWN: "FAILED"}
    for status, head in heads.items():
        check = DependsCheck("x v1", "x", 1, status, "what was found")
        assert DependsCheck.from_json(check.to_json(), "check") == check
        report = replace(base, depends=(check,))
        expected = (1, "FAILED: depends (x v1: what was found)") if status in FAILING else (0, "passed")
        assert report.verdict == expected and report.to_json()["depends"][0]["failed"] is (status in FAILING)
        assert depends_summary(report) == f"{head} (x v1: what was found)"
    assert depends_summary(replace(base, depends=())) is None and depends_summary(base) is None
    assert "depends" not in base.to_json() and replace(base, depends=()).to_json()["depends"] == []


def test_the_verdict_is_computed_once_per_report() -> None:
    report = VerifyReport.from_json(single_run(), "one")
    assert report.verdict is report.verdict
    assert report.to_json()["verdict"] == "passed"


def test_a_part_reads_and_checks_on_its_own() -> None:
    cell = BuildCell("a", "base", "c0", "ok", 1.5, "x.log")
    assert BuildCell.from_json(cell.to_json(), "cell") == cell
    with pytest.raises(DataError, match=r"^cell: status: 'okay' is not one of \['ok', 'failed'\]$"):
        BuildCell.from_json({**cell.to_json(), "status": "okay"}, "cell")
    with pytest.raises(DataError, match=r"^boot: boots\[0\]\.ok: missing"):
        BootSection.from_json({"accel": "tcg", "boots": [{k: v for k, v in _boot_json().items() if k != "ok"}]}, "boot")


def _boot_json() -> Data:
    return BootCell("a", "overlay", True, "ok", "c.log").to_json()


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _drop(path: tuple[str | int, ...]) -> Callable[[Data], None]:
    def edit(data: Data) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def _with_coverage(cell: Data) -> Callable[[Data], None]:
    """A merged report whose coverage names ``cell`` as missing."""

    def edit(data: Data) -> None:
        data.pop("results", None)
        data["merged_from"] = ["x"]
        data["coverage"] = {"expected": "the series' configs and states", "missing": [cell]}

    return edit


def _scope_alone(data: Data) -> None:
    """A stale branch's report that kept a scope: scope, states and lint_summary come together or not at all."""
    for key in ("states", "lint_summary", "lint", "build", "boot"):
        del data[key]
    data["branch"]["matches"] = False


MALFORMED: list[tuple[str, Callable[[Data], None], str]] = [
    ("wrong type", _set(("branch", "matches"), "yes"), "branch.matches: expected boolean, got str 'yes'"),
    ("missing key", _drop(("build", "results", 1, "status")), "build.results[1].status: missing"),
    ("missing part", _drop(("branch",)), "branch: missing"),
    ("unknown key", _set(("bogus",), 1), "bogus: unknown key"),
    ("list for an object", _set(("scope",), [0, 4]), "scope: expected object, got list"),
    ("object for a list", _set(("states",), {"base": 0}), "states: expected array, got dict"),
    ("short range", _set(("scope", "states"), [0]), "scope.states: "),
    ("bad status", _set(("build", "results", 0, "status"), "okay"), "build.results[0].status: 'okay' is not one of"),
    ("bad boot inside null-or-object", _set(("boot", "accel"), 3),
     "boot.accel: expected ['string', 'null'], got int 3"),
    ("bad lint cell key", _set(("lint_summary", "per_patch"), {"two": "1 warning"}), "lint_summary.per_patch: "),
    ("negative revision", _set(("revision",), 0), "revision: 0 is less than the minimum of 1"),
    ("boolean for a number", _set(("build", "results", 0, "seconds"), True),
     "build.results[0].seconds: expected number"),
    ("no states though the branch matches", _drop(("states",)), "states: missing (a verify report with 'scope'"),
    ("a scope without the rest", _scope_alone, "states: missing (a verify report with 'scope' has it)"),
    ("newer format", _set(("format",), 2), "format: 2 is not a report format this patchkit reads (1)"),
    ("unknown state", _set(("build", "results", 0, "state"), "patch 9"),
     "build.results[0].state: 'patch 9' is not a state"),
    ("unknown config", _set(("boot", "boots", 0, "config"), "c"), "boot.boots[0].config: 'c' is not a config"),
    ("two states of one label", _set(("states", 2, "label"), "patch 1"), "states[2].label: 'patch 1' names two states"),
    ("range outside the states", _set(("scope", "states"), [0, 9]), "scope.states: [0, 9] is not a range"),
    ("a depends status that is none", _set(("depends", 0, "status"), "gone"),
     "depends[0].status: 'gone' is not one of ['present', 'missing', 'unknown', 'cannot check']"),
    ("a missing prerequisite that does not fail", _set(("depends", 0, "status"), "missing"),
     "depends[0].failed: True was expected"),
    ("a present one that fails", _set(("depends", 0, "failed"), True), "depends[0].failed: False was expected"),
    ("depends without its detail", _drop(("depends", 1, "detail")), "depends[1].detail: missing"),
    ("coverage in a run's own report", _set(("coverage",), {"expected": "x", "missing": []}),
     "merged_from: missing (a verify report with 'coverage' has it)"),
    ("a missing part of no state", _with_coverage({"stage": "build", "config": "a", "state": "patch 9", "job": None}),
     "coverage.missing[0].state: 'patch 9' is not a state"),
    ("a missing lint part with a state",
     _with_coverage({"stage": "lint", "config": None, "state": "base", "job": None}),
     "coverage.missing[0].state: expected null"),
    ("a missing part of no stage", _with_coverage({"stage": "test", "config": "a", "state": "base", "job": None}),
     "coverage.missing[0].stage: 'test' is not one of ['lint', 'build', 'boot']"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "edit", "expected"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_a_malformed_report_is_exit_3_naming_the_file_and_key(
    why: str, edit: Callable[[Data], None], expected: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = copy.deepcopy(full_run())
    edit(data)
    where = tmp_path_factory.mktemp("bad") / "job-a"  # not under tmp_path: the schema fixture would refuse it
    where.mkdir()
    (where / "report.json").write_text(json.dumps(data))
    result = run_cli("ci", "merge", str(where), cwd=where)
    assert result.code == ExitCode.INVALID_DATA, (why, result.out, result.err)
    assert f"{where / 'report.json'}: {expected}" in result.err, result.err
    with pytest.raises(DataError):
        VerifyReport.from_json(data, "x")


NOT_A_REPORT: list[tuple[str, bytes, str]] = [
    ("empty", b"", "not valid JSON (Expecting value, line 1, column 1)"),
    ("cut short", json.dumps(single_run()).encode()[:-20], "not valid JSON (Expecting"),
    ("not UTF-8", b'{"series": "\xff"}', "not valid JSON (not UTF-8 at byte 12)"),
    ("duplicate key", b'{"series": "a", "series": "b"}', "not valid JSON (duplicate key 'series')"),
    ("NaN", b'{"revision": NaN}', "not valid JSON (NaN is not a JSON number)"),
    ("nested too deeply", b"[" * 200_000 + b"]" * 200_000, "JSON nested deeper than 64 levels"),
    ("a list", b"[]", "(top level): expected object, got list []"),
    ("a build's report, not verify's", b'{"series": "demo", "build": {}}', "revision: missing"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "raw", "expected"), NOT_A_REPORT, ids=[case[0] for case in NOT_A_REPORT])
def test_a_file_that_is_not_a_report_is_exit_3(
    why: str, raw: bytes, expected: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("bad") / "report.json"
    path.write_bytes(raw)
    result = run_cli("ci", "merge", str(path), cwd=path.parent)
    assert result.code == ExitCode.INVALID_DATA, (why, result.out, result.err)
    assert f"{path}: {expected}" in result.err, result.err


def test_a_special_or_huge_file_is_refused_before_it_is_read(tmp_path_factory: pytest.TempPathFactory) -> None:
    bad = tmp_path_factory.mktemp("bad")
    fifo = bad / "fifo" / "report.json"  # opening it would wait for a writer forever
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    huge = bad / "huge.json"
    with huge.open("wb") as handle:  # sparse: nothing is written
        handle.truncate(MAX_REPORT_BYTES + 1)
    inside = bad / "dir"
    (inside / "report.json").mkdir(parents=True)  # a directory named report.json is no report
    for target, expected in [
        (fifo.parent, f"{fifo}: not a regular file"),
        (huge, f"{huge}: {MAX_REPORT_BYTES + 1} bytes, more than the limit of {MAX_REPORT_BYTES}"),
        (inside, f"{inside}: no report.json under this directory"),
    ]:
        result = run_cli("ci", "merge", str(target), cwd=bad)
        assert result.code == ExitCode.INVALID_DATA and expected in result.err, result.err
    with pytest.raises(DataError, match="no such report"):
        read_report(bad / "missing.json")


def test_merge_is_linear_in_the_number_of_results() -> None:
    """20,000 states x 4 configs in per-config partials: one state index for all results, not one per result.

    Rebuilding the index for each result (as merge once did) is 80,000 x 20,000 steps here: hours, not
    the moment this takes. No time is asserted; the test finishing is the point, with the same table.
    """
    count, configs = 20_000, ("a", "b", "c", "d")
    states = tuple(State(i, "base" if i == 0 else f"patch {i}", f"c{i}", f"s{i}", i or None) for i in range(count))
    cells = tuple(BuildCell(c, s.label, s.commit, "ok", 1.0, "x.log") for s in states for c in configs)
    boots = (BootCell("a", states[-1].label, True, "ok", "c.log"),)
    whole = VerifyReport(
        "big", 1, BranchCheck("b", True, "matches"), tuple(SeriesConfig(c, c == "a") for c in configs),
        results="/r", states=states, scope=Scope(True, True, True, configs, (0, count - 1)),
        lint_summary=LintSummary(True), build=BuildSection(configs, cells), boot=BootSection(boots, "tcg"),
    )  # fmt: skip
    parts = []
    for config in configs:
        mine = tuple(r for r in cells if r.config == config)
        scope = Scope(config == "a", True, True, (config,), (0, count - 1))
        build, boot = BuildSection((config,), mine), BootSection(tuple(b for b in boots if b.config == config))
        parts.append((config, VerifyReport(whole.series, 1, whole.branch, whole.configs, results=f"/r/{config}",
                                           states=states, scope=scope, lint_summary=LintSummary(config == "a"),
                                           build=build, boot=boot)))  # fmt: skip
    merged = merge(parts)
    assert merged.build is not None and len(merged.build.results) == count * len(configs)
    assert merged.build.results == whole.build.results  # type: ignore[union-attr]
    assert text_table(merged) == text_table(whole)
    assert merged.verdict == whole.verdict == (0, "passed")
    gap = merge(parts[:3])  # d's job never reported: 20,000 cells no report covered, named as one range
    assert gap.verdict == (1, f"FAILED: not covered by any report: build d at base..patch {count - 1}")
    assert gap.coverage is not None and len(gap.coverage.missing) == count


def test_valid_report_checks_what_verify_writes(tmp_path: Path) -> None:
    path = tmp_path / "one" / "report.json"
    path.parent.mkdir()
    path.write_text(json.dumps(full_run(), indent=2))
    assert valid_report(path)["verdict"].startswith("FAILED: config a at overlay")
    assert read_report(path.parent) == VerifyReport.from_json(full_run(), "x")
