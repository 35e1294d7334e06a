"""format -o never deletes what it did not write; new directories follow the umask; bad paths are exit 8."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.helpers import GitTree, Project, patchkit_argv, process_env, run_cli


def _tree_listing(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture
def applied(applied_mail_project: Project) -> tuple[Path, GitTree]:
    return applied_mail_project.root, applied_mail_project.tree


def test_format_into_a_users_directory_loses_nothing(applied: tuple[Path, GitTree], tmp_path: Path) -> None:
    project, tree = applied
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "important.c").write_text("int keep_me;\n")
    (mine / "sub").mkdir()
    (mine / "sub" / "notes").write_text("notes\n")
    mode = mine.stat().st_mode
    result = run_cli("format", "--tree", str(tree.path), "-o", str(mine), cwd=project)
    assert result.code == 2, result.err
    assert "not empty (important.c and 1 more) and not a previous 'patchkit format' output" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    assert sorted(p.name for p in mine.rglob("*")) == ["important.c", "notes", "sub"]
    assert (mine / "important.c").read_text() == "int keep_me;\n" and mine.stat().st_mode == mode


def test_format_dot_inside_the_series_repository_loses_nothing(applied: tuple[Path, GitTree]) -> None:
    project, tree = applied
    before = _tree_listing(project)
    result = run_cli("format", "--tree", str(tree.path), "-o", ".", cwd=project)
    assert result.code == 2
    assert "not a previous 'patchkit format' output" in result.err
    assert _tree_listing(project) == before
    assert not list(project.glob(".patchkit-*"))


def test_format_into_the_kernel_tree_loses_nothing(applied: tuple[Path, GitTree]) -> None:
    project, tree = applied
    before, snapshot = _tree_listing(tree.path), tree.snapshot()
    result = run_cli("format", "--tree", str(tree.path), "-o", str(tree.path), cwd=project)
    assert result.code == 2
    assert _tree_listing(tree.path) == before and tree.snapshot() == snapshot
    tree.git("fsck", "--no-progress", "--no-dangling")  # raises on any corruption


def test_a_second_run_replaces_only_its_own_files(applied: tuple[Path, GitTree]) -> None:
    project, tree = applied
    out = project / "mails"
    assert run_cli("format", "--tree", str(tree.path), "-o", "mails", cwd=project).code == 0
    first = sorted(p.name for p in out.iterdir())
    assert ".patchkit-format.json" in first and "0001-README-Add-a-second-line.patch" in first
    (out / "0001-README-Add-a-second-line.patch").unlink()  # the user may remove what patchkit wrote
    result = run_cli("format", "--tree", str(tree.path), "-o", "mails", cwd=project)
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == first
    # a file of the user's among them: refused, nothing replaced
    (out / "reply.txt").write_text("mine\n")
    result = run_cli("format", "--tree", str(tree.path), "-o", "mails", cwd=project)
    assert result.code == 2 and "holds reply.txt, which patchkit did not write" in result.err
    assert (out / "reply.txt").read_text() == "mine\n"
    (out / "reply.txt").unlink()
    # a patchkit file edited by hand: refused, the edit kept
    cover = out / "0000-cover-letter.patch"
    cover.write_text(cover.read_text() + "hand edit\n")
    result = run_cli("format", "--tree", str(tree.path), "-o", "mails", cwd=project)
    assert result.code == 2 and "0000-cover-letter.patch: changed since patchkit wrote it" in result.err
    assert cover.read_text().endswith("hand edit\n")


def test_an_empty_existing_directory_is_used(applied: tuple[Path, GitTree]) -> None:
    project, tree = applied
    (project / "empty").mkdir()
    assert run_cli("format", "--tree", str(tree.path), "-o", "empty", cwd=project).code == 0
    assert len(list((project / "empty").glob("*.patch"))) == 3


def test_new_directories_and_files_follow_the_umask(applied: tuple[Path, GitTree]) -> None:
    project, tree = applied
    for umask, want_dir, want_file in ((0o022, 0o755, 0o644), (0o077, 0o700, 0o600)):
        out = project / f"out-{umask:o}"
        command = patchkit_argv("format", "--tree", str(tree.path), "-o", str(out))
        # A process of its own: the umask is the process's, and the test's own must not change.
        result = subprocess.run(
            command, cwd=project, capture_output=True, text=True, umask=umask, check=False, env=process_env()
        )
        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE(out.stat().st_mode) == want_dir
        assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {want_file}
        assert stat.S_IMODE((out / ".patchkit-format.json").stat().st_mode) == want_file


@pytest.mark.parametrize("where", ["/proc/x", "afile/sub", "afile"])
def test_an_impossible_output_path_is_one_line_and_exit_8(applied: tuple[Path, GitTree], where: str) -> None:
    project, tree = applied
    (project / "afile").write_text("a file\n")
    result = run_cli("format", "--tree", str(tree.path), "-o", where, cwd=project)
    assert result.code == 8, result.err
    assert result.err.startswith("patchkit: error: ") and f"{where}: cannot create the output directory" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert (project / "afile").read_text() == "a file\n"
    assert os.path.isfile(project / "afile")


def test_a_second_writer_into_the_same_directory_is_refused(applied: tuple[Path, GitTree]) -> None:
    import fcntl

    project, tree = applied
    assert run_cli("format", "--tree", str(tree.path), "-o", "mails", cwd=project).code == 0
    before = {p.name: p.read_bytes() for p in (project / "mails").iterdir()}
    fd = os.open(project / "mails", os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running 'patchkit format' holds it
        result = run_cli("format", "--tree", str(tree.path), "-o", "mails", cwd=project)
    finally:
        os.close(fd)
    assert result.code == 8 and "another patchkit is writing mails there right now" in result.err
    assert {p.name: p.read_bytes() for p in (project / "mails").iterdir()} == before
