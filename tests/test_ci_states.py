"""verify --states A..B: which states a partial run covers, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.apply.states import State
from patchkit.errors import UsageError
from patchkit.verify.plan import parse_states
from tests.helpers import Project, run_cli

WITH_OVERLAY = [State(0, "base", "a"), *(State(i, f"patch {i}", f"c{i}", "s", i) for i in (1, 2, 3)),
                State(4, "overlay", "o")]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "span"),
    [("base..2", (0, 2)), ("3..overlay", (3, 4)), ("2", (2, 2)), ("0..end", (0, 4)), (" 1 .. 3 ", (1, 3)),
     ("BASE..End", (0, 4))],
)  # fmt: skip
def test_state_ranges(text: str, span: tuple[int, int]) -> None:
    assert parse_states(text, WITH_OVERLAY) == span


@pytest.mark.parametrize(("text", "why"), [("3..1", "ends before it starts"), ("0..9", "'9' is not a state"),
                                           ("overlay", "'overlay' is not a state"), ("1...2", "not A..B")])  # fmt: skip
def test_bad_state_ranges_are_usage_errors(text: str, why: str) -> None:
    states = WITH_OVERLAY[:-1]  # no overlay patch: "overlay" names nothing
    with pytest.raises(UsageError, match=why):
        parse_states(text, states)


def test_cli_bad_range_exits_2(applied_project: Project, tmp_path: Path) -> None:
    series_dir, tree = applied_project.series, applied_project.tree
    common = ("verify", str(series_dir), "--tree", str(tree.path), "--no-build", "--no-checkpatch")
    reversed_range = run_cli(*common, "--states", "2..1", cwd=tmp_path)
    assert reversed_range.code == 2 and "--states: '2..1' ends before it starts" in reversed_range.err
