"""patchkit ci matrix: the JSON GitHub's strategy.matrix reads, checked against its schema."""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
import yaml

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
    assert [e["name"] for e in include] == ["tdx-lint", "tdx-guest", "tdx-host", "tdx-off"]
    assert include[0]["args"] == "--no-build" and include[0]["lint"] is True
    assert include[2] == {"name": "tdx-host", "series": "tdx", "base": "linux-source-6.1_6.1.192-2_b8c31987ab1c",
                          "config": "host", "states": "", "lint": False, "args": "--no-lint --config host",
                          "save_base": False}  # fmt: skip
    assert [e["save_base"] for e in include] == [True, False, False, False]  # one job saves the base tree
    assert _matrix() == data  # the only series: named or not, the same matrix


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


def _two_series(root: Path, other_base: str | None = None) -> Path:
    """A repository with the bundled series and a second one ("tdx-host", its own name, maybe its own base)."""
    shutil.copytree(TDX, root / "series" / "tdx")
    other = root / "series" / "tdx-host"
    shutil.copytree(TDX, other)
    data = yaml.safe_load((other / "series.yaml").read_text())
    data["name"] = "tdx-host"
    data["configs"] = [c for c in data["configs"] if c["name"] == "host"]
    if other_base is not None:
        data["base"]["package_version"] = other_base
    (other / "series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return root


def test_without_a_series_the_matrix_holds_every_series_of_the_repository(tmp_path: Path) -> None:
    root = _two_series(tmp_path)
    result = run_cli("ci", "matrix", cwd=root)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    jsonschema.validate(data, schema())
    include = data["include"]
    assert [(e["series"], e["name"]) for e in include] == [
        ("tdx", "tdx-lint"), ("tdx", "tdx-guest"), ("tdx", "tdx-host"), ("tdx", "tdx-off"),
        ("tdx-host", "tdx-host-lint"), ("tdx-host", "tdx-host-host"),
    ]  # fmt: skip
    assert len({e["name"] for e in include}) == len(include)  # job and artifact names are unique
    assert [e["save_base"] for e in include] == [True] + [False] * 5  # one base, saved by one job
    named = json.loads(run_cli("ci", "matrix", "tdx-host", cwd=root).out)["include"]
    assert [e["name"] for e in named] == ["tdx-host-lint", "tdx-host-host"] and named[0]["save_base"] is True
    # each series' verify still wants its name: the matrix's entries are what a job passes
    verify = run_cli("verify", "--no-build", cwd=root)
    assert verify.code == 2 and "several series" in verify.err


def test_each_base_is_saved_by_exactly_one_job(tmp_path: Path) -> None:
    root = _two_series(tmp_path, other_base="6.1.192-3")
    include = json.loads(run_cli("ci", "matrix", "--split", "2", cwd=root).out)["include"]
    savers = [(e["series"], e["name"]) for e in include if e["save_base"]]
    assert savers == [("tdx", "tdx-lint"), ("tdx-host", "tdx-host-lint")]
    assert len({e["base"] for e in include}) == 2


def test_two_series_whose_names_run_together_still_get_unique_job_names() -> None:
    series = load_series(TDX)
    # series "tdx" with a config "host-lint", and series "tdx-host" with its lint job: both "tdx-host-lint"
    odd = replace(series, configs=(replace(series.configs[0], name="host-lint"),))
    other = replace(series, name="tdx-host", configs=())
    names = [e["name"] for e in job_matrix([odd, other])["include"]]
    assert names == ["tdx-lint", "tdx-host-lint", "tdx-host-lint-2"]
