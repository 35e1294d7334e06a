"""Bad series data: one line naming the file, line and key; exit code 3; nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import DIFF_README, GitTree, make_small_series, run_cli, small_series_data, write_series


def _series_with(tmp_path: Path, small_tree: GitTree, edit: str) -> Path:
    directory = make_small_series(tmp_path / "project", small_tree)
    text = (directory / "series.yaml").read_text()
    (directory / "series.yaml").write_text(edit.format(text=text))
    return tmp_path / "project"


def test_valid_series_passes_verify_of_data_only(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    make_small_series(project, small_tree)
    result = run_cli("status", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 1, result.err  # valid data; not applied, so the branch does not match it
    assert result.err == ""
    assert "demo v1" in result.out
    assert "not applied" in result.out


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(revison=2), r"series.yaml:\d+: revison: unknown key"),
        (lambda d: d.update(revision="two"), r"series.yaml:2: revision: expected integer"),
        (
            lambda d: d["patches"][1]["author"].update(mail="x@y"),
            r"series.yaml:\d+: patches\[1\].author.mail: unknown key",
        ),
        (lambda d: d["patches"][0].update(date="yesterday"), r"patches\[0\].date: 'yesterday' does not match"),
        (lambda d: d["base"].update(tree="abc"), r"base.tree: 'abc' does not match"),
        (lambda d: d["patches"][0].pop("subject"), r"patches\[0\]: 'subject' is a required property"),
        (lambda d: d["patches"][0].update(overlay=True), r"patches\[1\]: overlay patches must come after"),
        (
            lambda d: d["patches"][1].update(diff="0001-readme.diff"),
            r"patches\[1\].diff: 0001-readme.diff is also used",
        ),
        (lambda d: d["patches"][1].update(diff="missing.diff"), r"patches\[1\].diff: missing.diff: no such file"),
        (
            lambda d: d["patches"][1].update(diff="../escape.diff"),
            r"patches\[1\].diff: '../escape.diff' does not match",
        ),
    ],
    ids=[
        "unknown-key",
        "mistyped",
        "nested-unknown",
        "bad-date",
        "bad-tree",
        "missing-key",
        "overlay-first",
        "shared-diff",
        "missing-diff",
        "diff-outside",
    ],
)
def test_bad_data_is_one_clear_line(tmp_path: Path, small_tree: GitTree, mutate: object, expected: str) -> None:
    import re

    project = tmp_path / "project"
    directory = make_small_series(project, small_tree)
    data = yaml.safe_load((directory / "series.yaml").read_text())
    mutate(data)  # type: ignore[operator]
    (directory / "series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    before = small_tree.snapshot()
    result = run_cli("apply", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 3, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert re.search(expected, lines[0]), lines[0]
    assert "series/demo/series.yaml" in lines[0] or "missing.diff" in lines[0]
    assert small_tree.snapshot() == before


def test_malformed_yaml_names_the_line(tmp_path: Path, small_tree: GitTree) -> None:
    project = _series_with(tmp_path, small_tree, "{text}patches: [unclosed\n")
    result = run_cli("apply", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 3
    assert "malformed YAML" in result.err
    last_line = len((project / "series/demo/series.yaml").read_text().splitlines())
    assert f"series.yaml:{last_line + 1}:" in result.err or f"series.yaml:{last_line}:" in result.err


def test_non_utf8_author_is_rejected(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    directory = make_small_series(project, small_tree)
    raw = (directory / "series.yaml").read_bytes().replace("Zoë".encode(), b"Zo\xeb", 1)
    (directory / "series.yaml").write_bytes(raw)
    result = run_cli("apply", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 3
    line = raw[: raw.index(b"Zo\xeb")].count(b"\n") + 1
    assert f"series.yaml:{line}: not valid UTF-8" in result.err


@pytest.mark.parametrize(
    ("diff", "expected"),
    [
        (DIFF_README.replace("a/README", "a/../etc/passwd", 1), "leaves the tree through '..'"),
        (DIFF_README.replace("+++ b/README", "+++ /etc/passwd"), "absolute path '/etc/passwd'"),
        (DIFF_README.replace("README", ".git/config"), "inside .git/"),
        (DIFF_README.replace("\n", "\r\n"), "CRLF line ending"),
        (DIFF_README.split("@@")[0] + "GIT binary patch\nliteral 3\nabc\n", "binary hunk"),
        ("", "the diff is empty"),
        ("just some text\n", "no file changes found"),
    ],
    ids=["dotdot", "absolute", "dot-git", "crlf", "binary", "empty", "not-a-diff"],
)
def test_bad_diff_files_are_refused(tmp_path: Path, small_tree: GitTree, diff: str, expected: str) -> None:
    project = tmp_path / "project"
    data = small_series_data(small_tree)
    data["patches"] = data["patches"][:1]  # type: ignore[index]
    write_series(project / "series" / "demo", data, {"0001-readme.diff": diff})
    before = small_tree.snapshot()
    result = run_cli("apply", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 3, result.err
    assert expected in result.err
    assert "0001-readme.diff" in result.err
    assert small_tree.snapshot() == before


def test_series_is_found_by_name_or_alone(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    make_small_series(project, small_tree)
    assert run_cli("status", "demo", "--tree", str(small_tree.path), cwd=project).code == 1  # found; not applied
    missing = run_cli("status", "nope", "--tree", str(small_tree.path), cwd=project)
    assert missing.code == 2
    assert "no series 'nope'" in missing.err


def test_the_loaded_series_keeps_its_line_map(tmp_path: Path, small_tree: GitTree) -> None:
    from patchkit.series.load import load_series

    directory = make_small_series(tmp_path / "project", small_tree)
    lines = (directory / "series.yaml").read_text().splitlines()
    series = load_series(directory)
    for index, patch in enumerate(series.patches):
        entry = lines[series.line("patches", index) - 1]
        assert entry.lstrip().startswith("- ") and "subject:" in entry and patch.subject in entry
    assert series.line("patches", 0, "no-such-key") == series.line("patches", 0)  # the nearest ancestor
    assert series.line("name") and lines[series.line("name") - 1].startswith("name:")
