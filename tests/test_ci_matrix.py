"""patchkit ci matrix: the JSON GitHub's strategy.matrix reads, checked against its schema."""

from __future__ import annotations

import json
import shlex

import jsonschema
import pytest

from patchkit.cli.main import cli
from patchkit.series.load import load_series
from patchkit.verify.matrix import job_matrix, schema, split_states, state_count
from tests.helpers import REPO_ROOT, run_cli

TDX = REPO_ROOT / "series" / "tdx"


def _matrix(*args: str) -> dict[str, object]:
    result = run_cli("ci", "matrix", *args, cwd=REPO_ROOT)
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 1  # one line: fits "matrix=..." in $GITHUB_OUTPUT
    data: dict[str, object] = json.loads(result.out)
    return data


def test_bundled_series_matrix_is_one_lint_job_and_one_job_per_fragment() -> None:
    data = _matrix("tdx")
    jsonschema.validate(data, schema())
    include = data["include"]
    assert isinstance(include, list)
    assert [e["name"] for e in include] == ["lint", "guest", "host", "off"]
    assert include[0]["args"] == "--no-build" and include[0]["lint"] is True
    assert include[2] == {"name": "host", "series": "tdx", "base": "linux-source-6.1_6.1.192-2_b8c31987ab1c",
                          "config": "host", "states": "", "lint": False, "args": "--no-lint --config host"}  # fmt: skip


@pytest.mark.parametrize("split", [1, 2, 3, 5, 12, 40])
def test_ranges_cover_every_state_once_per_fragment(split: int) -> None:
    series = load_series(TDX)
    data = job_matrix(series, split)
    jsonschema.validate(data, schema())
    count = state_count(series)
    assert count == 12  # base, ten patches, the overlay
    names = [e["name"] for e in data["include"]]
    assert len(names) == len(set(names))
    for config in ("guest", "host", "off"):
        covered: list[int] = []
        for entry in data["include"]:
            if entry["config"] == config:
                first, last = (map(int, entry["states"].split(".."))) if entry["states"] else (0, count - 1)
                covered.extend(range(first, last + 1))
        assert covered == list(range(count))


def test_every_entry_is_a_valid_verify_command_line() -> None:
    data = job_matrix(load_series(TDX), 2)
    verify = cli.commands["verify"]
    for entry in data["include"]:
        ctx = verify.make_context("verify", ["tdx", *shlex.split(entry["args"])])
        assert ctx.params["lint"] is entry["lint"]  # --no-lint sets the request field lint
        assert ctx.params["config_names"] == ((entry["config"],) if entry["config"] else ())
        assert ctx.params["states_range"] == (entry["states"] or None)


def test_split_states_is_contiguous_and_balanced() -> None:
    assert split_states(12, 1) == [(0, 11)]
    assert split_states(12, 5) == [(0, 2), (3, 5), (6, 7), (8, 9), (10, 11)]
    assert split_states(3, 10) == [(0, 0), (1, 1), (2, 2)]


def test_schema_rejects_what_a_workflow_could_not_use() -> None:
    bad = {"include": [{"name": "x", "series": "tdx", "base": "b", "config": "g", "states": "", "lint": False,
                        "args": "--no-lint; rm -rf /"}]}  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())


def test_unknown_series_is_a_usage_error() -> None:
    result = run_cli("ci", "matrix", "nope", cwd=REPO_ROOT)
    assert result.code == 2 and "no series 'nope'" in result.err
