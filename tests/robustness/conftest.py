"""Fixtures of the robustness tests: the CLI run in process (fast), with the test's signal handlers kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from patchkit import cli
from patchkit.boundary import run_guarded
from tests.helpers import CliResult, GitTree
from tests.robustness.corpus import Project

RunCli = Callable[..., CliResult]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunCli:
    """``run(*args, cwd=DIR)``: patchkit's real command line and error boundary, in this process."""

    def run_cli(*args: str, cwd: Path) -> CliResult:
        with monkeypatch.context() as local:
            local.chdir(cwd)
            capsys.readouterr()
            code = run_guarded(lambda: cli.cli.main(args=list(args), prog_name="patchkit", standalone_mode=False))
            captured = capsys.readouterr()
        assert "Traceback" not in captured.err + captured.out
        return CliResult(int(code), captured.out, captured.err)

    return run_cli


@pytest.fixture
def project(tmp_path: Path, small_tree: GitTree) -> Project:
    return Project.create(tmp_path / "project", small_tree)
