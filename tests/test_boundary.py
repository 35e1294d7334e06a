"""The CLI's one error boundary: every outcome is one exit code and at most one line, never a traceback.

Each test runs ``patchkit status`` as the console script does (tests.helpers.run_cli goes in through
patchkit.cli.entry.main) with a fault planted in the library below the command (KernelTree.git, which every
command that reads a tree goes through), so the tests hold whatever shape the commands take.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.errors import ExitCode, TreeError
from patchkit.tree.repo import KernelTree
from tests.helpers import REPO_ROOT, CliResult, Project, run_cli, run_process

PLANTED = """
import patchkit.tree.repo


def _planted(self, *args, **kwargs):
    raise RuntimeError("planted bug")


patchkit.tree.repo.KernelTree.git = _planted
"""


def _status_raising(project: Project, monkeypatch: pytest.MonkeyPatch, error: BaseException) -> CliResult:
    def broken(self: KernelTree, *args: object, **kwargs: object) -> str:
        raise error

    monkeypatch.setattr(KernelTree, "git", broken)
    return project.cli("status", "--tree", str(project.tree.path))


def _crash_log(err: str, message: str) -> Path:
    """The one line of an internal error, checked; the log file it names."""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"patchkit: internal error: {message} (a bug in patchkit; details in "), err
    return Path(err.rsplit("details in ", 1)[1].rstrip(")\n"))


def test_an_unexpected_exception_is_one_line_exit_70_and_a_log(
    applied_project: Project, monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    result = _status_raising(applied_project, monkeypatch, RuntimeError("boom"))
    assert result.code == ExitCode.INTERNAL and result.code == 70
    assert "Traceback" not in result.out + result.err
    log = _crash_log(result.err, "RuntimeError: boom")
    assert log.is_relative_to(hermetic_env / ".cache" / "patchkit" / "crashes")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom" in text
    assert "in broken" in text  # the traceback reaches down to where the bug is


def test_a_real_patchkit_process_with_a_bug_says_one_line_exits_70_and_keeps_the_log(
    applied_project: Project, tmp_path: Path, hermetic_env: Path
) -> None:
    """The same through ``python -m patchkit``: the bug is planted by a sitecustomize module on its path."""
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "sitecustomize.py").write_text(PLANTED)
    result = run_process(
        "status", "--tree", str(applied_project.tree.path), cwd=applied_project.root,
        env={"PYTHONPATH": f"{planted}:{REPO_ROOT}"},
    )  # fmt: skip
    assert result.code == 70, result.err
    log = _crash_log(result.err, "RuntimeError: planted bug")
    assert log.is_file() and log.is_relative_to(hermetic_env / ".cache" / "patchkit" / "crashes")
    assert "_planted" in log.read_text()


def test_an_oserror_that_escaped_is_exit_8_naming_the_path(
    applied_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _status_raising(applied_project, monkeypatch, PermissionError(13, "Permission denied", "/srv/readonly/x"))
    assert result.code == ExitCode.ENVIRONMENT and result.code == 8
    assert result.err == "patchkit: error: /srv/readonly/x: Permission denied\n"


def test_typed_errors_keep_their_code_and_hint(applied_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _status_raising(applied_project, monkeypatch, TreeError("tree is dirty", hint="commit first"))
    assert result.code == 4
    assert result.err == "patchkit: error: tree is dirty (commit first)\n"


def test_an_interrupt_is_130_with_one_line(applied_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _status_raising(applied_project, monkeypatch, KeyboardInterrupt())
    assert result.code == 130
    # click prints a newline first, so the message starts on its own line after a terminal's ^C.
    assert result.err.lstrip("\n") == "patchkit: interrupted; nothing was left half done\n"


def test_a_usage_error_is_2(tmp_path: Path) -> None:
    result = run_cli("no-such-command", cwd=tmp_path)
    assert result.code == 2
    assert "No such command 'no-such-command'" in result.err
