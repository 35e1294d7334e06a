"""Property-based tests: whatever bytes the series loader, the diff checker and the mbox reader are fed,
the only exception that leaves them is a PatchkitError (one line, a documented exit code).

Inputs are random bytes and, more usefully, valid inputs mutated at random with the characters and
lines that matter to each parser (YAML indicators, diff headers, quoting, mail headers).
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from patchkit.errors import PatchkitError
from patchkit.mail.mbox import read_mbox
from patchkit.series.diffcheck import DiffSummary, SeriesPaths, check_diff
from patchkit.series.load import SERIES_FILE, load_series
from tests.helpers import DIFF_NEW_FILE, DIFF_README

SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

VALID_YAML = """\
name: demo
revision: 1
subject_prefix: PATCH
base:
  package: linux-source-6.1
  package_version: 6.1.99-1
  version: 6.1.99
  tree: 0123456789abcdef0123456789abcdef01234567
to: [x86@kernel.org]
cc: ['List <list@example.org>']
cover:
  subject: 'x86/tdx: A cover'
  body: |-
    Why.
configs:
- name: guest
  fragment: guest.config
  boot: {cmdline: quiet, expect: ['^ok$']}
patches:
- subject: 'README: Add a second line'
  author: {name: Zoë, email: zoe@example.org}
  date: '2026-02-03T04:05:06+01:00'
  body: |-
    Explain why.
  trailers: ['Signed-off-by: Zoë <zoe@example.org>']
  diff: 0001-readme.diff
- subject: 'x86/virt: Add a Makefile'
  author: {name: A, email: a@example.org}
  date: '2026-02-04T04:05:06-05:00'
  diff: 0002-makefile.diff
  overlay: true
"""

YAML_PIECES = [
    "&a ", "*a ", "!!python/name:os.system ", "!x ", "<<: ", "? ", ": ", "- ", "[", "]", "{", "}", ",", "'", '"',
    "\\", "\\r", "\\x00", "#", "|", ">", "\n", "\n  ", "\t", "---\n", "...\n", "%YAML 1.1\n", "0x1F", "1e9999",
    "2026-13-45", "2026-02-03T04:05:06+01:00", "9" * 5000, "..", "/", ".git/", "\r", "\x00", "\u2028", "\ufeff",
    "name: ", "revision: ", "patches: ", "diff: ", "date: ", "subject: ", "null", "~", "true", "-.inf", ".nan",
]  # fmt: skip

DIFF_LINES = [
    b"diff --git a/README b/README", b'diff --git "a/\\056\\056/x" "b/\\056\\056/x"', b"diff --git a/x y b/x y",
    b'diff --git "a/unterminated', b"--- a/README", b"+++ b/README", b"--- /dev/null", b"+++ /dev/null",
    b"--- a/.GIT/config", b"+++ /etc/passwd", b"@@ -1 +1,2 @@", b"@@ -0,0 +1 @@", b"@@ -1,3 +1 @@", b"@@ -x +y @@",
    b"new file mode 120000", b"new file mode 160000", b"deleted file mode 120000", b"old mode 120000",
    b"new mode 100755", b"rename from README", b"rename to ../README", b"copy to .git/hooks/x", b"+../../etc",
    b"+/etc", b"+x", b"-x", b" x", b"\\ No newline at end of file", b"index 0000000..1111111 100644",
    b"Binary files a/x and b/x differ", b"GIT binary patch", b"similarity index 100%", b"", b"\r", b"\xff\xfe",
    b'+++ "b/\\342\\200\\214.git/x"', b"+++ b/a/./b", b"+++ b//x",
]  # fmt: skip

MBOX = f"""\
From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?Zo=C3=AB?= <zoe@example.org>
Date: Tue, 3 Feb 2026 04:05:06 +0100
Subject: [PATCH v2 1/1] README: Add a second line
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

Explain why.

Signed-off-by: Zoë <zoe@example.org>
---
 README | 1 +
 1 file changed, 1 insertion(+)

{DIFF_README}--\x20
2.39.5

"""

MBOX_PIECES = [
    "From ", "\nFrom x Mon Sep 17 00:00:00 2001\n", "Subject: ", "=?UTF-8?q?=C3?=", "=?bogus?b?AAA?=", "[PATCH 0/1] ",
    "[PATCH v0 3/2] ", "Re: ", "Date: ", "Date: not a date\n", "From: <>\n", "Content-Transfer-Encoding: base64\n",
    "Content-Transfer-Encoding: quoted-printable\n", "=\n", "=ZZ", "charset=bogus", "multipart/mixed; boundary=x\n",
    "--x\n", "\n\n", "\r\n", "\x00", "diff --git ", "\n---\n", "\n-- \n", "From: a@b\n", "\ufeff", "\udcff",
]  # fmt: skip


def _mutate(base: str, pieces: list[str]) -> st.SearchStrategy[str]:
    """``base`` with a few pieces inserted, and a few spans deleted, at random places."""
    edit = st.tuples(st.integers(0, len(base)), st.one_of(st.sampled_from(pieces), st.text(max_size=8)), st.booleans())

    def apply(edits: list[tuple[int, str, bool]]) -> str:
        text = base
        for position, piece, delete in edits:
            position = min(position, len(text))
            text = (
                text[:position] + text[position + len(piece) :] if delete else text[:position] + piece + text[position:]
            )
        return text

    return st.lists(edit, min_size=1, max_size=6).map(apply)


def _leaf() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
        st.sampled_from(["", "..", "/etc/passwd", ".git/config", "a\rb", "x" * 300, "2026-02-30T00:00:00+00:00"]),
    )  # fmt: skip


def _replace_somewhere(data: Any, path: list[int], value: Any) -> Any:
    """``data`` with the node that ``path`` (indexes into the children, wrapping) picks replaced by ``value``."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = keys[path[0] % len(keys)]
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    copy[key] = _replace_somewhere(data[key], path[1:], value)
    return copy


