"""The suite is hermetic: no test, fixture or process it starts reaches the machine's HOME, git config or identity.

tests/conftest.py replaces them for the whole session (pytest_configure), before any session- or module-scoped
fixture runs. The proof runs pytest again in a process whose environment is a machine with no git configuration
at all (an empty HOME, no system config, no identity in the environment, and git told never to guess one, as a
fresh ``debian:bookworm`` container behaves): a test whose module-scoped fixture commits passes there, and so does
a test on a real kernel tree whose fixture does (the one that failed at ``git commit`` with exit 128).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PINNED_ENV, REPO_ROOT, bare_machine


def run_pytest(node: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", node],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def committed_in_a_module_fixture(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A commit made before any function-scoped fixture (the shape of the real-kernel lint fixtures)."""
    tree = tmp_path_factory.mktemp("module-commit")
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    (tree / "file").write_text("text\n")
    subprocess.run(["git", "-C", str(tree), "add", "file"], check=True)
    subprocess.run(["git", "-C", str(tree), "commit", "-q", "-m", "one"], check=True)
    return subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%an <%ae> %aI"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip


def test_a_module_fixture_commits_with_the_pinned_identity_and_date(committed_in_a_module_fixture: str) -> None:
    assert committed_in_a_module_fixture == (
        f"{PINNED_ENV['GIT_AUTHOR_NAME']} <{PINNED_ENV['GIT_AUTHOR_EMAIL']}> {PINNED_ENV['GIT_AUTHOR_DATE']}"
    )


def test_the_session_has_an_empty_home_and_no_global_or_system_git_config() -> None:
    assert os.environ["GIT_CONFIG_NOSYSTEM"] == "1"
    assert os.environ["HOME"] != pwd.getpwuid(os.getuid()).pw_dir  # not the account's own home
    listed = subprocess.run(["git", "config", "--global", "--list"], capture_output=True, text=True, check=False)
    assert listed.stdout == ""  # nothing the machine's ~/.gitconfig says reaches a test
    ident = subprocess.run(["git", "var", "GIT_COMMITTER_IDENT"], capture_output=True, text=True, check=True)
    assert ident.stdout.startswith(f"{PINNED_ENV['GIT_COMMITTER_NAME']} <{PINNED_ENV['GIT_COMMITTER_EMAIL']}>")


def test_the_bare_machine_really_has_no_git_identity(tmp_path: Path) -> None:
    """The environment the proofs below run in makes a plain ``git commit`` fail, as on a fresh container."""
    env = bare_machine(tmp_path / "home")
    subprocess.run(["git", "init", "-q", str(tmp_path / "r")], check=True, env=env)
    result = subprocess.run(["git", "-C", str(tmp_path / "r"), "commit", "-q", "--allow-empty", "-m", "x"],
                            capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert result.returncode == 128, result.stderr
    assert "auto-detection is disabled" in result.stderr or "Please tell me who you are" in result.stderr


def test_the_suite_runs_on_a_machine_with_no_git_configuration(tmp_path: Path) -> None:
    node = "tests/test_hermetic.py::test_a_module_fixture_commits_with_the_pinned_identity_and_date"
    result = run_pytest(node, bare_machine(tmp_path / "home"))
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.kernel
def test_a_real_tree_test_runs_on_a_machine_with_no_git_configuration(tmp_path: Path) -> None:
    """The real-kernel lint test whose module fixture commits the 6.12 files: it errored at ``git commit``
    (exit 128) in a debian:bookworm container before the session was made hermetic."""
    if not Path("/usr/src/linux-source-6.12.tar.xz").is_file():
        pytest.skip("linux-source-6.12 is not installed (./setup.sh --test installs it)")
    node = "tests/lint/test_real_kernel.py::test_linux_6_12_tdx_files_give_no_tdx_rule_findings"
    result = run_pytest(node, bare_machine(tmp_path / "home"))
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
