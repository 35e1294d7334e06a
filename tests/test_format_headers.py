"""format's headers: RFC 2047, no injection, no git identity needed, b4's base-commit/change-id, the lint gate."""

from __future__ import annotations

import email
import email.policy
import email.utils
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from patchkit.errors import DataError
from patchkit.mail import headers
from tests.helpers import DIFF_NEW_FILE, GitTree, Project, read_mail, run_cli, write_mail_series


def _apply(project: Path, tree: GitTree) -> None:
    result = run_cli("apply", "--tree", str(tree.path), cwd=project)
    assert result.code == 0, result.err


def _edit(project: Path, change: dict[str, object] | None = None, patch: dict[str, object] | None = None) -> None:
    path = project / "series/demo/series.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(change or {})
    if patch:
        data["patches"][0].update(patch)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _format_out(project: Path, tree: GitTree) -> list[Path]:
    """``patchkit format -o out`` in ``project``, which must succeed: the mails, cover letter first."""
    result = run_cli("format", "--tree", str(tree.path), "-o", "out", cwd=project)
    assert result.code == 0, result.err
    return sorted((project / "out").glob("*.patch"))


def _head_block(path: Path) -> bytes:
    return path.read_bytes().partition(b"\n\n")[0]


def test_non_ascii_cover_subject_is_encoded_and_reads_back(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    write_mail_series(project, small_tree)
    _edit(project, {"cover": {"subject": "démo: Zwei Änderungen für Zoë", "body": "Warum."}})
    _apply(project, small_tree)
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project)
    assert result.code == 0, result.err
    for path in (project / "out").glob("*.patch"):
        _head_block(path).decode("ascii")  # every header line is 7-bit: encoded-words, never raw UTF-8
    cover = read_mail(project / "out/0000-cover-letter.patch")
    assert cover["Subject"] == "[PATCH 0/2] démo: Zwei Änderungen für Zoë"
    assert cover["From"] == "Test Author <author@example.org>"  # git's identity, when there is one
    assert cover.get_content_charset() == "utf-8" and "Warum." in cover.get_content()


@pytest.mark.parametrize(
    ("change", "patch", "key"),
    [
        ({}, {"subject": "README: Add\rBcc: victim@example.org"}, "patches[0].subject contains a carriage return"),
        ({}, {"author": {"name": "Eve\rBcc: victim@example.org", "email": "eve@example.org"}},
         "patches[0].author.name contains a carriage return"),
        ({"cover": {"subject": "demo\nBcc: victim@example.org", "body": "x"}}, {},
         "cover.subject contains a newline"),
        ({"cc": ["list@example.org\rBcc: victim@example.org"]}, {}, "cc[0] contains a carriage return"),
        ({"to": ["two@example.org, three@example.org"]}, {}, "to[0]: 'two@example.org, three@example.org' is not one"),
    ],
)  # fmt: skip
def test_header_injection_is_refused_naming_the_key(
    applied_mail_project: Project, small_tree: GitTree, change: dict[str, object], patch: dict[str, object], key: str
) -> None:
    project = applied_mail_project.root
    _edit(project, change, patch)
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project)
    assert result.code == 3, result.err
    assert key in result.err and "series.yaml" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (project / "out").exists()


def test_format_works_without_any_git_identity(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree
) -> None:
    project = applied_mail_project.root
    identity = ("GIT_AUTHOR_", "GIT_COMMITTER_", "EMAIL")
    unset: dict[str, str | None] = {key: None for key in os.environ if key.startswith(identity)}
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project,
                     env={**unset, "HOME": str(tmp_path / "nohome")})  # fmt: skip
    assert result.code == 0, result.err
    cover = read_mail(project / "out/0000-cover-letter.patch")
    assert cover["From"] == "Zoë Ærø <zoe@example.org>"  # the data names the first patch's author
    assert cover["Message-ID"].endswith("@example.org>")


