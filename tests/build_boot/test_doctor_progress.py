"""doctor's checks and apt command, the CLI's exit code for missing tools, progress output modes."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from patchkit.errors import MissingToolError
from patchkit.util import tools
from patchkit.util.progress import Progress
from tests.helpers import run_cli

REPO_ROOT = Path(__file__).resolve().parents[2]


def _path_with(tmp_path: Path, *programs: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for program in programs:
        found = shutil.which(program)
        if found is None:
            pytest.skip(f"{program} is not installed")
        (bin_dir / program).symlink_to(found)
    return str(bin_dir)


def test_missing_programs_give_one_apt_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path, "git", "make"))
    checks = tools.check()
    missing = {c.need.what for c in checks if c.found is None}
    assert {"gcc", "flex", "qemu-system-x86_64", "static busybox"} <= missing
    assert "git" not in missing and "make" not in missing
    command = tools.apt_command(checks)
    assert command is not None
    assert "qemu-system-x86" in command.split() and "busybox-static" in command.split()
    assert "ccache" not in command.split()  # optional
    with pytest.raises(MissingToolError) as caught:
        tools.require(tools.BOOT)
    assert caught.value.message == "missing: qemu-system-x86_64, static busybox"
    assert caught.value.packages == ("busybox-static", "qemu-system-x86")


def test_doctor_cli_exits_7_and_boot_cli_names_qemu(tmp_path: Path) -> None:
    env = {"PATH": _path_with(tmp_path, "git", "busybox")}
    result = run_cli("doctor", cwd=tmp_path, env=env)
    assert result.code == 7
    assert "MISSING qemu-system-x86_64" in result.out
    assert "apt-get install" in result.out
    boot = run_cli("boot", cwd=tmp_path, env=env)
    assert boot.code == 7
    assert "patchkit: error: missing: qemu-system-x86_64" in boot.err
    assert "qemu-system-x86" in boot.err


def test_plain_progress_prints_one_line_per_step(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress(live=False) as progress:
        progress.step("build", "guest at patch 3", 4, 11)
        progress.line("  build guest patch 3 ok")
    captured = capsys.readouterr()
    assert captured.err == "[build 4/11] guest at patch 3\n"
    assert captured.out == "  build guest patch 3 ok\n"


def test_live_progress_redraws_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    with Progress(live=True, stream=stream) as progress:
        progress.step("boot", "guest at patch 10 (tcg)")
    text = stream.getvalue()
    assert "\r\x1b[K[boot] guest at patch 10 (tcg)" in text
    assert text.endswith("\r\x1b[K")  # cleared on exit
    assert "\n" not in text


def test_ci_means_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert Progress(stream=Tty()).live
    monkeypatch.setenv("CI", "true")
    assert not Progress(stream=Tty()).live
