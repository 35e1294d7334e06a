"""The default tree: Debian's linux-source package made into a git repository."""

from __future__ import annotations

import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from patchkit import basetree
from patchkit.errors import MissingToolError, TreeError


def _fake_tarball(tmp_path: Path, sublevel: int) -> Path:
    """A tiny tarball shaped like Debian's: one top directory, a .gitignore that ignores every top path."""
    top = tmp_path / "src" / "linux-source-6.1"
    (top / "arch/x86").mkdir(parents=True)
    (top / "Makefile").write_text(f"VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = {sublevel}\nEXTRAVERSION =\n")
    (top / "arch/x86/Kconfig").write_text("config X86\n\tdef_bool y\n")
    (top / ".gitignore").write_text("*.o\n/*\n!/debian/\n")
    tarball = tmp_path / f"linux-source-6.1-{sublevel}.tar.xz"
    with tarfile.open(tarball, "w:xz") as archive:
        archive.add(top, arcname="linux-source-6.1")
    return tarball


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tarball = _fake_tarball(tmp_path, 192)
    monkeypatch.setattr(basetree, "tarball_path", lambda package: tarball)
    return tarball


def test_prepare_commits_everything_despite_the_top_level_ignore(fake_package: Path) -> None:
    prepared = basetree.prepare("linux-source-6.1")
    assert prepared.created
    assert prepared.version == "6.1.192"
    files = subprocess.run(
        ["git", "-C", str(prepared.path), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert files == [".gitignore", "Makefile", "arch/x86/Kconfig"]
    assert (prepared.path / ".gitignore").read_text().endswith("/*\n!/debian/\n")  # left as shipped
    again = basetree.prepare("linux-source-6.1", expected_tree=prepared.base_tree)
    assert not again.created
    assert again.base_commit == prepared.base_commit


def test_prepare_is_reproducible(fake_package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = basetree.prepare("linux-source-6.1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-cache"))
    second = basetree.prepare("linux-source-6.1")
    assert second.path != first.path
    assert (second.base_tree, second.base_commit) == (first.base_tree, first.base_commit)


def test_leftover_of_an_interrupted_prepare_is_replaced(fake_package: Path) -> None:
    leftover = basetree.default_tree_path("linux-source-6.1")
    (leftover / "half").mkdir(parents=True)
    prepared = basetree.prepare("linux-source-6.1")
    assert prepared.created and not (leftover / "half").exists()


def test_wrong_version_of_the_package_is_named(fake_package: Path) -> None:
    with pytest.raises(TreeError, match=r"the installed linux-source-6.1 \(6.1.192\) has tree [0-9a-f]{40}, but the "
                                        r"series is based on 6.1.193"):  # fmt: skip
        basetree.prepare("linux-source-6.1", expected_tree="0" * 40, expected_version="6.1.193")


def test_missing_package_and_not_root_prints_the_apt_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(basetree, "tarball_path", lambda package: tmp_path / "absent.tar.xz")
    monkeypatch.setattr(basetree.os, "geteuid", lambda: 1000)
    with pytest.raises(MissingToolError) as caught:
        basetree.prepare("linux-source-6.1")
    assert caught.value.exit_code == 7
    assert caught.value.hint == "install it with: sudo apt-get install linux-source-6.1"
    assert not basetree.default_tree_path("linux-source-6.1").exists()


def test_unknown_package_as_root_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if basetree.os.geteuid() != 0:
        pytest.skip("needs root to reach apt-get")
    monkeypatch.setattr(basetree, "tarball_path", lambda package: tmp_path / "absent.tar.xz")
    with pytest.raises(MissingToolError, match=re.escape("'apt-get install linux-source-0.0-patchkit-test' failed")):
        basetree.prepare("linux-source-0.0-patchkit-test")
