"""patchkit format: mails from the applied branch, with the data's cover letter, changelog and recipients."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import DIFF_NEW_FILE, GitTree, Project, read_mail, run_cli, write_mail_series

# A stand-in for the tree's own script: prints one address per patch, as get_maintainer.pl does.
GET_MAINTAINER = """#!/usr/bin/perl
print "Maintainer One <one\\@example.org> (maintainer:DEMO)\\n";
print "R\\x{c3}\\x{a9}viewer Two <two\\@example.org> (reviewer:DEMO)\\n";
print "x86\\@kernel.org (maintainer:X86 ARCHITECTURE (32-BIT AND 64-BIT))\\n";
print "linux-demo\\@vger.kernel.org (open list:DEMO)\\n";
print "linux-kernel\\@vger.kernel.org (open list)\\n";
"""


def test_format_writes_cover_and_patches_but_never_the_overlay(
    applied_mail_project: Project, small_tree: GitTree
) -> None:
    project = applied_mail_project.root
    result = run_cli("format", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 0, result.err
    out = project / "outgoing" / "demo-v1"
    files = sorted(out.glob("*.patch"))
    assert [f.name[:5] for f in files] == ["0000-", "0001-", "0002-"]  # the overlay is not mailed
    cover = read_mail(files[0])
    assert cover["Subject"] == "[PATCH 0/2] demo: Two small changes"
    assert cover["To"] == "x86@kernel.org" and cover["Cc"] == "linux-kernel@vger.kernel.org"
    body = cover.get_content()
    assert "Why it matters." in body and "Changes in v1:\nFirst posting." in body
    assert "*** BLURB HERE ***" not in body and "README: Add a second line" in body  # git's shortlog stays
    first = read_mail(files[1])
    assert first["Subject"] == "[PATCH 1/2] README: Add a second line"
    assert first["From"] == "Test Author <author@example.org>"  # who sends it (DMARC) ...
    assert first.get_content().startswith("From: Zoë Ærø <zoe@example.org>\n\nExplain why.")  # ... who wrote it
    assert first["In-Reply-To"] == cover["Message-Id"]
    assert "+second line" in first.get_content()
    assert f"git send-email --dry-run {Path('outgoing/demo-v1')}/*.patch" in result.out


def test_a_second_revision_carries_the_range_diff_and_its_prefix(
    applied_mail_project: Project, small_tree: GitTree
) -> None:
    project = applied_mail_project.root
    write_mail_series(project, small_tree, revision=2)
    yaml_path = project / "series/demo/series.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("Explain why.", "Explain why, at more length in v2."))
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    result = run_cli("format", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 0, result.err
    assert "range-diff against patchkit/demo/v1" in result.out
    cover = read_mail(project / "outgoing/demo-v2/0000-cover-letter.patch")
    assert cover["Subject"] == "[PATCH v2 0/2] demo: Two small changes"
    body = cover.get_content()
    assert body.index("Changes in v2:") < body.index("Changes in v1:")
    assert "Range-diff:" in body and "+    Explain why, at more length in v2." in body
    assert "-:  ------------ >" not in body  # both revisions are matched up, not shown as all new


def test_cc_maintainers_merges_into_the_one_cc_header(tmp_path: Path, small_tree: GitTree) -> None:
    script = small_tree.path / "scripts" / "get_maintainer.pl"
    small_tree.git("checkout", "-q", "main")
    small_tree.commit("scripts: Add get_maintainer.pl\n", {"scripts/get_maintainer.pl": GET_MAINTAINER})
    small_tree.git("tag", "-f", "patchkit-base")
    project = tmp_path / "project"
    write_mail_series(project, small_tree)
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    assert script.is_file()
    result = run_cli("format", "--tree", str(small_tree.path), "--cc-maintainers", "-o", "mails", cwd=project)
    assert result.code == 0, result.err
    for path in sorted((project / "mails").glob("*.patch")):
        text = path.read_text()
        assert text.count("\nCc:") == 1 and text.count("\nTo:") == 1, path.name
        assert "Réviewer" not in text and "=?UTF-8?q?" in text  # names are RFC 2047-encoded, never raw
        mail = read_mail(path)
        # maintainers and reviewers go to To, lists to Cc, merged with the data's, nobody twice
        assert mail["To"] == "x86@kernel.org, Maintainer One <one@example.org>, Réviewer Two <two@example.org>"
        assert mail["Cc"] == "linux-kernel@vger.kernel.org, linux-demo@vger.kernel.org"


def test_format_refuses_a_branch_that_no_longer_matches_the_data(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    series_dir = write_mail_series(project, small_tree)
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    # (patch 2: the overlay builds on patch 1's README line, so changing that would fail the overlay first)
    (series_dir / "0002-makefile.diff").write_text(DIFF_NEW_FILE.replace("+obj-y += vmx/", "+obj-y += tdx/"))
    result = run_cli("format", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 4
    assert "differs from the data at patch 2 (x86/virt: Add a Makefile): content changed" in result.err
    # the branch is as apply left it: plain apply moves it (no --force, which could throw away an edit)
    assert "run 'patchkit apply' (the branch is as patchkit left it) before formatting" in result.err
    assert not (project / "outgoing").exists()


def test_format_without_a_cover_letter_says_what_is_missing(applied_project: Project, small_tree: GitTree) -> None:
    project = applied_project.root
    result = run_cli("format", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 3
    assert "series.yaml: cover: a series to mail needs a cover letter" in result.err
    assert not list(project.glob("outgoing/*"))
