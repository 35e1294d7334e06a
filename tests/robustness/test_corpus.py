"""Run the corpus (tests/robustness/corpus.py) through the real command line, in process for speed.

Each case: the documented exit code, exactly one line on stderr that names the
problem, and the tree exactly as it was.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import Project
from tests.robustness.corpus import CASES, Case, directory_snapshot, full_snapshot


@pytest.mark.bad_reports  # its report.json inputs are bad on purpose; patchkit writes none in these cases
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: Case, project: Project, hermetic_env: Path) -> None:
    case.setup(project)
    before = full_snapshot(project.tree)
    files_before = directory_snapshot(project.root), directory_snapshot(hermetic_env)
    tree = ("--tree", str(project.tree.path)) if case.tree else ()
    result = project.cli(*case.args, *tree)
    assert result.code == case.code, result.err
    lines = result.err.splitlines()
    if case.code == 2:  # click shows the usage before its error line
        lines = lines[-1:]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("patchkit: error: ") or case.code == 2, lines[0]
    assert re.search(case.message, lines[0]), lines[0]
    assert full_snapshot(project.tree) == before
    assert (directory_snapshot(project.root), directory_snapshot(hermetic_env)) == files_before  # data, cache, yours
    assert not (project.root / "pwned").exists()


def test_the_corpus_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 100
    assert len({case.id for case in CASES}) == len(CASES)


def test_anchors_for_values_said_once_are_fine(project: Project) -> None:
    """An author written once and used by every patch (or shared Python objects yaml.safe_dump wrote so)."""
    data = project.data()
    data["patches"][1]["author"] = data["patches"][0]["author"]
    project.write_data(data)
    assert "&id001" in project.text() and "*id001" in project.text()
    result = project.cli("apply", "--tree", str(project.tree.path))
    assert result.code == 0, result.err
    author = project.tree.git("log", "-1", "--format=%an <%ae>").strip()
    assert author == "Zoë Ærø <zoe@example.org>"
