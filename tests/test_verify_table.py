"""verify's table, explanation and exit code as functions of its result alone (no tree, no kernel build)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from patchkit.apply.engine import apply_series
from patchkit.apply.states import BranchState, State
from patchkit.boot.qemu import AccelChoice, BootResult
from patchkit.boot.run import BootReport
from patchkit.cli.commands import verdict_exit, verify
from patchkit.cli.options import VerifyOptions
from patchkit.errors import BootError, BuildError, ExitCode
from patchkit.kbuild.walk import BuildReport, StateBuild
from patchkit.series.load import load_series
from patchkit.series.model import KconfigSpec
from patchkit.tree.repo import KernelTree
from patchkit.verify.plan import LintPlan, plan
from patchkit.verify.report import BranchCheck, Scope, SeriesConfig, VerifyReport, explanation, verdict
from patchkit.verify.report import text_table as table
from patchkit.verify.stages import LintOutcome, StagesResult, report_of
from tests.helpers import (
    DIFF_NEW_FILE,
    DIFF_README,
    SMALL_FILES,
    GitTree,
    fake_kernel_files,
    small_series_data,
    write_series,
)

STATES = [
    State(0, "base", "b" * 40),
    State(1, "patch 1", "1" * 40, "x86/tdx: First", 1),
    State(2, "patch 2", "2" * 40, "x86/tdx: Second", 2),
]
MATCHES = BranchState("patchkit/demo/v1", True, "2" * 40, False, True, "matches the data (2 patches)")


def _build(state: State, status: str = "ok", cached: str = "") -> StateBuild:
    build = StateBuild("guest", state, status, 1.0, Path(f"/r/build/guest/{state.index:02d}.log"), cached=cached)
    if status == "failed":
        build.excerpt = "tdx.c:3:1: error: expected ';'\n    3 | }"
        build.error = "tdx.c:3:1: error: expected ';'"
    return build


def _boot(ok: bool = True, cached: str = "") -> BootResult:
    reason = "reached the init marker" if ok else "kernel panic"
    return BootResult("guest", "patch 2", "tcg", ok, reason, "" if ok else "Kernel panic - not syncing",
                      Path("/r/boot/guest.console.log"), 2.0, "console=ttyS0", cached)  # fmt: skip


def _before_run(branch: BranchState = MATCHES) -> VerifyReport:
    return VerifyReport("demo", 1, BranchCheck.of(branch), (SeriesConfig("guest", True),), results="/r")


def _result(
    builds: list[StateBuild] | None = None,
    boots: list[BootResult] | None = None,
    lint: LintOutcome | None = None,
    branch: BranchState = MATCHES,
) -> VerifyReport:
    build_report = BuildReport(STATES, ["guest"], builds if builds is not None else [_build(s) for s in STATES])
    stages = StagesResult(
        lint or LintOutcome(True, "0 error(s)"), build_report,
        BootReport(boots if boots is not None else [_boot()], AccelChoice("tcg", "no KVM")),
    )  # fmt: skip
    scope = Scope(lint=True, build=True, boot=True, configs=("guest",), states=(0, 2))
    return report_of(_before_run(branch), STATES, scope, stages)


def test_a_passing_run_is_exit_0_with_one_row_per_state() -> None:
    result = _result()
    assert verdict(result) == (ExitCode.OK, "passed")
    assert table(result) == [
        "state    lint  build:guest  boot:guest  subject",
        "base           ok",
        "patch 1  ok    ok                       x86/tdx: First",
        "patch 2  ok    ok           ok          x86/tdx: Second",
    ]
    assert explanation(result) == []


def test_a_build_failure_is_exit_5_and_named_again_at_the_end() -> None:
    builds = [_build(STATES[0]), _build(STATES[1], "failed")]
    result = _result(builds, boots=[])
    code, text = verdict(result)
    assert code == ExitCode.BUILD and int(code) == 5
    assert text == "FAILED: patch 1 does not build (config guest)"
    assert table(result)[2:] == [
        "patch 1  ok    FAIL                     x86/tdx: First",
        "patch 2  ok    -                        x86/tdx: Second",  # not built: the walk stopped at patch 1
    ]
    assert explanation(result) == [
        "first failing state: patch 1 (x86/tdx: First), config guest:",
        "  | tdx.c:3:1: error: expected ';'",
        "  |     3 | }",
        "  log: /r/build/guest/01.log",
    ]


def test_a_boot_failure_is_exit_6_and_a_build_failure_outranks_it() -> None:
    result = _result(boots=[_boot(ok=False)])
    assert verdict(result) == (ExitCode.BOOT, "FAILED: config guest at patch 2 did not boot (kernel panic)")
    assert table(result)[-1] == "patch 2  ok    ok           FAIL        x86/tdx: Second"
    assert explanation(result)[0] == "boot failure: config guest at patch 2: kernel panic"
    both = _result([_build(STATES[0]), _build(STATES[1]), _build(STATES[2], "failed")], boots=[_boot(ok=False)])
    assert verdict(both)[0] == ExitCode.BUILD


def test_lint_findings_at_fail_on_are_exit_1_and_shown_per_patch() -> None:
    lint = LintOutcome(True, "1 error(s) (FAILED)", failed=True, per_patch={2: "1 error"})
    result = _result(lint=lint)
    assert verdict(result) == (ExitCode.FINDINGS, "FAILED: lint (1 error(s) (FAILED))")
    assert table(result)[3].startswith("patch 2  1 error  ok")
    below = _result(lint=LintOutcome(True, "1 warning(s)", failed=False, per_patch={2: "1 warning"}))
    assert verdict(below) == (ExitCode.OK, "passed")


def test_cached_verdicts_are_marked_and_explained_under_the_table() -> None:
    cached = "cached from 2026-11-30 on host"
    result = _result([_build(s, cached=cached) for s in STATES], boots=[_boot(cached=cached)])
    lines = table(result)
    assert lines[1] == "base           ok (c)"
    assert lines[3] == "patch 2  ok    ok (c)       ok (c)      x86/tdx: Second"
    assert lines[-1] == "((c): verdict from the cache; when and where it was computed: report.json)"
    assert verdict(result)[0] == ExitCode.OK


def test_a_branch_that_does_not_match_is_exit_1_and_nothing_else_ran() -> None:
    why = "matches the data, but the overlay patches changed since apply (run 'patchkit apply' again)"
    stale = BranchState("patchkit/demo/v1", True, "2" * 40, False, False, why)
    result = _before_run(stale)
    assert verdict(result) == (ExitCode.FINDINGS, "FAILED (branch)")
    assert "states" not in result.to_json() and "build" not in result.to_json()
    assert table(result) == ["state  lint  subject"]


def test_a_command_returns_only_success_or_findings_and_raises_the_rest() -> None:
    assert verdict_exit(0, "passed") == 0 and verdict_exit(1, "FAILED: lint") == 1
    with pytest.raises(BuildError) as build:
        verdict_exit(5, "patch 1 does not build (config guest)")
    assert build.value.exit_code == 5 and build.value.message == "patch 1 does not build (config guest)"
    with pytest.raises(BootError) as boot:
        verdict_exit(6, "config guest at patch 2 did not boot")
    assert boot.value.exit_code == 6


BUILT = "mkdir -p $(O)/arch/x86/boot && cat README > $(O)/arch/x86/boot/bzImage"
BROKEN = "echo \"README:1:1: error: 'tiny' undeclared\" >&2; exit 2"


def _fake_kernel_series(root: Path, recipe: str) -> tuple[KernelTree, Path]:
    """The small series on a tree whose make configures at once and runs ``recipe`` as the build."""
    tree = GitTree.create_small(root / "linux", {**SMALL_FILES, **fake_kernel_files(recipe)})
    (tree.path / "scripts/kconfig/merge_config.sh").chmod(0o755)
    tree.git("commit", "-q", "-a", "-m", "mode")
    tree.git("tag", "-f", "patchkit-base")
    data = small_series_data(tree)
    data["configs"] = [{"name": "guest", "fragment": "guest.config"}]
    diffs = {"0001-readme.diff": DIFF_README, "0002-makefile.diff": DIFF_NEW_FILE, "guest.config": "CONFIG_X86_64=y\n"}
    directory = write_series(root / "series" / "demo", data, diffs)
    kernel = KernelTree(tree.path)
    apply_series(kernel, load_series(directory))
    return kernel, directory


def test_verify_runs_the_stages_then_shows_cached_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree, directory = _fake_kernel_series(tmp_path, BUILT)
    request = VerifyOptions(series=str(directory), tree=tree.path, lint=False, boot=False)
    assert verify.run(replace(request, results_dir=tmp_path / "first")) == 0
    first = capsys.readouterr().out
    assert "patch 2  -     ok           x86/virt: Add a Makefile" in first and "verify: passed" in first
    assert verify.run(replace(request, results_dir=tmp_path / "again")) == 0
    assert "patch 2  -     ok (c)       x86/virt: Add a Makefile" in capsys.readouterr().out


def test_verify_of_a_state_that_does_not_build_raises_exit_5_after_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree, directory = _fake_kernel_series(tmp_path, BROKEN)
    request = VerifyOptions(series=str(directory), tree=tree.path, lint=False, boot=False, results_dir=tmp_path / "r")
    with pytest.raises(BuildError) as caught:
        verify.run(request)
    assert caught.value.exit_code == 5
    assert caught.value.message == f"base does not build (config guest) (results in {tmp_path / 'r'})"
    out = capsys.readouterr().out
    assert "base     -     FAIL" in out and "first failing state: base, config guest:" in out
    assert json.loads((tmp_path / "r" / "report.json").read_text())["exit_code"] == 5


def test_the_plan_of_a_range_builds_the_state_before_it_and_boots_only_at_the_end() -> None:
    states = [*STATES, State(3, "overlay", "o" * 40, "test: Probe")]
    configs = [KconfigSpec("guest", "guest.config")]
    whole = plan(states, configs, lint=LintPlan())
    assert whole.build is not None and [s.label for s in whole.build.states] == [s.label for s in states]
    assert whole.boot is not None and whole.boot.states == {3} and whole.lint is not None
    tail = plan(states, configs, states_range="2..overlay")
    assert tail.build is not None and [s.label for s in tail.build.states] == ["patch 1", "patch 2", "overlay"]
    assert tail.scope.states == (2, 3) and tail.lint is None
    head = plan(states, configs, lint=LintPlan(), states_range="base..1")
    assert head.build is not None and [s.index for s in head.build.states] == [0, 1]
    assert head.boot is not None and head.boot.states == frozenset()  # the end is not in this part
    lint_only = plan(states, configs, lint=LintPlan(), build=False)
    assert (lint_only.build, lint_only.boot, lint_only.scope.boot) == (None, None, False)
