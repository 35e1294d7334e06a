"""patchkit format: mails from the applied branch, with the data's cover letter, changelog and recipients."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from tests.helpers import DIFF_NEW_FILE, DIFF_README, GitTree, run_cli, small_series_data, write_series

# A stand-in for the tree's own script: prints one address per patch, as get_maintainer.pl does.
GET_MAINTAINER = """#!/usr/bin/perl
print "Maintainer One <one\\@example.org> (maintainer:DEMO)\\n";
print "R\\x{c3}\\x{a9}viewer Two <two\\@example.org> (reviewer:DEMO)\\n";
print "x86\\@kernel.org (maintainer:X86 ARCHITECTURE (32-BIT AND 64-BIT))\\n";
print "linux-demo\\@vger.kernel.org (open list:DEMO)\\n";
print "linux-kernel\\@vger.kernel.org (open list)\\n";
"""


def _series(project: Path, tree: GitTree, revision: int = 1, body: str = "Why it matters.") -> Path:
    data = small_series_data(tree)
    data.update({
        "revision": revision,
        "to": ["x86@kernel.org"],
        "cc": ["linux-kernel@vger.kernel.org"],
        "cover": {"subject": "demo: Two small changes", "body": body},
        "changelog": [{"revision": 1, "changes": "First posting."}]
        + ([{"revision": 2, "changes": "Reworded the cover."}] if revision > 1 else []),
    })  # fmt: skip
    patches = data["patches"]
    assert isinstance(patches, list)
    patches.append({**patches[0], "subject": "README: Test-only line", "diff": "0003-overlay.diff", "overlay": True})
    overlay = DIFF_README.replace("+second line", "+test only").replace("@@ -1 +1,2 @@", "@@ -1,2 +1,3 @@")
    overlay = overlay.replace(" tiny tree\n", " tiny tree\n second line\n")
    diffs = {"0001-readme.diff": DIFF_README, "0002-makefile.diff": DIFF_NEW_FILE, "0003-overlay.diff": overlay}
    return write_series(project / "series" / "demo", data, diffs)


def _read(path: Path) -> email.message.EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_format_writes_cover_and_patches_but_never_the_overlay(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    _series(project, small_tree)
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    result = run_cli("format", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 0, result.err
    out = project / "outgoing" / "demo-v1"
    files = sorted(out.glob("*.patch"))
    assert [f.name[:5] for f in files] == ["0000-", "0001-", "0002-"]  # the overlay is not mailed
    cover = _read(files[0])
    assert cover["Subject"] == "[PATCH 0/2] demo: Two small changes"
    assert cover["To"] == "x86@kernel.org" and cover["Cc"] == "linux-kernel@vger.kernel.org"
    body = cover.get_content()
    assert "Why it matters." in body and "Changes in v1:\nFirst posting." in body
    assert "*** BLURB HERE ***" not in body and "README: Add a second line" in body  # git's shortlog stays
    first = _read(files[1])
    assert first["Subject"] == "[PATCH 1/2] README: Add a second line"
    assert first["From"] == "Test Author <author@example.org>"  # who sends it (DMARC) ...
    assert first.get_content().startswith("From: Zoë Ærø <zoe@example.org>\n\nExplain why.")  # ... who wrote it
    assert first["In-Reply-To"] == cover["Message-Id"]
    assert "+second line" in first.get_content()
    assert f"git send-email --dry-run {Path('outgoing/demo-v1')}/*.patch" in result.out


def test_a_second_revision_carries_the_range_diff_and_its_prefix(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    _series(project, small_tree)
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    _series(project, small_tree, revision=2)
    yaml_path = project / "series/demo/series.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("Explain why.", "Explain why, at more length in v2."))
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    result = run_cli("format", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 0, result.err
    assert "range-diff against patchkit/demo/v1" in result.out
    cover = _read(project / "outgoing/demo-v2/0000-cover-letter.patch")
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
    _series(project, small_tree)
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    assert script.is_file()
    result = run_cli("format", "--tree", str(small_tree.path), "--cc-maintainers", "-o", "mails", cwd=project)
    assert result.code == 0, result.err
    for path in sorted((project / "mails").glob("*.patch")):
        text = path.read_text()
        assert text.count("\nCc:") == 1 and text.count("\nTo:") == 1, path.name
        assert "Réviewer" not in text and "=?utf-8?" in text  # names are RFC 2047-encoded, never raw
        mail = _read(path)
        # maintainers and reviewers go to To, lists to Cc, merged with the data's, nobody twice
        assert mail["To"] == "x86@kernel.org, Maintainer One <one@example.org>, Réviewer Two <two@example.org>"
        assert mail["Cc"] == "linux-kernel@vger.kernel.org, linux-demo@vger.kernel.org"


def test_format_refuses_a_branch_that_no_longer_matches_the_data(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    series_dir = _series(project, small_tree)
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    # (patch 2: the overlay builds on patch 1's README line, so changing that would fail the overlay first)
    (series_dir / "0002-makefile.diff").write_text(DIFF_NEW_FILE.replace("+obj-y += vmx/", "+obj-y += tdx/"))
    result = run_cli("format", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 4
    assert "differs from the data at patch 2 (x86/virt: Add a Makefile): content changed" in result.err
    assert "run 'patchkit apply --force'" in result.err
    assert not (project / "outgoing").exists()


def test_format_without_a_cover_letter_says_what_is_missing(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    write_series(project / "series" / "demo", small_series_data(small_tree),
                 {"0001-readme.diff": DIFF_README, "0002-makefile.diff": DIFF_NEW_FILE})  # fmt: skip
    assert run_cli("apply", "--tree", str(small_tree.path), cwd=project).code == 0
    result = run_cli("format", "--tree", str(small_tree.path), cwd=project)
    assert result.code == 3
    assert "series.yaml: cover: a series to mail needs a cover letter" in result.err
    assert not list(project.glob("outgoing/*"))
