"""The base pinned to an exact Debian version: prepare, rebase and drift on stand-in packages.

The packages are real .deb files (tests/debs.py) in patchkit's download cache, so
nothing here needs the network; the last tests use the real archive and trees.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from patchkit.errors import TreeError
from patchkit.series.model import Base
from patchkit.tree import basetree, debian
from patchkit.util import locking, paths
from tests.debs import KERNEL_FILES, PACKAGE, make_deb
from tests.helpers import patchkit_argv, process_env, run_cli, write_series

DIFF_TDX = """diff --git a/arch/x86/coco/tdx/tdx.c b/arch/x86/coco/tdx/tdx.c
index {old}..{new} 100644
--- a/arch/x86/coco/tdx/tdx.c
+++ b/arch/x86/coco/tdx/tdx.c
@@ -2,7 +2,7 @@
 /* line 2 */
 /* line 3 */
 /* line 4 */
-/* line 5 */
+/* line 5, changed by the series */
 /* line 6 */
 /* line 7 */
 /* line 8 */
"""


def _cache() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"])


def _edited(line: int, text: str) -> dict[str, str]:
    files = dict(KERNEL_FILES)
    lines = files["arch/x86/coco/tdx/tdx.c"].splitlines(keepends=True)
    lines[line - 1] = text + "\n"
    files["arch/x86/coco/tdx/tdx.c"] = "".join(lines)
    return files


@pytest.fixture
def packages(hermetic_env: Path) -> dict[str, Path]:
    """6.1.99-1 (the series' base), -2 (an unrelated fix far from the series), -3 (a fix on the series' line)."""
    cache = _cache()
    fix_elsewhere = _edited(25, "/* line 25, fixed by Debian */")
    fix_elsewhere["fs/nfsd/nfs4state.c"] = "int nfsd(void); /* fixed */\n"
    return {
        "1": make_deb(cache, "6.1.99-1", KERNEL_FILES),
        "2": make_deb(cache, "6.1.99-2", fix_elsewhere),
        "3": make_deb(cache, "6.1.99-3", _edited(5, "/* line 5, fixed differently by Debian */")),
    }


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True).stdout


def _blob(prepared: basetree.PreparedTree, path: str) -> str:
    return _git(prepared.path, "rev-parse", f"{basetree.BASE_TAG}:{path}").strip()


@pytest.fixture
def project(tmp_path: Path, packages: dict[str, Path]) -> Path:
    """A series repository with one patch, based on stand-in 6.1.99-1."""
    base = basetree.prepare(PACKAGE, "6.1.99-1")
    old_blob = _blob(base, "arch/x86/coco/tdx/tdx.c")
    new_text = _git(base.path, "show", f"{old_blob}").replace("/* line 5 */", "/* line 5, changed by the series */")
    new_blob = subprocess.run(
        ["git", "hash-object", "--stdin"], input=new_text, capture_output=True, text=True, check=True
    ).stdout.strip()
    data = {
        "name": "demo",
        "revision": 1,
        "subject_prefix": "PATCH",
        "base": base.base().to_data(),
        "patches": [
            {
                "subject": "x86/tdx: Change line 5",
                "author": {"name": "Test Author", "email": "author@example.org"},
                "date": "2026-02-03T04:05:06+01:00",
                "body": "Explain why.",
                "trailers": ["Signed-off-by: Test Author <author@example.org>"],
                "diff": "0001-x86-tdx-change-line-5.diff",
            }
        ],
    }
    diff = DIFF_TDX.format(old=old_blob[:12], new=new_blob[:12])
    write_series(tmp_path / "project" / "series" / "demo", data, {"0001-x86-tdx-change-line-5.diff": diff})
    return tmp_path / "project"


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_an_exact_version_is_prepared_from_the_package_not_from_what_is_installed(packages: dict[str, Path]) -> None:
    prepared = basetree.prepare(PACKAGE, "6.1.99-1")
    assert prepared.created
    assert prepared.path.name == "linux-source-6.1_6.1.99-1"
    assert (prepared.package_version, prepared.version) == ("6.1.99-1", "6.1.99")
    files = _git(prepared.path, "ls-files").split()
    assert files == [".gitignore", "Makefile", "arch/x86/coco/tdx/tdx.c", "fs/nfsd/nfs4state.c"]  # despite "/*"
    assert prepared.base() == Base(PACKAGE, "6.1.99", prepared.base_tree, "6.1.99-1")
    again = basetree.prepare(PACKAGE, "6.1.99-1", expected=prepared.base())
    assert not again.created and again.base_commit == prepared.base_commit


def test_two_versions_live_side_by_side_and_each_is_reproducible(
    packages: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = basetree.prepare(PACKAGE, "6.1.99-1"), basetree.prepare(PACKAGE, "6.1.99-2")
    assert first.path != second.path and first.base_tree != second.base_tree
    assert (first.path / ".git").is_dir() and (second.path / ".git").is_dir()
    other = tmp_path / "other-cache"
    shutil.copytree(_cache() / "patchkit" / "debs", other / "patchkit" / "debs")
    monkeypatch.setenv("XDG_CACHE_HOME", str(other))
    elsewhere = basetree.prepare(PACKAGE, "6.1.99-1")
    assert elsewhere.path != first.path
    assert (elsewhere.base_tree, elsewhere.base_commit) == (first.base_tree, first.base_commit)


def test_a_half_made_tree_and_stale_scratch_are_cleaned_up_and_said(packages: dict[str, Path]) -> None:
    path = paths.tree_dir(PACKAGE, "6.1.99-1")
    (path / "half").mkdir(parents=True)
    stale = path.parent / f".{path.name}.tmpdeadbeef"
    (stale / "linux-source-6.1").mkdir(parents=True)
    result = run_cli("tree", "prepare", "--package", PACKAGE, "--version", "6.1.99-1", cwd=path.parent)
    assert result.code == 0, result.err
    assert "left half made by an interrupted prepare" in result.err
    assert not (path / "half").exists() and not stale.exists()


def test_prepare_says_what_it_does_one_line_per_step_with_its_time(packages: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli("tree", "prepare", "--package", PACKAGE, "--version", "6.1.99-2", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "[prepare] unpacking linux-source-6.1_6.1.99-2_all.deb" in result.err
    assert "committed linux-source-6.1 6.1.99-2 as tag patchkit-base in " in result.err
    assert "prepared (linux-source-6.1 6.1.99-2, kernel 6.1.99," in result.out


def test_a_tree_that_is_not_the_declared_base_names_both_and_the_way_out(packages: dict[str, Path]) -> None:
    wanted = Base(PACKAGE, "6.1.99", "0" * 40, "6.1.99-1")
    with pytest.raises(TreeError, match=r"6\.1\.99-1 \(kernel 6\.1\.99\) has tree [0-9a-f]{40}, but the series is "
                                        r"based on linux-source-6\.1 6\.1\.99-1 \(tree 0{40}\)") as caught:  # fmt: skip
        basetree.prepare(PACKAGE, "6.1.99-1", expected=wanted)
    assert caught.value.hint is not None and "patchkit rebase" in caught.value.hint


def test_a_second_prepare_waits_for_the_first_and_reuses_its_tree(packages: dict[str, Path], tmp_path: Path) -> None:
    path = paths.tree_dir(PACKAGE, "6.1.99-1")
    lock = path.parent / f".{path.name}.lock"
    argv = patchkit_argv("tree", "prepare", "--package", PACKAGE, "--version", "6.1.99-1")
    with locking.exclusive(lock, "a test holding the lock"):
        waiting = subprocess.Popen(
            argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=process_env()
        )
        assert waiting.stderr is not None
        first_line = waiting.stderr.readline()  # blocks until the waiter has said why it waits
        assert "waiting for another patchkit process that is preparing linux-source-6.1_6.1.99-1" in first_line
        assert waiting.poll() is None  # still waiting while we hold the lock
    assert waiting.wait(timeout=120) == 0
    assert basetree.prepare(PACKAGE, "6.1.99-1").created is False


def test_rebase_carries_the_patch_over_a_base_fix_elsewhere_and_rewrites_only_what_moved(project: Path) -> None:
    series_dir = project / "series" / "demo"
    diff_before = (series_dir / "0001-x86-tdx-change-line-5.diff").read_text()
    result = run_cli("rebase", "demo", "--onto", "6.1.99-2", cwd=project)
    assert result.code == 0, result.err
    assert "the bases differ in 2 file(s)" in result.out
    assert "arch/x86/coco/tdx/tdx.c  (touched by the series)" in result.out
    assert "the series touches 1 of them: arch/x86/coco/tdx/tdx.c" in result.out
    data = yaml.safe_load((series_dir / "series.yaml").read_text())
    new = basetree.prepare(PACKAGE, "6.1.99-2")
    assert data["base"] == new.base().to_data()
    assert data["changelog"] == [
        {
            "revision": 2,
            "changes": "- Rebased onto linux-source-6.1 6.1.99-2 (kernel 6.1.99; was linux-source-6.1 6.1.99-1).",
        }
    ]
    diff_after = (series_dir / "0001-x86-tdx-change-line-5.diff").read_text()
    assert diff_after != diff_before  # the preimage blob changed, so the index line did
    assert diff_after.splitlines()[4:] == diff_before.splitlines()[4:]  # the hunk itself did not
    clone = basetree.private_clone(new, project.parent / "linux")
    applied = run_cli("apply", "demo", "--tree", str(clone), cwd=project)
    assert applied.code == 0, applied.err
    assert "line 5, changed by the series" in (clone / "arch/x86/coco/tdx/tdx.c").read_text()
    assert "line 25, fixed by Debian" in (clone / "arch/x86/coco/tdx/tdx.c").read_text()


def test_rebase_onto_a_conflicting_base_names_the_patch_and_writes_nothing(project: Path) -> None:
    before = _snapshot(project)
    result = run_cli("rebase", "demo", "--onto", "6.1.99-3", cwd=project)
    assert result.code == 4
    error = result.err.strip().splitlines()[-1]
    assert error == (
        "patchkit: error: patch 1 (x86/tdx: Change line 5) does not apply on linux-source-6.1 6.1.99-3: "
        "arch/x86/coco/tdx/tdx.c conflict(s) [0001-x86-tdx-change-line-5.diff]; nothing was written"
    )
    assert _snapshot(project) == before


def test_drift_reports_each_version_and_changes_nothing(project: Path) -> None:
    before = _snapshot(project)
    result = run_cli("drift", "demo", "--onto", "6.1.99-2", "--onto", "6.1.99-3", "--format", "json", cwd=project)
    assert result.code == 4, result.err
    report = json.loads(result.out)
    by_version = {c["package_version"]: c for c in report["checks"]}
    assert [list(c) for c in report["checks"]] == 2 * [[
        "which", "package_version", "kernel", "tree", "applies", "same_base", "failed_patch", "conflicts", "message",
        "changed_files", "touched_files", "rewritten_patches", "verify_exit",
    ]]  # fmt: skip
    assert by_version["6.1.99-2"]["applies"] is True
    assert by_version["6.1.99-2"]["rewritten_patches"] == [1]
    assert by_version["6.1.99-2"]["touched_files"] == ["arch/x86/coco/tdx/tdx.c"]
    assert by_version["6.1.99-3"]["applies"] is False
    assert by_version["6.1.99-3"]["failed_patch"] == 1
    assert by_version["6.1.99-3"]["conflicts"] == ["arch/x86/coco/tdx/tdx.c"]
    text = run_cli("drift", "demo", "--onto", "6.1.99-3", cwd=project)
    assert text.code == 4
    assert "6.1.99-3: does not apply at patch 1: patch 1 (x86/tdx: Change line 5) does not apply" in text.out
    assert _snapshot(project) == before


def test_drift_onto_the_same_base_passes(project: Path) -> None:
    result = run_cli("drift", "demo", "--onto", "6.1.99-1", cwd=project)
    assert result.code == 0, result.err
    assert "6.1.99-1: same base" in result.out


def test_debian_version_order_follows_dpkg() -> None:
    versions = ["6.1.192-3", "6.1.192-10", "6.1.192~rc1-1", "6.1.190-1", "1:0.1-1", "6.1.192-2", "6.1.192+b1-1"]
    ordered = sorted(versions, key=debian.VersionKey)
    if shutil.which("dpkg"):
        for lower, higher in itertools.pairwise(ordered):
            assert subprocess.run(["dpkg", "--compare-versions", lower, "lt", higher], check=False).returncode == 0
    assert ordered[0] == "6.1.190-1" and ordered[-1] == "1:0.1-1"


def test_a_version_that_cannot_be_a_debian_version_is_refused_before_apt_runs(tmp_path: Path) -> None:
    result = run_cli("tree", "prepare", "--package", PACKAGE, "--version", "6.1;rm -rf /", cwd=tmp_path)
    assert result.code == 2
    assert result.err.strip() == "patchkit: error: '6.1;rm -rf /' is not a Debian package version (e.g. 6.1.192-2)"


@pytest.mark.slow
def test_a_version_gone_from_the_archive_is_one_line_listing_what_apt_offers(tmp_path: Path) -> None:
    offered = debian.available_versions(PACKAGE)
    if not offered:
        pytest.skip("apt knows no version of linux-source-6.1 here (no package lists)")
    result = run_cli("tree", "prepare", "--package", PACKAGE, "--version", "6.1.1-1", cwd=tmp_path)
    assert result.code == 7
    lines = result.err.strip().splitlines()
    assert lines[-1] == (
        f"patchkit: error: linux-source-6.1 6.1.1-1 is not in the archive any more; apt offers: {', '.join(offered)} "
        "(move the series deliberately with: patchkit rebase [SERIES] --onto newest)"
    )
    assert not paths.tree_dir(PACKAGE, "6.1.1-1").exists()


def test_a_series_written_before_package_version_still_loads_and_says_what_is_missing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    data = {
        "name": "old",
        "revision": 1,
        "subject_prefix": "PATCH",
        "base": {"package": "linux-source-patchkit-test", "version": "6.1.99", "tree": "1" * 40},
        "patches": [
            {"subject": "x: y", "author": {"name": "A", "email": "a@example.org"},
             "date": "2026-02-03T04:05:06+01:00", "diff": "0001.diff"},
        ],
    }  # fmt: skip
    write_series(project / "series" / "old", data, {"0001.diff": DIFF_TDX.format(old="0" * 12, new="1" * 12)})
    status = run_cli("status", "old", cwd=project)
    assert status.code == 1, status.err  # nothing applied (the tree is not even prepared): no match
    assert "base:    linux-source-patchkit-test 6.1.99 (kernel 6.1.99)" in status.out
    result = run_cli("tree", "prepare", "old", cwd=project)
    assert result.code == 3
    assert result.err.strip() == (
        f"patchkit: error: {project / 'series' / 'old' / 'series.yaml'}: base.package_version: missing, and "
        "linux-source-patchkit-test is not installed to stand in for it; add the exact Debian version the series is "
        "based on (e.g. package_version: 6.1.192-2)"
    )


def test_import_from_a_prepared_tree_records_its_exact_package_version(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    prepared = basetree.prepare(PACKAGE, "6.1.99-2")
    clone = basetree.private_clone(prepared, tmp_path / "linux")
    subprocess.run(["git", "-C", str(clone), "config", "patchkit.package", PACKAGE], check=True)
    subprocess.run(["git", "-C", str(clone), "config", "patchkit.packageVersion", "6.1.99-2"], check=True)
    (clone / "README").write_text("new file\n")
    _git(clone, "add", "-f", "README")  # Debian's .gitignore ignores every top-level path
    message = "doc: Add a README\n\nBecause.\n\nSigned-off-by: Test Author <author@example.org>"
    _git(clone, "commit", "-q", "-m", message)
    result = run_cli("import", "--range", "patchkit-base..HEAD", "--tree", str(clone), "--name", "fresh", cwd=tmp_path)
    assert result.code == 0, result.err
    data = yaml.safe_load((tmp_path / "series" / "fresh" / "series.yaml").read_text())
    assert data["base"] == prepared.base().to_data()
    assert _git(prepared.path, "config", "patchkit.packageVersion").strip() == "6.1.99-2"


@pytest.mark.parametrize(
    ("makefile", "version"),
    [
        ("VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nEXTRAVERSION =\n", "6.1.192"),
        ("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\nEXTRAVERSION = -rc1\n", "6.12-rc1"),
        ("", "0.0"),  # a tree without a top-level Makefile (import --mbox --tree on a small test tree)
        ("all:\n\ttrue\n", "0.0"),
    ],
)
def test_the_kernel_version_is_read_from_the_top_level_makefile(makefile: str, version: str) -> None:
    assert basetree.kernel_version_of_makefile(makefile) == version
