"""CI findings on the real series (slow): every SARIF location is a file of this repository.

The real-build comparison of partial runs with one run lives beside the demo series' fixture, in
tests/build_boot/test_real_build.py (test_two_ranges_merged_equal_the_single_run), so that the
session's one cold build serves it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.kernel]


def test_real_series_sarif_points_only_at_files_of_this_repository(real_tree: Path, tmp_path: Path) -> None:
    series = REPO_ROOT / "series" / "tdx"
    assert run_cli("apply", str(series), "--tree", str(real_tree), cwd=REPO_ROOT).code == 0
    results = tmp_path / "results"
    verify = run_cli("verify", str(series), "--tree", str(real_tree), "--no-build", "--results", str(results),
                     "--source-root", str(REPO_ROOT), cwd=REPO_ROOT)  # fmt: skip
    assert verify.code == 0, verify.out + verify.err
    sarif = json.loads((results / "lint.sarif").read_text())
    found = sarif["runs"][0]["results"]
    assert found  # pre-existing findings at the base, suppressed ones in patches
    for result in found:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("series/tdx/") and (REPO_ROOT / uri).is_file(), uri
    in_patches = [r for r in found if r["properties"]["patch"] is not None]
    assert all(r["locations"][0]["physicalLocation"].get("region", {}).get("startLine", 0) > 0 for r in in_patches)
