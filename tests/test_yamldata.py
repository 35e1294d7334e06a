"""patchkit.util.yamldata: one strict loader and one schema check for every YAML file patchkit reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchkit.errors import DataError
from patchkit.util.yamldata import load_file

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}}}},
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_comes_with_the_line_of_every_key_path(tmp_path: Path) -> None:
    loaded = load_file(_write(tmp_path, "# a comment\nitems:\n  - n: 1\n  - n: 2\n"), SCHEMA)
    assert loaded.data == {"items": [{"n": 1}, {"n": 2}]}
    assert loaded.line(("items", 1, "n")) == 4 and loaded.line(("items", 1, "other")) == 4


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("items:\n  - n: 1\n  - n: two\n", "data.yaml:3: items[1].n: expected integer, got str 'two'"),
        ("items: []\nitem: 1\n", "data.yaml:2: item: unknown key (allowed: items)"),
        ("items: []\nitems: []\n", "data.yaml:2: duplicate key 'items' (first at line 1"),
        ("items: !!python/object:os.system []\n",
         "data.yaml:1: YAML tag 'tag:yaml.org,2002:python/object:os.system' (tags are not allowed in the test data)"),
        ("items:\n  - n: 1\n    m: [\n", "data.yaml:4: malformed YAML"),
        ("items: [{n: 1}]\nx: \"a\\rb\"\n", "data.yaml:2: x contains a carriage return"),
    ],
)  # fmt: skip
def test_every_error_names_file_line_and_key(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(DataError) as caught:
        load_file(_write(tmp_path, text), SCHEMA, what="the test data")
    assert says in str(caught.value)


def test_multiline_text_may_hold_tabs_only_where_allowed(tmp_path: Path) -> None:
    schema = {"type": "object"}
    path = _write(tmp_path, 'code: "a\\tb"\nname: "a\\tb"\n')
    with pytest.raises(DataError, match=r"data\.yaml:2: name contains a tab"):
        load_file(path, schema, multiline=("code",))
    assert load_file(path, schema, multiline=True).data["name"] == "a\tb"