@pytest.fixture
def series_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "series" / "demo"
    directory.mkdir(parents=True)
    (directory / "0001-readme.diff").write_text(DIFF_README)
    (directory / "0002-makefile.diff").write_text(DIFF_NEW_FILE)
    (directory / "guest.config").write_text("CONFIG_X86_64=y\n")
    return directory


def _load_only_patchkit_errors(directory: Path, raw: bytes) -> None:
    (directory / SERIES_FILE).write_bytes(raw)
    try:
        load_series(directory)
    except PatchkitError as error:
        assert "\n" not in error.message, error.message
        assert int(error.exit_code) in (3, 8)


def test_the_valid_example_loads(series_dir: Path) -> None:
    (series_dir / SERIES_FILE).write_text(VALID_YAML)
    series = load_series(series_dir)
    assert [p.diff for p in series.patches] == ["0001-readme.diff", "0002-makefile.diff"]


@SETTINGS
@given(raw=st.binary(max_size=2000))
def test_loader_on_random_bytes(series_dir: Path, raw: bytes) -> None:
    _load_only_patchkit_errors(series_dir, raw)


@SETTINGS
@given(text=_mutate(VALID_YAML, YAML_PIECES))
def test_loader_on_mutated_yaml(series_dir: Path, text: str) -> None:
    _load_only_patchkit_errors(series_dir, text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(path=st.lists(st.integers(0, 50), max_size=6), value=st.recursive(_leaf(), lambda c: st.lists(c, max_size=3)
       | st.dictionaries(st.text(max_size=10), c, max_size=3), max_leaves=8))  # fmt: skip
def test_loader_on_data_with_any_value_anywhere(series_dir: Path, path: list[int], value: Any) -> None:
    data = _replace_somewhere(yaml.safe_load(VALID_YAML), path, value)
    _load_only_patchkit_errors(series_dir, yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "surrogatepass"))


def _check_only_data_errors(raw: bytes) -> DiffSummary | None:
    try:
        summary = check_diff(Path("x.diff"), raw)
    except PatchkitError as error:
        assert "\n" not in error.message, error.message
        assert int(error.exit_code) == 3
        return None
    for name in summary.touched:  # what is accepted stays inside the tree and out of .git
        assert not name.startswith("/"), name
        parts = name.split("/")
        assert ".." not in parts and "" not in parts, name
        assert not any(part.casefold().rstrip(" .") == ".git" for part in parts), name
    for link in summary.symlinks:
        assert not posixpath.normpath(link).startswith("..")
    return summary


@SETTINGS
@given(raw=st.binary(max_size=3000))
def test_diff_checker_on_random_bytes(raw: bytes) -> None:
    _check_only_data_errors(raw)


@SETTINGS
@given(
    lines=st.lists(st.one_of(st.sampled_from(DIFF_LINES), st.binary(max_size=20)), max_size=30),
    start=st.sampled_from([DIFF_README.encode(), DIFF_NEW_FILE.encode(), b""]),
)
def test_diff_checker_on_assembled_diffs(lines: list[bytes], start: bytes) -> None:
    summary = _check_only_data_errors(start + b"\n".join(lines) + b"\n")
    if summary is not None:
        paths = SeriesPaths()
        try:
            paths.add(Path("x.diff"), "patch 1", summary)
            paths.add(Path("y.diff"), "patch 2", summary)
        except PatchkitError as error:
            assert "goes through the symlink" in error.message


@SETTINGS
@given(text=_mutate(DIFF_README + DIFF_NEW_FILE, [line.decode("latin-1") + "\n" for line in DIFF_LINES]))
def test_diff_checker_on_mutated_diffs(text: str) -> None:
    _check_only_data_errors(text.encode("utf-8", "surrogateescape"))


def _read_only_patchkit_errors(path: Path, raw: bytes) -> None:
    path.write_bytes(raw)
    try:
        read_mbox(path)
    except PatchkitError as error:
        assert int(error.exit_code) == 3


# Inputs that once let a Python exception escape patchkit/mail/mbox.py, kept as fixed examples.
MBOX_WITH_BOM_IN_FROM_LINE = (MBOX[:5] + "\ufeff" + MBOX[5:]).encode()
MBOX_WITH_LATIN1_BYTE_IN_DATE = MBOX[:121] + "\x80" + MBOX[121:]
MBOX_WITH_NUL_IN_CHARSET = MBOX.replace("charset=UTF-8", "charset=UTF\x00-8")


@SETTINGS
@example(raw=MBOX_WITH_BOM_IN_FROM_LINE)
@given(raw=st.binary(max_size=3000))
def test_mbox_reader_on_random_bytes(tmp_path: Path, raw: bytes) -> None:
    _read_only_patchkit_errors(tmp_path / "in.mbox", raw)


@SETTINGS
@example(text=MBOX_WITH_LATIN1_BYTE_IN_DATE)
@example(text=MBOX_WITH_NUL_IN_CHARSET)
@given(text=_mutate(MBOX, MBOX_PIECES))
def test_mbox_reader_on_mutated_mail(tmp_path: Path, text: str) -> None:
    _read_only_patchkit_errors(tmp_path / "in.mbox", text.encode("utf-8", "surrogateescape"))


def test_the_mbox_example_reads(tmp_path: Path) -> None:
    path = tmp_path / "in.mbox"
    path.write_text(MBOX)
    mail = read_mbox(path)
    assert [p.subject for p in mail.patches] == ["README: Add a second line"]
