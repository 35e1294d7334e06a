"""patchkit import: from a branch and from a mailbox; round trips with apply."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

from patchkit.mail.mbox import read_mbox
from tests.helpers import CliResult, GitTree, make_small_series, run_cli


def _same_dirs(left: Path, right: Path) -> bool:
    comparison = filecmp.dircmp(left, right)
    if comparison.left_only or comparison.right_only:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, comparison.common_files, shallow=False)
    return not mismatch and not errors


def _feature_branch(tree: GitTree) -> None:
    tree.git("checkout", "-q", "-b", "feature", "patchkit-base")
    tree.commit(
        "x86/tdx: Name the leaves\n\nUse the names from the spec.\n\nSigned-off-by: Jörg Ünal <jorg@example.org>\n",
        {"arch/x86/include/asm/tdx.h": "#define TDG_VP_INFO 1\n"},
        date="2026-04-01T12:00:00+02:00",
    )
    tree.commit("x86/virt: Add README\n", {"arch/x86/virt/README": "hello\n"}, date="2026-04-02T12:00:00-07:00")


def _import_range(tree: GitTree, revisions: str, *args: str, cwd: Path) -> CliResult:
    """``patchkit import --range REVISIONS --tree TREE ARGS`` in ``cwd``."""
    return run_cli("import", "--range", revisions, "--tree", str(tree.path), *args, cwd=cwd)


def test_apply_then_import_is_byte_identical(tmp_path: Path, small_tree: GitTree) -> None:
    _feature_branch(small_tree)
    first = _import_range(small_tree, "patchkit-base..feature", "--name", "demo", cwd=tmp_path)
    assert first.code == 0, first.err
    series_dir = tmp_path / "series" / "demo"
    kept = tmp_path / "kept"
    shutil.copytree(series_dir, kept)
    small_tree.git("checkout", "-q", "main")
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=tmp_path).code == 0
    again = _import_range(small_tree, "patchkit-base..patchkit/demo/v1", "--series", str(series_dir), cwd=tmp_path)
    assert again.code == 0, again.err
    assert _same_dirs(series_dir, kept)


def test_import_then_apply_gives_identical_trees_and_metadata(tmp_path: Path, small_tree: GitTree) -> None:
    _feature_branch(small_tree)
    assert _import_range(small_tree, "patchkit-base..feature", "--name", "demo", cwd=tmp_path).code == 0
    small_tree.git("checkout", "-q", "main")
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=tmp_path).code == 0
    fmt = "--format=%T %an %ae %aI %B"
    original = small_tree.git("log", fmt, "patchkit-base..feature")
    applied = small_tree.git("log", fmt, "patchkit-base..patchkit/demo/v1")
    assert applied == original
    text = (tmp_path / "series/demo/series.yaml").read_text()
    assert "Signed-off-by: Jörg Ünal <jorg@example.org>" in text and "date: '2026-04-01T12:00:00+02:00'" in text


def test_import_into_existing_series_keeps_what_a_branch_cannot_say(tmp_path: Path, small_tree: GitTree) -> None:
    series_dir = make_small_series(tmp_path, small_tree)
    with (series_dir / "series.yaml").open("a") as handle:
        handle.write("to:\n- x86@kernel.org\ncover:\n  subject: Demo\n  body: Why.\n")
    _feature_branch(small_tree)
    result = _import_range(small_tree, "patchkit-base..feature", "--series", str(series_dir), cwd=tmp_path)
    assert result.code == 0, result.err
    text = (series_dir / "series.yaml").read_text()
    assert "x86@kernel.org" in text and "subject: Demo" in text
    assert "x86/tdx: Name the leaves" in text and "README: Add a second line" not in text
    assert not (series_dir / "0001-readme.diff").exists()  # the old diff files went with their patches
    assert sorted(p.name for p in series_dir.glob("*.diff")) == [
        "0001-x86-tdx-name-the-leaves.diff",
        "0002-x86-virt-add-readme.diff",
    ]


def test_merge_commits_are_refused(tmp_path: Path, small_tree: GitTree) -> None:
    _feature_branch(small_tree)
    small_tree.git("checkout", "-q", "main")
    small_tree.commit("other\n", {"other.txt": "x\n"})
    small_tree.git("merge", "-q", "--no-edit", "feature")
    result = _import_range(small_tree, "patchkit-base..main", "--name", "demo", cwd=tmp_path)
    assert result.code == 3
    assert "contains merge commit" in result.err
    assert not (tmp_path / "series").exists()


def test_a_base_off_the_tips_line_is_refused(tmp_path: Path, small_tree: GitTree) -> None:
    _feature_branch(small_tree)
    small_tree.git("checkout", "-q", "-b", "aside", "patchkit-base")
    aside = small_tree.commit("aside\n", {"aside.txt": "x\n"})
    result = _import_range(small_tree, "aside..feature", "--name", "demo", cwd=tmp_path)
    assert result.code == 3
    assert f"{aside[:12]} is not an ancestor of" in result.err
    assert not (tmp_path / "series").exists()


def test_non_utf8_commit_author_is_refused(tmp_path: Path, small_tree: GitTree) -> None:
    small_tree.git("checkout", "-q", "-b", "feature", "patchkit-base")
    tree_hash = small_tree.tree_hash()
    raw = (
        f"tree {tree_hash}\nparent {small_tree.head()}\n"
        "author Zo\xeb <z@example.org> 1700000000 +0000\ncommitter Zo\xeb <z@example.org> 1700000000 +0000\n"
        "\nsubject\n"
    ).encode("latin-1")
    commit = (
        subprocess.run(
            ["git", "-C", str(small_tree.path), "hash-object", "-t", "commit", "-w", "--stdin", "--literally"],
            input=raw,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    result = _import_range(small_tree, f"patchkit-base..{commit}", "--name", "demo", cwd=tmp_path)
    assert result.code == 3
    assert f"commit {commit[:12]}: author or message is not valid UTF-8" in result.err


def _format_patch(tree: GitTree, out: Path, *extra: str) -> Path:
    out.mkdir()
    tree.git("format-patch", "-q", "--cover-letter", "-o", str(out), *extra, "patchkit-base..feature")
    mbox = out / "series.mbox"
    mbox.write_bytes(b"".join(p.read_bytes() for p in sorted(out.glob("*.patch"))))
    return mbox


def test_mbox_from_format_patch_round_trips(tmp_path: Path, small_tree: GitTree) -> None:
    _feature_branch(small_tree)
    mbox = _format_patch(small_tree, tmp_path / "mail", "-v3", "--rfc")
    small_tree.git("checkout", "-q", "main")
    result = run_cli("import", "--mbox", str(mbox), "--tree", str(small_tree.path), "--name", "demo", cwd=tmp_path)
    assert result.code == 0, result.err
    text = (tmp_path / "series/demo/series.yaml").read_text()
    assert "revision: 3" in text and "subject_prefix: RFC PATCH" in text
    assert "*** SUBJECT HERE ***" in text  # the cover letter came along
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=tmp_path).code == 0
    fmt = "--format=%T %an %ae %aI %B"
    assert small_tree.git("log", fmt, "patchkit-base..patchkit/demo/v3") == small_tree.git(
        "log", fmt, "patchkit-base..feature"
    )


QP_MAIL = """From nobody Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?J=C3=B6rg=20=C3=9Cnal?= <jorg@example.org>
Date: Wed, 1 Apr 2026 12:00:00 +0200
Subject: [PATCH v2 1/1] x86/tdx: =?UTF-8?q?Caf=C3=A9?= leaves
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

