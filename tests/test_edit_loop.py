"""The edit step of the list loop: edit on the branch with real git (rebase -i, --fixup, amend), import it back.

The data keeps what the branch cannot say (history, cover, changelog, recipients, overlays, suppressions,
trailer provenance); apply then re-makes the branch reproducibly without --force, and revise and format go on.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import CliResult, GitTree, Project, posted_v1, read_mail, run_cli

_SUPPRESSION = {"rule": "hygiene/body-wrap", "reason": "kept on purpose"}


def _data(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project / "series/demo/series.yaml").read_text())
    return loaded


def _write(project: Path, data: dict[str, Any]) -> None:
    (project / "series/demo/series.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _reply(sender: str, message_id: str, to: Any, trailer: str) -> str:
    return (
        "From reviewer Mon Sep 17 00:00:00 2001\n"
        f"From: {sender}\nSubject: Re: {to['Subject']}\nDate: Thu, 05 Feb 2026 10:00:00 +0000\n"
        f"Message-ID: {message_id}\nIn-Reply-To: {to['Message-ID']}\nReferences: {to['Message-ID']}\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        f"Thanks.\n\n{trailer}\n\n"
    )


def _git(tree: GitTree, *args: str, **env: str) -> None:
    """Real git in the tree, as the user runs it (editors replaced by commands)."""
    result = subprocess.run(
        ["git", "-C", str(tree.path), *args], capture_output=True, text=True, env={**os.environ, **env}, check=False
    )
    assert result.returncode == 0, result.stderr


def _reviewed_v2(tmp_path: Path, tree: GitTree) -> Path:
    """v1 posted, reviewed (trailers with provenance), a suppression in the data, revised to v2 and applied."""
    project, v1 = posted_v1(tmp_path, tree)
    _, first, second = (read_mail(p) for p in v1)
    mbox = tmp_path / "replies.mbox"
    mbox.write_text(
        _reply("Rev One <rev1@example.org>", "<r1@example.org>", first, "Reviewed-by: Rev One <rev1@example.org>")
        + _reply("Ack Two <ack2@example.org>", "<r2@example.org>", second, "Acked-by: Ack Two <ack2@example.org>")
    )
    result = run_cli("trailers", "--mbox", str(mbox), cwd=project)
    assert result.code == 0, result.err
    assert run_cli("revise", cwd=project).code == 0
    data = _data(project)
    data["changelog"][1]["changes"] = "- Reworded patch 1, fixed patch 2."
    data["patches"][1]["suppress"] = [_SUPPRESSION]
    _write(project, data)
    result = run_cli("apply", "--tree", str(tree.path), cwd=project)
    assert result.code == 0, result.err
    return project


def test_edit_on_the_branch_then_import_keeps_everything_else(tmp_path: Path, small_tree: GitTree) -> None:
    project = _reviewed_v2(tmp_path, small_tree)
    series_dir = project / "series/demo"
    before = _data(project)
    history_copy = tmp_path / "history-before"
    shutil.copytree(series_dir / "history", history_copy)
    overlay_diff = (series_dir / "0003-overlay.diff").read_bytes()
    assert small_tree.git("symbolic-ref", "--short", "HEAD").strip() == "patchkit/demo/v2"

    # The edit, as a maintainer makes it: a fixup commit for patch 2, then rebase -i --autosquash that
    # also rewords patch 1 (the sequence editor marks it, the editor changes its body).
    small_tree.write({"arch/x86/virt/Makefile": "obj-y += vmx/\nobj-y += tdx/\n"})
    _git(small_tree, "commit", "-q", "-a", "--fixup", "HEAD")
    _git(
        small_tree, "rebase", "-q", "-i", "--autosquash", "patchkit-base",
        GIT_SEQUENCE_EDITOR="sed -i -e '1s/^pick /reword /'",
        GIT_EDITOR="sed -i -e 's/^Explain why\\.$/Explain why, in more words./'",
        GIT_COMMITTER_DATE="2026-03-01T00:00:00+00:00",
    )  # fmt: skip
    edited = small_tree.head()
    assert small_tree.git("rev-list", "--count", "patchkit-base..HEAD").strip() == "2"

    # apply now would lose the edit: it refuses and says how to keep it
    refused = run_cli("apply", "--tree", str(small_tree.path), cwd=project)
    assert refused.code == 4
    assert "since patchkit applied it, it differs from what patchkit applied at patch 1" in refused.err
    assert "'patchkit import --range " in refused.err

    result = run_cli(
        "import", "--range", "patchkit-base..patchkit/demo/v2", "--tree", str(small_tree.path),
        "--series", str(series_dir), cwd=project,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "patch 1 (README: Add a second line): kept the provenance of 1 trailer(s), matched by same change" in (
        result.out
    )
    assert "patch 2 (x86/virt: Add a Makefile): kept 1 suppression(s) and the provenance of 1 trailer(s), " in (
        result.out
    )
    assert "matched by same subject; its diff changed: remove any review trailer the change invalidates" in result.out

    after = _data(project)
    # what the edit changed
    assert after["patches"][0]["body"] == "Explain why, in more words."
    assert "+obj-y += tdx/" in (series_dir / after["patches"][1]["diff"]).read_text()
    # everything else is kept
    for key in ("name", "revision", "subject_prefix", "to", "cc", "cover", "changelog", "change_id", "history"):
        assert after[key] == before[key], key
    assert after["revision"] == 2
    for index in (0, 1):
        for key in ("subject", "author", "date", "trailers", "provenance"):
            assert after["patches"][index][key] == before["patches"][index][key], (index, key)
    assert "Reviewed-by: Rev One <rev1@example.org>" in after["patches"][0]["trailers"]
    assert after["patches"][0]["provenance"][0]["message_id"] == "<r1@example.org>"
    assert after["patches"][1]["suppress"] == [_SUPPRESSION]
    assert after["patches"][2] == before["patches"][2]  # the overlay, untouched
    assert (series_dir / "0003-overlay.diff").read_bytes() == overlay_diff
    assert not filecmp.dircmp(series_dir / "history", history_copy).diff_files

    # apply needs no --force: the branch holds exactly the data, only committed by someone else
    status = run_cli("status", "--tree", str(small_tree.path), cwd=project)
    assert "holds the data, but patches 1-2 were committed again" in status.out
    again = run_cli("apply", "--tree", str(small_tree.path), cwd=project)
    assert again.code == 0, again.err
    assert small_tree.git("diff", edited, "HEAD") == ""  # same content: nothing in the work tree moves
    assert small_tree.git("log", "--format=%B", f"{edited}", "-2") == small_tree.git("log", "--format=%B", "HEAD", "-2")
    tip = small_tree.head()
    # and from now on apply is a no-op
    third = run_cli("apply", "--tree", str(small_tree.path), cwd=project)
    assert third.code == 0 and "moved from" not in third.out
    assert small_tree.head() == tip
    assert "matches the data (2 patches)" in run_cli("status", "--tree", str(small_tree.path), cwd=project).out

    # format goes on: v2 with a range-diff against the recorded v1 that shows the edit
    formatted = run_cli("format", "--tree", str(small_tree.path), "-o", "v2", cwd=project)
    assert formatted.code == 0, formatted.err
    cover = read_mail(project / "v2/0000-cover-letter.patch").get_content()
    assert "-    Explain why." in cover and "+    Explain why, in more words." in cover
    patch_2 = read_mail(project / "v2/0002-x86-virt-Add-a-Makefile.patch").get_content()
    assert "Acked-by: Ack Two <ack2@example.org>" in patch_2 and "+obj-y += tdx/" in patch_2
    # and revise records the imported v2
    revised = run_cli("revise", cwd=project)
    assert revised.code == 0, revised.err
    snapshot = yaml.safe_load((series_dir / "history/v2/series.yaml").read_text())
    assert snapshot["patches"][0]["body"] == "Explain why, in more words."
    assert _data(project)["revision"] == 3


def test_an_amended_commit_and_a_dropped_trailer_are_imported(tmp_path: Path, small_tree: GitTree) -> None:
    project = _reviewed_v2(tmp_path, small_tree)
    series_dir = project / "series/demo"
    # amend patch 2 (the tip): new content and its Acked-by removed, since the change invalidates it
    message = small_tree.git("log", "-1", "--format=%B", "HEAD").rstrip("\n")
    small_tree.write({"arch/x86/virt/Makefile": "obj-y += vmx/\nobj-$(CONFIG_X) += tdx/\n"})
    small_tree.git("commit", "-q", "-a", "--amend", "-m", message.replace("\nAcked-by: Ack Two <ack2@example.org>", ""))
    result = run_cli(
        "import", "--range", "patchkit-base..HEAD", "--tree", str(small_tree.path), "--series", str(series_dir),
        cwd=project,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "dropped the provenance of 1 trailer(s) the commit no longer has" in result.out
    second = _data(project)["patches"][1]
    assert "provenance" not in second and second["suppress"] == [_SUPPRESSION]
    assert not any(t.startswith("Acked-by:") for t in second["trailers"])
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    assert "matches the data (2 patches)" in run_cli("status", "--tree", str(small_tree.path), cwd=project).out


def test_reordered_patches_keep_their_own_data_and_overlays_stay(tmp_path: Path, small_tree: GitTree) -> None:
    project = _reviewed_v2(tmp_path, small_tree)
    series_dir = project / "series/demo"
    data = _data(project)
    data["patches"][2]["suppress"] = [{"rule": "hygiene/subject-form", "reason": "test-only patch"}]
    _write(project, data)
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0  # only the overlay changed
    # rebase -i swapping the two patches (the sequence editor moves the first pick below the second)
    _git(small_tree, "rebase", "-q", "-i", "patchkit-base", GIT_SEQUENCE_EDITOR="sed -i -e '1{h;d}' -e '2G'")
    assert small_tree.git("log", "-1", "--format=%s").strip() == "README: Add a second line"
    result = run_cli(
        "import", "--range", "patchkit-base..HEAD", "--tree", str(small_tree.path), "--series", str(series_dir),
        cwd=project,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert (
        "patch 1 (x86/virt: Add a Makefile) (was patch 2): kept 1 suppression(s) and the "
        "provenance of 1 trailer(s), matched by same change"
    ) in result.out
    assert "no longer in the series" not in result.out
    after = _data(project)["patches"]
    assert [p["subject"] for p in after] == ["x86/virt: Add a Makefile", "README: Add a second line",
                                             "README: Test-only line"]  # fmt: skip
    assert after[0]["suppress"] == [_SUPPRESSION] and after[0]["provenance"][0]["message_id"] == "<r2@example.org>"
    assert after[1]["provenance"][0]["message_id"] == "<r1@example.org>" and "suppress" not in after[1]
    assert after[2]["overlay"] is True and after[2]["suppress"] == data["patches"][2]["suppress"]
    assert sorted(p.name for p in series_dir.glob("*.diff")) == [
        "0001-x86-virt-add-a-makefile.diff", "0002-readme-add-a-second-line.diff", "0003-overlay.diff",
    ]  # fmt: skip
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    assert "matches the data (2 patches)" in run_cli("status", "--tree", str(small_tree.path), cwd=project).out


def _with_config_since(project: Project, since: int) -> None:
    project.mutate(lambda d: d.update(configs=[{"name": "tiny", "fragment": "tiny.config", "since": since}]))
    (project.series / "tiny.config").write_text("CONFIG_X86_64=y\n")


def _import_branch(project: Project) -> CliResult:
    return project.cli("import", "--range", "patchkit-base..HEAD", "--tree", str(project.tree.path),
                       "--series", str(project.series))  # fmt: skip


def test_a_configs_since_follows_its_patch_when_import_reorders(applied_project: Project) -> None:
    project, tree = applied_project, applied_project.tree
    _with_config_since(project, 2)  # the config needs what patch 2 (x86/virt: Add a Makefile) brings
    _git(tree, "rebase", "-q", "-i", "patchkit-base", GIT_SEQUENCE_EDITOR="sed -i -e '1{h;d}' -e '2G'")
    result = _import_branch(project)
    assert result.code == 0, result.err
    assert "config tiny: since 2 -> 1 (follows x86/virt: Add a Makefile)" in result.out
    data = project.data()
    assert data["patches"][0]["subject"] == "x86/virt: Add a Makefile" and data["configs"][0]["since"] == 1


def test_import_refuses_to_drop_the_patch_a_configs_since_names(applied_project: Project) -> None:
    project, tree = applied_project, applied_project.tree
    _with_config_since(project, 2)
    before = project.text()
    _git(tree, "rebase", "-q", "-i", "patchkit-base", GIT_SEQUENCE_EDITOR="sed -i -e '2d'")  # drop patch 2
    result = _import_branch(project)
    assert result.code == 3
    line = before[: before.index("since: 2")].count("\n") + 1
    assert (
        f"series.yaml:{line}: configs[0].since: 2 names patch 2 (x86/virt: Add a Makefile), which the imported "
        "patches no longer have (dropped, or not the same change, subject or place); nothing was written"
    ) in result.err
    assert project.text() == before and project.diff_path("0002-makefile.diff").is_file()
    # since on a patch that stays is carried as it is
    project.mutate(lambda d: d["configs"][0].update(since=1))
    assert _import_branch(project).code == 0
    assert project.data()["configs"][0]["since"] == 1 and len(project.data()["patches"]) == 1


def test_after_an_edit_on_the_branch_the_advice_is_import_then_apply_never_force(
    applied_project: Project, tmp_path: Path
) -> None:
    """verify and format name 'import --range' for an edit on the branch, and plain apply when it is as
    patchkit left it; none says --force, which would leave the edit only in the reflog."""
    project, tree = applied_project, applied_project.tree
    tree.commit("README: More\n\nSigned-off-by: Test Author <author@example.org>\n", {"README": "edited\n"})
    base = tree.git("rev-parse", "--short=12", "patchkit-base").strip()
    keep = (
        "to keep what was changed on patchkit/demo/v1 since apply, run 'patchkit import --range "
        f"{base}..patchkit/demo/v1 --series {project.series}' first, then 'patchkit apply'"
    )
    verify = ["verify", "--tree", str(tree.path), "--no-lint", "--no-build", "--no-boot", "--results"]
    verified = project.cli(*verify, str(tmp_path / "r1"))
    assert verified.code == 1 and f"the branch does not match the data; {keep}" in verified.out
    formatted = project.cli("format", "--tree", str(tree.path), "-o", "out")
    assert formatted.code == 4 and f"{keep} before formatting" in formatted.err
    assert "--force" not in verified.out + formatted.err
    # the data changed instead, the branch as apply left it: plain apply is the answer
    tree.git("reset", "-q", "--hard", "HEAD~1")
    project.set_diff(project.diff_path().read_text().replace("+second line", "+second line, reworded"))
    verified = project.cli(*verify, str(tmp_path / "r2"))
    assert verified.code == 1
    assert "the branch does not match the data; run 'patchkit apply' (the branch is as patchkit left it)" \
        in verified.out  # fmt: skip