def test_cover_has_base_commit_change_id_and_b4_message_ids(applied_mail_project: Project, small_tree: GitTree) -> None:
    project = applied_mail_project.root
    _format_out(project, small_tree)
    cover = read_mail(project / "out/0000-cover-letter.patch")
    body = cover.get_content()
    base = small_tree.git("rev-parse", "patchkit-base").strip()
    change_id = cover["X-Change-ID"]
    assert f"\nbase-commit: {base}\nchange-id: {change_id}\n" in body
    assert "Based on Debian's linux-source-6.1 (6.1.99)." in body
    base_data = yaml.safe_load((project / "series/demo/series.yaml").read_text())["base"]
    _edit(project, {"base": {**base_data, "package_version": "6.1.99-2"}})
    _format_out(project, small_tree)
    body = read_mail(project / "out/0000-cover-letter.patch").get_content()
    assert "Based on Debian's linux-source-6.1 6.1.99-2 (Linux 6.1.99)." in body
    stable = change_id.rsplit("-", 1)[0]
    assert cover["Message-ID"].startswith(f"<{stable}-v1-0-")
    patches = [read_mail(p) for p in sorted((project / "out").glob("000[1-9]-*.patch"))]
    assert [p["Message-ID"].split("-v1-")[1][:2] for p in patches] == ["1-", "2-"]
    assert all(p["In-Reply-To"] == cover["Message-ID"] == p["References"] for p in patches)
    # the same data formats to the same Message-Ids; changed content to new ones
    first_ids = [cover["Message-ID"], *(p["Message-ID"] for p in patches)]
    again = [read_mail(p)["Message-ID"] for p in _format_out(project, small_tree)]
    assert again == first_ids


def test_mails_git_am_back_into_the_same_commits(
    applied_mail_project: Project, tmp_path: Path, small_tree: GitTree
) -> None:
    project = applied_mail_project.root
    mails = _format_out(project, small_tree)[1:]
    small_tree.git("clone", "-q", str(small_tree.path), str(tmp_path / "clone"))
    clone = GitTree(tmp_path / "clone")
    clone.git("checkout", "-q", "-b", "am", "patchkit-base")
    clone.git("am", "-q", *map(str, mails))
    fmt = "%an <%ae>%n%T%n%B"
    got = clone.git("log", f"--format={fmt}", "patchkit-base..am")
    want = small_tree.git("log", f"--format={fmt}", "patchkit-base..patchkit/demo/v1")
    assert got == want
    # the author date is the mail's Date, as with every mail from a list (git send-email and b4 date by sending)
    dates = clone.git("log", "--reverse", "--format=%aD", "patchkit-base..am").splitlines()
    assert [email.utils.parsedate_to_datetime(d) for d in dates] == [read_mail(m)["Date"].datetime for m in mails]


def test_mail_dates_come_from_the_data_and_put_the_thread_in_order(
    applied_mail_project: Project, small_tree: GitTree
) -> None:
    project = applied_mail_project.root
    paths = _format_out(project, small_tree)
    first = [p.read_bytes() for p in paths]
    # the newest author date of the mailed patches (2026-02-04T04:05:06-05:00), then one second per mail
    assert [read_mail(p)["Date"] for p in paths] == [
        "Wed, 04 Feb 2026 09:05:06 +0000", "Wed, 04 Feb 2026 09:05:07 +0000", "Wed, 04 Feb 2026 09:05:08 +0000",
    ]  # fmt: skip
    # the same data, later, elsewhere: the same bytes
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project,
                     env={"GIT_COMMITTER_DATE": "2027-05-06T07:08:09+02:00", "TZ": "Asia/Tokyo"})  # fmt: skip
    assert result.code == 0, result.err
    assert [p.read_bytes() for p in paths] == first


