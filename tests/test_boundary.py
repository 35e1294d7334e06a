"""The CLI's one error boundary: every outcome is one exit code and at most one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit import cli
from patchkit.boundary import run_guarded
from patchkit.commands import status
from patchkit.errors import ExitCode, TreeError


def _status_raising(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> int:
    def broken(*args: object) -> int:
        raise error

    monkeypatch.setattr(status, "run", broken)
    return run_guarded(lambda: cli.cli.main(args=["status"], prog_name="patchkit", standalone_mode=False))


def test_an_unexpected_exception_is_one_line_exit_70_and_a_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], hermetic_env: Path
) -> None:
    code = _status_raising(monkeypatch, RuntimeError("boom"))
    assert code == ExitCode.INTERNAL and int(code) == 70
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("patchkit: internal error: RuntimeError: boom (a bug in patchkit; details in ")
    log = Path(err.rsplit("details in ", 1)[1].rstrip(")\n"))
    assert log.is_relative_to(hermetic_env / ".cache" / "patchkit" / "crashes")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom" in text


def test_an_oserror_that_escaped_is_exit_8_naming_the_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _status_raising(monkeypatch, PermissionError(13, "Permission denied", "/srv/readonly/x"))
    assert code == ExitCode.ENVIRONMENT and int(code) == 8
    assert capsys.readouterr().err == "patchkit: error: /srv/readonly/x: Permission denied\n"


def test_typed_errors_keep_their_code_and_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _status_raising(monkeypatch, TreeError("tree is dirty", hint="commit first"))
    assert code == 4
    assert capsys.readouterr().err == "patchkit: error: tree is dirty (commit first)\n"


def test_an_interrupt_is_130_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _status_raising(monkeypatch, KeyboardInterrupt()) == 130
    # click prints a newline first, so the message starts on its own line after a terminal's ^C.
    assert capsys.readouterr().err.lstrip("\n") == "patchkit: interrupted; nothing was left half done\n"


def test_a_usage_error_is_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_guarded(lambda: cli.cli.main(args=["no-such-command"], prog_name="patchkit", standalone_mode=False))
    assert code == 2
    assert "No such command 'no-such-command'" in capsys.readouterr().err
