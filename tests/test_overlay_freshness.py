"""An edited overlay patch makes the applied state stale, although the branch (mailed patches) is unchanged."""

from __future__ import annotations

from tests.helpers import Project

OVERLAY = """diff --git a/README b/README
index 000000000000..111111111111 100644
--- a/README
+++ b/README
@@ -1,2 +1,3 @@
 tiny tree
 second line
+{text}
"""


def test_an_edited_overlay_is_detected_and_a_second_apply_picks_it_up(project: Project) -> None:
    tree = str(project.tree.path)
    project.mutate(lambda data: data["patches"].append({
        "subject": "test: Probe (overlay)", "author": {"name": "A", "email": "a@example.org"},
        "date": "2026-02-05T00:00:00+00:00", "diff": "0003-overlay.diff", "overlay": True,
    }))  # fmt: skip
    project.set_diff(OVERLAY.format(text="probe one"), "0003-overlay.diff")
    project.apply()
    assert "state:   matches the data (2 patches)" in project.cli("status", "--tree", tree).out

    project.set_diff(OVERLAY.format(text="probe two"), "0003-overlay.diff")
    stale = project.cli("status", "--tree", tree)
    assert "the overlay patches changed since apply" in stale.out
    verify = project.cli("verify", "--tree", tree, "--no-build", "--no-lint")
    assert verify.code == 1
    assert "the overlay patches changed since apply (run 'patchkit apply' again)" in verify.out

    project.apply()  # same branch: no --force needed
    assert "matches the data (2 patches)" in project.cli("status", "--tree", tree).out
