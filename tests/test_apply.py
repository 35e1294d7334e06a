"""patchkit apply on small hermetic trees: exact commits, refusals, all-or-nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import (
    DIFF_NEW_FILE,
    GitTree,
    Project,
    patchkit_argv,
    process_env,
    write_many_patch_series,
)


def _refused(project: Project, tree: GitTree, message: str) -> None:
    """``apply`` to ``tree`` refuses with exit 4 and a line saying ``message``, and leaves the tree alone."""
    before = tree.snapshot()
    result = project.cli("apply", "--tree", str(tree.path))
    assert result.code == 4, result.err
    assert message in result.err
    assert tree.snapshot() == before


def test_apply_makes_one_commit_per_patch_exactly_as_data(project: Project, small_tree: GitTree) -> None:
    result = project.cli("apply", "--tree", str(small_tree.path))
    assert result.code == 0, result.err
    assert small_tree.git("symbolic-ref", "--short", "HEAD").strip() == "patchkit/demo/v1"
    log = small_tree.git("log", "--reverse", "--format=%an|%ae|%aI|%cn|%cI%n%B%x00", "patchkit-base..HEAD")
    entries = [e.strip("\n") for e in log.split("\0") if e.strip()]
    assert entries[0] == (
        "Zoë Ærø|zoe@example.org|2026-02-03T04:05:06+01:00|Zoë Ærø|2026-02-03T04:05:06+01:00\n"
        "README: Add a second line\n\nExplain why.\n\nSigned-off-by: Zoë Ærø <zoe@example.org>"
    )
    assert entries[1].startswith("Test Author|author@example.org|2026-02-04T04:05:06-05:00|")
    assert (small_tree.path / "README").read_text() == "tiny tree\nsecond line\n"
    assert (small_tree.path / "arch/x86/virt/Makefile").read_text() == "obj-y += vmx/\n"
    assert small_tree.git("status", "--porcelain") == ""
    record = small_tree.path / ".git" / "patchkit" / "demo.json"
    assert small_tree.head() in record.read_text()


def test_apply_is_reproducible_and_status_sees_matching_branch(applied_project: Project, small_tree: GitTree) -> None:
    project = applied_project
    first = small_tree.head()
    again = project.cli("apply", "--tree", str(small_tree.path), "--force")
    assert again.code == 0, again.err
    assert small_tree.head() == first
    status = project.cli("status", "--tree", str(small_tree.path))
    assert "matches the data (2 patches)" in status.out
    assert status.code == 0, status.err


def test_status_names_the_patch_where_the_branch_diverged(applied_project: Project, small_tree: GitTree) -> None:
    project = applied_project
    small_tree.git("reset", "-q", "--hard", "HEAD~1")
    small_tree.commit("x86/virt: Add a Makefile\n\nreworded\n", {"arch/x86/virt/Makefile": "obj-y += vmx/\n"})
    status = project.cli("status", "--tree", str(small_tree.path))
    assert "differs from the data at patch 2 (x86/virt: Add a Makefile): message and author date changed" in status.out
    assert status.code == 1  # README: a branch that does not match the data is a failed check


def test_apply_moves_its_own_branch_after_a_data_change_without_force(
    applied_project: Project, small_tree: GitTree
) -> None:
    project = applied_project
    old_tip = small_tree.git("rev-parse", "patchkit/demo/v1").strip()
    project.replace("Explain why.", "Explain why, reworded.")
    # The branch tip is the commit patchkit recorded: nothing of the user's is on it, so no --force.
    moved = project.cli("apply", "--tree", str(small_tree.path))
    assert moved.code == 0, moved.err
    assert f"(moved from {old_tip[:12]})" in moved.out
    assert "reworded" in small_tree.git("log", "-1", "--format=%B", "patchkit/demo/v1~1")
    assert old_tip in small_tree.git("reflog", "--format=%H", "patchkit/demo/v1")
    assert "matches the data (2 patches)" in project.cli("status", "--tree", str(small_tree.path)).out
    # and once more from another branch checked out: the same rule
    small_tree.git("checkout", "-q", "main")
    project.replace("Explain why, reworded.", "Explain why, reworded twice.")
    assert project.cli("apply", "--tree", str(small_tree.path)).code == 0
    assert small_tree.git("symbolic-ref", "--short", "HEAD").strip() == "patchkit/demo/v1"


def test_a_commit_the_user_added_on_the_branch_is_never_moved_away(
    applied_project: Project, small_tree: GitTree
) -> None:
    project = applied_project
    base = small_tree.git("rev-parse", "patchkit-base").strip()
    recorded = small_tree.head()
    mine = small_tree.commit("README: My own work\n", {"README": "tiny tree\nsecond line\nmine\n"})
    project.replace("Explain why.", "Explain why, reworded.")
    _refused(
        project, small_tree,
        f"branch patchkit/demo/v1 already exists and does not hold this data; pass --force to move it (its tip "
        f"{mine[:12]} stays reachable in the reflog); since patchkit applied it, it has 1 commit(s) beyond the "
        f"series (first: {mine[:12]} README: My own work): to keep that, 'patchkit import --range "
        f"{base[:12]}..patchkit/demo/v1 --series {project.series}' first",
    )  # fmt: skip
    assert small_tree.git("rev-parse", f"{mine}~1").strip() == recorded
    forced = project.cli("apply", "--tree", str(small_tree.path), "--force")
    assert forced.code == 0, forced.err
    assert f"(moved from {mine[:12]})" in forced.out


def test_an_amended_patch_on_the_branch_is_named_and_not_moved(applied_project: Project, small_tree: GitTree) -> None:
    project = applied_project
    small_tree.git("checkout", "-q", "patchkit/demo/v1~1")
    (small_tree.path / "README").write_text("tiny tree\nsecond line, amended\n")
    small_tree.git("commit", "-q", "-a", "--amend", "--no-edit")
    small_tree.git("cherry-pick", "patchkit/demo/v1")
    small_tree.git("checkout", "-q", "-B", "patchkit/demo/v1")
    project.replace("Explain why.", "Explain why, reworded.")
    _refused(
        project, small_tree,
        "since patchkit applied it, it differs from what patchkit applied at patch 1 (README: Add a second line): "
        "content changed",
    )  # fmt: skip
    # status against the data names the same patch
    status = project.cli("status", "--tree", str(small_tree.path))
    assert "differs from the data at patch 1 (README: Add a second line): content and message changed" in status.out


def test_a_branch_only_committed_again_is_moved_without_force(applied_project: Project, small_tree: GitTree) -> None:
    """A rebase that changed nothing commits again (new committer date): the data holds all of it."""
    project = applied_project
    recorded = small_tree.head()
    subprocess.run(
        ["git", "-C", str(small_tree.path), "rebase", "-q", "--force-rebase", "patchkit-base"],
        check=True, env={**os.environ, "GIT_COMMITTER_NAME": "Else", "GIT_COMMITTER_DATE": "2027-01-01T00:00:00Z"},
    )  # fmt: skip
    rebased = small_tree.head()
    assert rebased != recorded
    status = project.cli("status", "--tree", str(small_tree.path))
    assert status.code == 1
    assert "holds the data, but patches 1-2 were committed again" in status.out
    again = project.cli("apply", "--tree", str(small_tree.path))
    assert again.code == 0, again.err
    assert small_tree.head() == recorded  # the reproducible commits again
    assert small_tree.git("diff", rebased, "HEAD") == ""


def test_a_branch_patchkit_has_no_record_of_needs_force(applied_project: Project, small_tree: GitTree) -> None:
    project = applied_project
    (small_tree.path / ".git" / "patchkit" / "demo.json").unlink()
    project.replace("Explain why.", "Explain why, reworded.")
    _refused(project, small_tree, "stays reachable in the reflog); patchkit has no record of making it")


def test_applying_the_same_data_again_is_allowed_and_changes_nothing(
    applied_project: Project, small_tree: GitTree
) -> None:
    project = applied_project
    # The daily loop is `patchkit apply && patchkit verify`: a second run must not need --force.
    tip = small_tree.git("rev-parse", "patchkit/demo/v1").strip()
    again = project.cli("apply", "--tree", str(small_tree.path))
    assert again.code == 0, again.err
    assert "moved from" not in again.out
    assert small_tree.git("rev-parse", "patchkit/demo/v1").strip() == tip
    assert small_tree.git("status", "--porcelain") == ""


def test_dirty_tree_is_refused(project: Project, small_tree: GitTree) -> None:
    (small_tree.path / "README").write_text("my uncommitted work\n")
    _refused(project, small_tree, "uncommitted changes in README")
    assert (small_tree.path / "README").read_text() == "my uncommitted work\n"


@pytest.mark.parametrize(
    ("marker", "what"),
    [("rebase-merge", "a rebase"), ("rebase-apply", "git am"), ("MERGE_HEAD", "a merge"), ("BISECT_LOG", "a bisect")],
)
def test_tree_mid_operation_is_refused(project: Project, small_tree: GitTree, marker: str, what: str) -> None:
    target = small_tree.path / ".git" / marker
    if marker.startswith("rebase"):
        target.mkdir()
    else:
        target.write_text(small_tree.head() + "\n")
    result = project.cli("apply", "--tree", str(small_tree.path))
    assert result.code == 4
    assert what in result.err and "in progress" in result.err


def test_not_a_git_repo(project: Project, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = project.cli("apply", "--tree", str(plain))
    assert result.code == 4
    assert f"{plain}: not a git repository" in result.err


def test_tree_that_is_not_the_declared_base(project: Project, tmp_path: Path) -> None:
    other = GitTree.create_small(tmp_path / "other", {"Makefile": "VERSION = 5\n"})
    result = project.cli("apply", "--tree", str(other.path))
    assert result.code == 4
    assert "not the declared base" in result.err
    assert other.git("branch", "--list", "patchkit/*") == ""


def test_base_below_head_is_found(project: Project, small_tree: GitTree) -> None:
    small_tree.commit("unrelated work\n", {"notes.txt": "mine\n"})
    result = project.cli("apply", "--tree", str(small_tree.path))
    assert result.code == 0, result.err
    assert small_tree.git("rev-parse", "HEAD~2").strip() == small_tree.git("rev-parse", "patchkit-base").strip()
    assert small_tree.git("rev-parse", "main").strip() != small_tree.git("rev-parse", "patchkit-base").strip()


def test_detached_head_that_only_head_knows_is_refused(project: Project, small_tree: GitTree) -> None:
    small_tree.git("checkout", "-q", "--detach")
    orphan = small_tree.commit("work nobody else has\n", {"notes.txt": "precious\n"})
    result = project.cli("apply", "--tree", str(small_tree.path))
    assert result.code == 4
    assert f"HEAD is detached at {orphan[:12]}" in result.err
    assert small_tree.head() == orphan


def test_untracked_file_in_the_way_is_refused(project: Project, small_tree: GitTree) -> None:
    (small_tree.path / "arch/x86/virt").mkdir(parents=True)
    (small_tree.path / "arch/x86/virt/Makefile").write_text("my own\n")
    _refused(project, small_tree, "untracked file arch/x86/virt/Makefile would be overwritten")
    assert (small_tree.path / "arch/x86/virt/Makefile").read_text() == "my own\n"


def test_patch_that_does_not_apply_names_patch_file_and_hunk(project: Project, small_tree: GitTree) -> None:
    readme = project.diff_path("0001-readme.diff").read_text()
    project.set_diff(DIFF_NEW_FILE + readme.replace(" tiny tree\n", " no such context\n"), "0002-makefile.diff")
    (small_tree.path / "scratch.txt").write_text("stash me\n")
    small_tree.git("stash", "push", "-q", "--include-untracked")
    before = small_tree.snapshot()
    stash_before = small_tree.git("stash", "list")
    result = project.cli("apply", "--tree", str(small_tree.path))
    assert result.code == 4
    line = result.err.strip()
    assert "patch 2 (x86/virt: Add a Makefile) does not apply: README hunk 1 (@@ -1,1 +1,2 @@)" in line
    assert "[0002-makefile.diff]" in line and "the tree was not changed" in line
    assert small_tree.snapshot() == before
    assert small_tree.git("stash", "list") == stash_before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_tree_as_it_was_or_fully_applied(tmp_path: Path, small_tree: GitTree, signum: int) -> None:
    project = tmp_path / "project"
    write_many_patch_series(project / "series" / "demo", small_tree, 40)
    before = small_tree.snapshot()
    outcomes = set()
    for delay in (0.4, 0.6, 0.8, 1.2, 1.6, 2.4):
        process = subprocess.Popen(
            patchkit_argv("apply", "--force", "--tree", str(small_tree.path)),
            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=process_env(),
        )  # fmt: skip
        time.sleep(delay)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
        if process.returncode in (130, -signal.SIGINT):
            # -SIGINT: Python re-raises SIGINT on its way out when an interrupt lands during interpreter
            # shutdown; the shell sees 130 either way.
            assert "interrupted" in err
        elif process.returncode == -signum:
            pass  # the signal landed while Python itself was starting, before patchkit ran
        else:
            assert process.returncode == 0, err
        if small_tree.git("branch", "--list", "patchkit/demo/v1").strip():
            outcomes.add("applied")
            assert small_tree.git("symbolic-ref", "--short", "HEAD").strip() == "patchkit/demo/v1"
            assert small_tree.git("rev-list", "--count", "patchkit-base..HEAD").strip() == "40"
            assert small_tree.git("status", "--porcelain") == ""
            assert (small_tree.path / ".git/patchkit/demo.json").is_file()
            small_tree.git("checkout", "-q", "main")
            small_tree.git("branch", "-q", "-D", "patchkit/demo/v1")
            (small_tree.path / ".git/patchkit/demo.json").unlink()
        else:
            outcomes.add("untouched")
        assert small_tree.snapshot() == before
        assert not list((small_tree.path / ".git").glob("*.lock"))
    assert "untouched" in outcomes  # the early signals must have landed before the switch


def test_a_base_with_another_tree_is_refused_naming_both_trees(project: Project, small_tree: GitTree) -> None:
    other = small_tree.commit("other base\n", {"other.txt": "x\n"})
    before = small_tree.snapshot()
    result = project.cli("apply", "--tree", str(small_tree.path), "--base", other[:12])
    assert result.code == 4, result.err
    wanted = small_tree.git("rev-parse", "patchkit-base^{tree}").strip()
    found = small_tree.git("rev-parse", f"{other}^{{tree}}").strip()
    assert f"--base {other[:12]} has tree {found}, but series 'demo' is based on tree {wanted}" in result.err
    assert small_tree.snapshot() == before
