"""An edited overlay patch makes the applied state stale, although the branch (mailed patches) is unchanged."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.helpers import GitTree, make_small_series, run_cli

OVERLAY = """diff --git a/README b/README
index 000000000000..111111111111 100644
--- a/README
+++ b/README
@@ -1,2 +1,3 @@
 tiny tree
 second line
+{text}
"""


def test_an_edited_overlay_is_detected_and_a_second_apply_picks_it_up(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    directory = make_small_series(project, small_tree)
    data = yaml.safe_load((directory / "series.yaml").read_text())
    data["patches"].append({
        "subject": "test: Probe (overlay)", "author": {"name": "A", "email": "a@example.org"},
        "date": "2026-02-05T00:00:00+00:00", "diff": "0003-overlay.diff", "overlay": True,
    })  # fmt: skip
    (directory / "series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    (directory / "0003-overlay.diff").write_text(OVERLAY.format(text="probe one"))
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    status = run_cli("status", "--tree", str(small_tree.path), cwd=project)
    assert "state:   matches the data (2 patches)" in status.out

    (directory / "0003-overlay.diff").write_text(OVERLAY.format(text="probe two"))
    stale = run_cli("status", "--tree", str(small_tree.path), cwd=project)
    assert "the overlay patches changed since apply" in stale.out
    verify = run_cli("verify", "--tree", str(small_tree.path), "--no-build", "--no-lint", cwd=project)
    assert verify.code == 1
    assert "the overlay patches changed since apply (run 'patchkit apply' again)" in verify.out

    again = run_cli("apply", "--tree", str(small_tree.path), cwd=project)  # same branch: no --force needed
    assert again.code == 0, again.err
    assert "matches the data (2 patches)" in run_cli("status", "--tree", str(small_tree.path), cwd=project).out