def test_with_dates_sets_the_time_of_sending_and_changes_nothing_else(
    applied_mail_project: Project, small_tree: GitTree
) -> None:
    project = applied_mail_project.root
    paths = _format_out(project, small_tree)
    raw = [p.read_bytes() for p in paths]
    sent = datetime(2026, 12, 6, 4, 22, 19, tzinfo=UTC)
    for crlf in (False, True):
        mails = [r.replace(b"\n", b"\r\n") for r in raw] if crlf else raw
        dated = headers.with_dates(mails, sent)
        for index, (before, after) in enumerate(zip(mails, dated, strict=True)):
            want = f"Date: {email.utils.format_datetime(sent + timedelta(seconds=index))}".encode()
            assert want in after.splitlines()
            assert [line for line in after.splitlines() if not line.startswith(b"Date:")] == [
                line for line in before.splitlines() if not line.startswith(b"Date:")
            ]
            assert after.endswith(before.partition(b"\n\n" if not crlf else b"\r\n\r\n")[2])
    with pytest.raises(DataError, match="no Date: header"):
        headers.with_date(b"From: a@example.org\n\nbody\n", sent)


def test_lint_errors_stop_format_unless_forced(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    write_mail_series(project, small_tree)
    _edit(project, patch={"trailers": ["Signed-off-by: Someone Else <else@example.org>"]})
    _apply(project, small_tree)
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project)
    assert result.code == 1
    assert "lint: 1 error(s)" in result.err and "hygiene/signed-off-by" in result.err and "--force" in result.err
    assert not (project / "out").exists()
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", "--force", cwd=project)
    assert result.code == 0, result.err
    assert "lint fails, formatted anyway (--force)" in result.out
    # warnings pass by default, and stop format with --fail-on warning
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out2", "--fail-on", "warning", "--force",
                     cwd=project)  # fmt: skip
    assert result.code == 0


def test_get_maintainer_runs_from_the_base_not_from_a_patch(tmp_path: Path, small_tree: GitTree) -> None:
    marker = tmp_path / "pwned"
    small_tree.git("checkout", "-q", "main")
    small_tree.commit(
        "scripts: Add get_maintainer.pl\n",
        {"scripts/get_maintainer.pl": 'print "Maint <m\\@example.org> (maintainer:X)\\n";\n'},
    )
    small_tree.git("tag", "-f", "patchkit-base")
    project = tmp_path / "project"
    write_mail_series(project, small_tree)
    evil = (
        "diff --git a/scripts/get_maintainer.pl b/scripts/get_maintainer.pl\n"
        "index 111111111111..222222222222 100644\n"
        "--- a/scripts/get_maintainer.pl\n+++ b/scripts/get_maintainer.pl\n"
        "@@ -1 +1,2 @@\n"
        f"+open(my $f, '>', '{marker}'); close($f);\n"
        ' print "Maint <m\\@example.org> (maintainer:X)\\n";\n'
    )
    (project / "series/demo/0002-makefile.diff").write_text(DIFF_NEW_FILE + evil)
    _apply(project, small_tree)
    result = run_cli("format", "--tree", str(small_tree.path), "--cc-maintainers", "-o", "out", cwd=project)
    assert result.code == 0, result.err
    assert not marker.exists()
    assert "Maint <m@example.org>" in read_mail(project / "out/0000-cover-letter.patch")["To"]


def test_a_second_revision_needs_its_changelog_entry(tmp_path: Path, small_tree: GitTree) -> None:
    project = tmp_path / "project"
    write_mail_series(project, small_tree)
    _edit(project, {"revision": 2, "changelog": [{"revision": 1, "changes": "First."},
                                                 {"revision": 2, "changes": ""}]})  # fmt: skip
    _apply(project, small_tree)
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project)
    assert result.code == 3
    assert "changelog: revision 2 has no entry saying what changed since v1" in result.err


def test_headers_parse_without_defects(applied_mail_project: Project, small_tree: GitTree) -> None:
    project = applied_mail_project.root
    for path in _format_out(project, small_tree):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert not message.defects, path.name
        for name in ("From", "To", "Cc", "Subject"):
            header = message[name]
            assert header is not None and not header.defects, (path.name, name)
