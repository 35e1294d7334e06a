"""A real build split the way the CI matrix splits it: two ranges of states, merged, equal one run (slow).

Reuses the demo series of tests/build_boot/test_real_build.py (its session fixture made one full
`verify --no-lint` run); the two partial runs are incremental builds on the same work tree and ccache.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.build_boot.test_real_build import Demo, demo  # noqa: F401  (the session fixture)

pytestmark = [pytest.mark.slow, pytest.mark.kernel]


def _table(out: str) -> list[str]:
    block = re.search(r"^state .*?(?=\n\n)", out, re.MULTILINE | re.DOTALL)
    assert block, out
    return block.group(0).splitlines()


def test_two_ranges_merged_equal_the_single_run(demo: Demo, tmp_path: Path) -> None:  # noqa: F811
    assert demo.verify.returncode == 0, demo.verify.stdout + demo.verify.stderr
    common = ["verify", "demo", "--tree", str(demo.tree), "--no-lint", "--config", "guest"]
    first = demo.cli(*common, "--states", "base..1", "--results", str(tmp_path / "first"))
    second = demo.cli(*common, "--states", "2..overlay", "--results", str(tmp_path / "second"))
    assert first.returncode == 0 and second.returncode == 0, first.stdout + second.stdout + second.stderr
    part = json.loads((tmp_path / "second" / "report.json").read_text())
    assert part["scope"]["states"] == [2, 3]
    assert [r["state"] for r in part["build"]["results"]] == ["patch 1", "patch 2", "overlay"]  # 1: the warm-up
    assert [b["state"] for b in part["boot"]["boots"]] == ["overlay"]
    merged = demo.cli("ci", "merge", str(tmp_path / "first"), str(tmp_path / "second"))
    assert merged.returncode == demo.verify.returncode, merged.stdout + merged.stderr
    assert _table(merged.stdout) == _table(demo.verify.stdout)
    assert "verify (merged): passed" in merged.stdout


def test_real_series_sarif_points_only_at_files_of_this_repository(real_tree: Path, tmp_path: Path) -> None:
    from tests.conftest import REPO_ROOT
    from tests.helpers import run_cli

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
