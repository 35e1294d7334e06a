"""Run the corpus (tests/robustness/corpus.py) through the real CLI boundary, in process for speed.

Each case: the documented exit code, exactly one line on stderr that names the
problem, nothing on stdout, and the tree exactly as it was.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchkit import cli
from patchkit.boundary import run_guarded
from tests.helpers import CliResult, GitTree
from tests.robustness.corpus import CASES, Case, Project, full_snapshot


@pytest.fixture(autouse=True)
def keep_signal_handlers() -> Iterator[None]:
    """run_guarded ignores late signals on its way out; give the test process its handlers back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def run_in_process(
    args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> CliResult:
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = run_guarded(lambda: cli.cli.main(args=args, prog_name="patchkit", standalone_mode=False))
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(
    case: Case,
    tmp_path: Path,
    small_tree: GitTree,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = Project.create(tmp_path / "project", small_tree)
    case.setup(project)
    before = full_snapshot(small_tree)
    result = run_in_process([*case.args, "--tree", str(small_tree.path)], project.root, monkeypatch, capsys)
    assert result.code == case.code, result.err
    assert "Traceback" not in result.err + result.out
    lines = result.err.splitlines()
    if case.code == 2:  # click shows the usage before the error line
        lines = lines[-1:]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("patchkit: error: ") or case.code == 2, lines[0]
    assert re.search(case.message, lines[0]), lines[0]
    assert full_snapshot(small_tree) == before
    assert not (project.root / "pwned").exists()


def test_the_corpus_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 45
    assert len({case.id for case in CASES}) == len(CASES)