A long line that was soft-wrapped by the mailer because it is long enough t=
o need it, and caf=C3=A9.

Signed-off-by: J=C3=B6rg =C3=9Cnal <jorg@example.org>
---
 a | 1 +
 1 file changed, 1 insertion(+)

diff --git a/README b/README
--- a/README
+++ b/README
@@ -1 +1,2 @@
 tiny tree
+caf=C3=A9
--=20
2.39.5

From nobody Mon Sep 17 00:00:00 2001
From: Someone <someone@example.org>
Subject: Re: [PATCH v2 1/1] x86/tdx: Cafe leaves
Date: Wed, 1 Apr 2026 13:00:00 +0200

Looks good.
"""


def test_list_archive_with_quoted_printable_and_encoded_names(tmp_path: Path) -> None:
    mbox = tmp_path / "archive.mbox"
    mbox.write_text(QP_MAIL)
    mail = read_mbox(mbox)
    assert mail.revision == 2
    assert len(mail.patches) == 1  # the reply is not a patch
    patch = mail.patches[0]
    assert patch.subject == "x86/tdx: Café leaves"
    assert patch.author.name == "Jörg Ünal"
    assert patch.date == "2026-04-01T12:00:00+02:00"
    assert patch.body.startswith("A long line that was soft-wrapped by the mailer because it is long enough to need")
    assert patch.trailers == ("Signed-off-by: Jörg Ünal <jorg@example.org>",)
    assert patch.diff.decode().endswith("+café\n")


def test_mbox_without_patches_is_refused(tmp_path: Path) -> None:
    mbox = tmp_path / "empty.mbox"
    mbox.write_text("From x\nSubject: hello\nFrom: a@b\n\nno patch here\n")
    result = run_cli("import", "--mbox", str(mbox), "--name", "demo", "--tree", str(tmp_path), cwd=tmp_path)
    assert result.code in (3, 4)
    assert "patchkit: error:" in result.err


@pytest.mark.parametrize("args", [["--name", "x"], ["--range", "a..b", "--mbox", "m", "--name", "x"]])
def test_import_needs_exactly_one_source(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "m").write_text("")
    result = run_cli("import", *args, cwd=tmp_path)
    assert result.code == 2


@pytest.mark.parametrize("name", ["../escape", "Upper", "a.lock"])
def test_a_name_that_is_no_series_name_is_refused_before_anything_is_written(
    small_tree: GitTree, tmp_path: Path, name: str
) -> None:
    result = run_cli("import", "--range", "patchkit-base..feature", "--tree", str(small_tree.path), "--name", name,
                     cwd=tmp_path)  # fmt: skip
    assert result.code == 2, result.err
    assert result.err.startswith(f"patchkit: error: --name {name!r}: a series name"), result.err
    assert not (tmp_path / "series").exists() and not (tmp_path / "escape").exists()
