"""The bundled series on the real Debian packages: its exact base, and moving it onto the installed one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from patchkit.series.load import load_series
from patchkit.tree import basetree, debian
from tests.conftest import BUNDLED_SERIES
from tests.helpers import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.kernel]


@pytest.fixture
def shared_cache(real_base_tree: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Use the session's kernel cache (trees and downloaded packages) instead of an empty one."""
    cache = real_base_tree.parent.parent.parent
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def test_the_fixture_tree_is_the_exact_pinned_version_whatever_is_installed(real_base_tree: Path) -> None:
    base = load_series(BUNDLED_SERIES, check_files=False).base
    assert real_base_tree.name == f"{base.package}_{base.package_version}"
    tree = subprocess.run(
        ["git", "-C", str(real_base_tree), "rev-parse", "patchkit-base^{tree}"], capture_output=True, text=True
    ).stdout.strip()
    assert tree == base.tree


def test_rebase_onto_installed_then_apply_and_drift(shared_cache: Path, tmp_path: Path) -> None:
    installed = debian.installed_version("linux-source-6.1")
    if installed is None:
        pytest.skip("linux-source-6.1 is not installed")
    project = tmp_path / "project"
    shutil.copytree(BUNDLED_SERIES, project / "series" / "tdx")
    pinned = load_series(BUNDLED_SERIES, check_files=False).base

    drift = run_cli("drift", "tdx", cwd=project)
    assert drift.code == 0, drift.err
    verdict = "same base" if installed == pinned.package_version else "applies"
    assert f"{installed}: {verdict}" in drift.out

    rebased = run_cli("rebase", "tdx", "--onto", "installed", cwd=project)
    assert rebased.code == 0, rebased.err
    data = yaml.safe_load((project / "series" / "tdx" / "series.yaml").read_text())
    new = basetree.prepare("linux-source-6.1", installed)
    assert data["base"] == new.base().to_data()
    if installed != pinned.package_version:
        assert f"onto:    linux-source-6.1 {installed}" in rebased.out
        assert data["changelog"][-1]["revision"] == data["revision"] + 1

    clone = basetree.private_clone(new, tmp_path / "linux")
    applied = run_cli("apply", "tdx", "--tree", str(clone), cwd=project)
    assert applied.code == 0, applied.err
    count = subprocess.run(
        ["git", "-C", str(clone), "rev-list", "--count", "patchkit-base..HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert count == str(len(load_series(project / "series" / "tdx").mailed_patches))
