"""doctor and the mail/checkpatch helpers: git send-email (git-email), python3's ply and git modules.

Each missing case is a real environment, not a stub: a git exec path without git-send-email (git itself
then says it has no such command), and a python3 on PATH that cannot import ply (a fresh venv).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from patchkit.util import tools
from tests.helpers import run_cli

DEBIAN_PYTHON = Path("/usr/bin/python3")


def _real(program: str) -> str:
    found = shutil.which(program)
    assert found is not None, f"{program} is not installed (./setup.sh installs it)"
    return found


def _bin_with(directory: Path, links: dict[str, str]) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    for name, target in links.items():
        (directory / name).symlink_to(target)
    return str(directory)


def _exec_path_without_send_email(tmp_path: Path) -> Path:
    """A copy of git's exec path (symlinks) that lacks git-send-email: what a machine without git-email has."""
    real = Path(subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip())
    assert (real / "git-send-email").is_file(), "git-email is not installed (./setup.sh installs it)"
    crafted = tmp_path / "git-core"
    crafted.mkdir()
    for entry in real.iterdir():
        if not entry.name.startswith("git-send-email"):
            (crafted / entry.name).symlink_to(entry)
    return crafted


def test_doctor_finds_git_send_email_where_git_does() -> None:
    found = tools.git_command_path("send-email")
    assert found is not None and found.endswith("/git-send-email")
    run = subprocess.run(["git", "send-email", "-h"], capture_output=True, text=True, check=False)
    assert "--dump-aliases" in run.stdout + run.stderr  # git itself runs that very command: its usage
    item = next(c for c in tools.check() if c.need.what == "git send-email")
    assert item.found == found and item.need.package == "git-email"


def test_doctor_without_git_send_email_names_git_email(tmp_path: Path) -> None:
    env = {
        "PATH": _bin_with(tmp_path / "bin", {"git": _real("git")}),
        "GIT_EXEC_PATH": str(_exec_path_without_send_email(tmp_path)),
    }
    # the environment really lacks it: git says so
    run = subprocess.run(["git", "send-email", "-h"], capture_output=True, text=True, check=False, env=env)
    assert run.returncode != 0 and "'send-email' is not a git command" in run.stderr
    # ...while the other git commands still work there
    assert subprocess.run(["git", "--version"], capture_output=True, check=False, env=env).returncode == 0
    result = run_cli("doctor", cwd=tmp_path, env=env)
    assert result.code == 7
    assert "  MISSING git send-email" in result.out
    assert "install git-email  (for send --via git-send-email)" in result.out
    lines = result.out.splitlines()
    command = lines[lines.index("missing: run") + 1]
    assert command.startswith("  apt-get install ") and "git-email" in command.split()
    assert result.err.strip() == "patchkit: error: required tools are missing (the apt-get command above installs them)"


def test_doctor_with_a_python3_that_lacks_ply(tmp_path: Path) -> None:
    venv = tmp_path / "py"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python3 = venv / "bin" / "python3"
    no_ply = subprocess.run([str(python3), "-c", "import ply"], capture_output=True, text=True, check=False)
    assert "No module named 'ply'" in no_ply.stderr  # what spdxcheck.py would die of
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = run_cli("doctor", cwd=tmp_path, env=env)
    assert result.code == 7
    assert "  MISSING python3 module ply" in result.out and "install python3-ply" in result.out
    assert "  MISSING python3 module git" in result.out and "install python3-git" in result.out
    lines = result.out.splitlines()
    command = lines[lines.index("missing: run") + 1]
    assert command.startswith("  apt-get install ") and {"python3-ply", "python3-git"} <= set(command.split())
    note = next(line for line in lines if line.startswith("note: "))
    assert f"the python3 on PATH is {python3} (prefix {venv}), not Debian's" in note  # apt does not reach it


def test_doctor_with_debians_python3_and_its_ply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """setup.sh installs python3-ply and python3-git for Debian's python3: with it first on PATH both import."""
    imports = subprocess.run([str(DEBIAN_PYTHON), "-c", "import ply, git"], capture_output=True, check=False)
    assert imports.returncode == 0, "python3-ply/python3-git are not installed (./setup.sh installs them)"
    monkeypatch.setenv("PATH", _bin_with(tmp_path / "bin", {"python3": str(DEBIAN_PYTHON), "git": _real("git")}))
    checks = {c.need.what: c for c in tools.check()}
    assert checks["python3 module ply"].found == f"{tmp_path / 'bin' / 'python3'} (import ply)"
    assert checks["python3 module git"].found is not None
    assert tools.python_note(list(checks.values())) is None


def test_doctor_asks_for_the_perl_module_git_send_email_dies_without() -> None:
    assert tools.perl_module_path("No::Such::Module::Here") is None
    found = tools.perl_module_path("Mail::Address")
    if found is None:
        pytest.skip("libmailtools-perl is not installed here")
    assert found.endswith("Mail/Address.pm")
    checks = tools.check(tuple(n for n in tools.NEEDS if n.perl_module))
    assert [c.need.package for c in checks] == ["libmailtools-perl"] and checks[0].found == found
