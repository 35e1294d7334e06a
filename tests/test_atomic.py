"""util/atomic: a reader sees the old file or the new one, and the file keeps the permissions it had."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from patchkit.util import atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_replaced_file_keeps_its_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    data = tmp_path / "series.yaml"
    data.write_text("old\n")
    data.chmod(0o640)
    atomic.write_text(data, "new\n")
    assert data.read_text() == "new\n"
    assert _mode(data) == 0o640  # not the temporary file's 0600
    assert os.listdir(tmp_path) == ["series.yaml"]


def test_a_new_file_gets_what_open_would_give_it_and_an_explicit_mode_wins(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        assert atomic.umask() == 0o027
        atomic.write_bytes(tmp_path / "new", b"x")
        assert _mode(tmp_path / "new") == 0o640
        atomic.write_bytes(tmp_path / "new", b"y", 0o600)
        assert _mode(tmp_path / "new") == 0o600
    finally:
        os.umask(old)
