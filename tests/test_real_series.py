"""The bundled series on the real Debian 6.1 tree: apply, status, and both round trips."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

from patchkit.series.load import load_series
from tests.helpers import REPO_ROOT, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.kernel]

SERIES_DIR = REPO_ROOT / "series" / "tdx"


def _git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True, check=True).stdout


def test_series_base_is_the_prepared_debian_tree(real_base_tree: Path) -> None:
    series = load_series(SERIES_DIR)
    assert _git(real_base_tree, "rev-parse", "patchkit-base^{tree}").strip() == series.base.tree
    makefile = (real_base_tree / "Makefile").read_text()
    assert f"SUBLEVEL = {series.base.version.split('.')[2]}" in makefile


def test_apply_status_and_range_round_trip(real_tree: Path, tmp_path: Path) -> None:
    series = load_series(SERIES_DIR)
    applied = run_cli("apply", str(SERIES_DIR), "--tree", str(real_tree), cwd=REPO_ROOT)
    assert applied.code == 0, applied.err
    count = _git(real_tree, "rev-list", "--count", f"patchkit-base..{series.branch}").strip()
    assert int(count) == len(series.mailed_patches)
    status = run_cli("status", str(SERIES_DIR), "--tree", str(real_tree), cwd=REPO_ROOT)
    assert f"matches the data ({len(series.mailed_patches)} patches)" in status.out
    copy = tmp_path / "tdx"
    shutil.copytree(SERIES_DIR, copy)
    imported = run_cli(
        "import", "--range", f"patchkit-base..{series.branch}", "--tree", str(real_tree), "--series", str(copy),
        cwd=REPO_ROOT,
    )  # fmt: skip
    assert imported.code == 0, imported.err
    comparison = filecmp.dircmp(SERIES_DIR, copy, ignore=["kconfig"])
    assert not comparison.left_only and not comparison.right_only
    _, mismatch, errors = filecmp.cmpfiles(SERIES_DIR, copy, comparison.common_files, shallow=False)
    assert mismatch == [] and errors == []


def test_mbox_round_trip_gives_identical_trees_and_metadata(real_tree: Path, tmp_path: Path) -> None:
    series = load_series(SERIES_DIR)
    assert run_cli("apply", str(SERIES_DIR), "--tree", str(real_tree), cwd=REPO_ROOT).code == 0
    mbox = tmp_path / "series.mbox"
    mbox.write_text(_git(real_tree, "format-patch", "--stdout", "--cover-letter", f"patchkit-base..{series.branch}"))
    _git(real_tree, "checkout", "-q", "main")
    _git(real_tree, "branch", "-q", "-m", series.branch, "original")
    copy = tmp_path / "from-mail"
    shutil.copytree(SERIES_DIR, copy)
    imported = run_cli("import", "--mbox", str(mbox), "--series", str(copy), cwd=REPO_ROOT)
    assert imported.code == 0, imported.err
    assert run_cli("apply", str(copy), "--tree", str(real_tree), cwd=REPO_ROOT).code == 0
    fmt = "--format=%T%n%an <%ae> %aI%n%B"
    assert _git(real_tree, "log", fmt, f"patchkit-base..{series.branch}") == _git(
        real_tree, "log", fmt, "patchkit-base..original"
    )
