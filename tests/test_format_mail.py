"""format's mails as git and b4 write them: header folding and encoding (git itself is the judge), numbering,
the cover's b4 layout, rerolls (Cc to earlier reviewers, --in-reply-to) and declared prerequisites."""

from __future__ import annotations

import email.utils
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from patchkit.mail.headers import fold, format_person
from patchkit.series.model import Person
from tests.helpers import GitTree, Project, posted_v1, read_mail, run_cli, small_series_data, write_series

# (author name, subject): what git format-patch must encode, quote or fold, and what it must leave alone
_HARD_HEADERS = [
    ("Zoë Ærø", "x86/tdx: Clear unrequested output registers in TDX_MODULE_CALL and then some more words"),
    ("Doe, John", "démo: Zwei Änderungen für Zoë und noch viel mehr Text, damit es über zwei Zeilen geht"),
    ("A Very Long Name Indeed, With Many Words That Go On And On", "short"),
    ("Ünïcödé Name With Many Words That Goes On And On Forever And Ever", "Fix =?utf-8?q?x?= parsing"),
    ("O'Brien (Maint.)", "x: a_b c?d e=f [not a prefix]"),
    ('Q "Quote" \\ Back', "[RFC] é " + " ".join(["word"] * 20)),
]


def _header(raw: bytes, name: str) -> str:
    """One header of a mail file exactly as written, continuation lines included."""
    head = raw.partition(b"\n\n")[0].decode("ascii") + "\n"
    found = re.search(rf"^{name}: .*\n(?:[ \t].*\n)*", head, re.MULTILINE)
    assert found is not None, name
    return found.group()


def test_from_and_subject_are_written_byte_for_byte_as_git_format_patch_writes_them(small_tree: GitTree) -> None:
    for index, (name, subject) in enumerate(_HARD_HEADERS):
        small_tree.commit(f"{subject}\n", {f"f{index}": "x\n"})
        small_tree.git("commit", "-q", "--amend", "--no-edit", f"--author={name} <a{index}@example.org>")
        raw = small_tree.git("format-patch", "-1", "--stdout", "--subject-prefix=PATCH v2").encode()
        assert fold("From", format_person(Person(name, f"a{index}@example.org"))) == _header(raw, "From"), name
        assert fold("Subject", f"[PATCH v2] {subject}") == _header(raw, "Subject"), subject


def test_a_long_subject_starts_on_the_subject_line_and_folds_at_a_space() -> None:
    folded = fold("Subject", "[PATCH 00/10] x86/tdx: Unify the TDCALL, SEAMCALL and TDVMCALL assembly on 6.1")
    assert folded == "Subject: [PATCH 00/10] x86/tdx: Unify the TDCALL, SEAMCALL and TDVMCALL\n assembly on 6.1\n"
    assert all(len(line) <= 78 for line in folded.splitlines())


def _numbered_project(tmp_path: Path, tree: GitTree, count: int) -> Path:
    data: dict[str, Any] = small_series_data(tree)
    patches: list[dict[str, object]] = []
    diffs: dict[str, str] = {}
    for index in range(1, count + 1):
        diffs[f"{index:04d}-file.diff"] = (
            f"diff --git a/gen/f{index}.c b/gen/f{index}.c\nnew file mode 100644\n"
            f"--- /dev/null\n+++ b/gen/f{index}.c\n@@ -0,0 +1 @@\n+int f{index};\n"
        )
        patches.append({
            "subject": f"gen: Add f{index}", "author": {"name": "Test Author", "email": "author@example.org"},
            "date": "2026-03-01T00:00:00+00:00", "body": "Needed.",
            "trailers": ["Signed-off-by: Test Author <author@example.org>"], "diff": f"{index:04d}-file.diff",
        })  # fmt: skip
    data.update(patches=patches, to=["x86@kernel.org"], cover={"subject": "gen: Many files", "body": "Why."},
                changelog=[{"revision": 1, "changes": "First."}])  # fmt: skip
    project = tmp_path / "project"
    write_series(project / "series" / "demo", data, diffs)
    assert run_cli("apply", "--tree", str(tree.path), cwd=project).code == 0
    return project


def test_ten_or_more_patches_are_numbered_with_leading_zeros_as_git_numbers_them(
    tmp_path: Path, small_tree: GitTree
) -> None:
    project = _numbered_project(tmp_path, small_tree, 10)
    assert run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project).code == 0
    subjects = [read_mail(p)["Subject"] for p in sorted((project / "out").glob("*.patch"))]
    assert subjects[0] == "[PATCH 00/10] gen: Many files"
    assert subjects[3] == "[PATCH 03/10] gen: Add f3" and subjects[10] == "[PATCH 10/10] gen: Add f10"


def test_the_cover_is_laid_out_as_b4_lays_it_out(applied_mail_project: Project, small_tree: GitTree) -> None:
    project = applied_mail_project.root
    assert run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project).code == 0
    body = read_mail(project / "out/0000-cover-letter.patch").get_content()
    own, notes, summary, basement = body.split("\n---\n")
    assert own == "Why it matters.\n\nSigned-off-by: Test Author <author@example.org>\n"
    assert notes == "Changes in v1:\nFirst posting.\n\nBased on Debian's linux-source-6.1 (6.1.99).\n"
    assert summary.startswith("Test Author (1):\n") and "2 files changed, 2 insertions(+)" in summary
    base = small_tree.git("rev-parse", "patchkit-base").strip()
    assert re.fullmatch(rf"base-commit: {base}\nchange-id: [0-9]{{8}}-[a-z0-9-]+-[0-9a-f]{{12}}\n", basement)


def test_the_cover_is_signed_off_once(applied_mail_project: Project, small_tree: GitTree) -> None:
    project = applied_mail_project.root
    signed = "Why it matters.\n\nSigned-off-by: Zoë Ærø <zoe@example.org>\nCc: Someone <s@example.org>"
    applied_mail_project.mutate(lambda d: d["cover"].update(body=signed))
    assert run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project).code == 0
    assert _sections(project / "out/0000-cover-letter.patch")[0] == signed + "\n"  # it ends in trailers: as written


def _reroll(tmp_path: Path, tree: GitTree) -> tuple[Path, str]:
    """v1 posted, two reviews recorded on it (as 'patchkit trailers' records them), v2 opened and applied."""
    project, v1 = posted_v1(tmp_path, tree)
    assert run_cli("revise", cwd=project).code == 0
    path = project / "series/demo/series.yaml"
    data = yaml.safe_load(path.read_text())
    data["changelog"][-1]["changes"] = "- Took the reviews."
    cover_id = str(read_mail(v1[0])["Message-ID"])
    reviews = [
        (0, "Reviewed-by: Rev One <rev1@example.org>", "Rev One <rev1@example.org>"),
        (1, "Acked-by: Ack Two <ack2@example.org>", "Ack Two <ack2@list.example.org>"),  # the trailer's address
        (1, "Reviewed-by: Test Author <author@example.org>", "Test Author <author@example.org>"),  # the sender
    ]
    for index, trailer, given_by in reviews:
        patch = data["patches"][index]
        patch["trailers"].append(trailer)
        patch.setdefault("provenance", []).append(
            {"trailer": trailer, "from": given_by, "message_id": "<r@example.org>", "revision": 1}
        )
    data["patches"][0]["provenance"].append(  # given on v2 itself: not a reason to Cc v2
        {"trailer": "Tested-by: Late Tester <late@example.org>", "from": "Late Tester <late@example.org>",
         "message_id": "<late@example.org>", "revision": 2}
    )  # fmt: skip
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    assert run_cli("apply", "--tree", str(tree.path), "--force", cwd=project).code == 0
    return project, cover_id


def test_a_reroll_ccs_who_gave_trailers_on_earlier_revisions(tmp_path: Path, small_tree: GitTree) -> None:
    project, _ = _reroll(tmp_path, small_tree)
    assert run_cli("format", "--tree", str(small_tree.path), "-o", "v2", cwd=project).code == 0
    cover, first, second = (read_mail(p) for p in sorted((project / "v2").glob("*.patch")))
    assert first["Cc"] == "linux-kernel@vger.kernel.org, Rev One <rev1@example.org>"
    assert second["Cc"] == "linux-kernel@vger.kernel.org, Ack Two <ack2@example.org>"
    assert cover["Cc"] == "linux-kernel@vger.kernel.org, Rev One <rev1@example.org>, Ack Two <ack2@example.org>"
    assert "author@example.org" not in str(cover["Cc"]) and "late@" not in str(cover["Cc"])
    # --no-cc-trailers: only the data's recipients
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "v2", "--no-cc-trailers", cwd=project)
    assert result.code == 0, result.err
    assert all(read_mail(p)["Cc"] == "linux-kernel@vger.kernel.org" for p in (project / "v2").glob("*.patch"))


def test_in_reply_to_puts_the_reroll_into_an_existing_thread(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1_cover = _reroll(tmp_path, small_tree)
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "v2", "--in-reply-to", v1_cover.strip("<>"),
                     cwd=project)  # fmt: skip
    assert result.code == 0, result.err
    cover, *patches = (read_mail(p) for p in sorted((project / "v2").glob("*.patch")))
    assert cover["In-Reply-To"] == cover["References"] == v1_cover
    for patch in patches:
        assert patch["In-Reply-To"] == cover["Message-ID"]
        assert patch["References"] == f"{v1_cover} {cover['Message-ID']}"
    for bad in ("not an id", "<a@b>\nBcc: x@example.org", "<two@x> <ids@y>"):
        result = run_cli("format", "--tree", str(small_tree.path), "-o", "bad", "--in-reply-to", bad, cwd=project)
        assert result.code == 2 and "--in-reply-to" in result.err and "is not a Message-Id" in result.err, bad
        assert len(result.err.strip().splitlines()) == 1
        assert not (project / "bad").exists()


def _basement(path: Path) -> list[str]:
    return str(read_mail(path).get_content()).rsplit("\n---\n", 1)[1].splitlines()


def test_depends_is_written_as_b4_prerequisites_in_the_cover(
    applied_mail_project: Project, small_tree: GitTree
) -> None:
    project = applied_mail_project.root
    ids = ["1" * 40, "2" * 40]
    applied_mail_project.mutate(lambda data: data.update(depends=[
        {"change_id": "20260101-other-work-0123456789ab", "revision": 3}, {"patch_ids": ids}]))  # fmt: skip
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project)
    assert result.code == 0, result.err
    assert "depends: 20260101-other-work-0123456789ab v3: not a series in" in result.out  # said, not fatal
    assert _basement(project / "out/0000-cover-letter.patch")[2:] == [
        "prerequisite-change-id: 20260101-other-work-0123456789ab:v3",
        f"prerequisite-patch-id: {ids[0]}",
        f"prerequisite-patch-id: {ids[1]}",
    ]


def test_a_dependency_in_the_same_project_gets_its_patch_ids(tmp_path: Path, small_tree: GitTree) -> None:
    project, v1 = posted_v1(tmp_path, small_tree)
    assert run_cli("revise", cwd=project).code == 0  # records v1's patch-ids in history
    base = yaml.safe_load((project / "series/demo/series.yaml").read_text())
    recorded = [p["patch_id"] for p in base["history"][0]["patches"]]
    # a second series in the project that builds on demo v1
    other = small_series_data(small_tree, [{
        "subject": "README: Add a third line", "author": {"name": "Test Author", "email": "author@example.org"},
        "date": "2026-03-01T00:00:00+00:00", "trailers": ["Signed-off-by: Test Author <author@example.org>"],
        "diff": "0001-third.diff",
    }])  # fmt: skip
    other.update(name="more", to=["x86@kernel.org"], cover={"subject": "more: One more", "body": "On top of demo."},
                 changelog=[{"revision": 1, "changes": "First."}],
                 depends=[{"change_id": base["change_id"], "revision": 1}])  # fmt: skip
    third = "diff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1 +1,2 @@\n tiny tree\n+third line\n"
    write_series(project / "series" / "more", other, {"0001-third.diff": third})
    assert run_cli("apply", "series/more", "--tree", str(small_tree.path), cwd=project).code == 0
    result = run_cli("format", "series/more", "--tree", str(small_tree.path), "-o", "more", cwd=project)
    assert result.code == 0, result.err
    assert _basement(project / "more/0000-cover-letter.patch")[2:] == [
        f"prerequisite-change-id: {base['change_id']}:v1",
        *(f"prerequisite-patch-id: {pid}" for pid in recorded),
    ]
    # the ids are those of the mails as v1 went out
    for path, pid in zip(v1[1:], recorded, strict=True):
        out = subprocess.run(["git", "patch-id", "--stable"], input=path.read_bytes(), capture_output=True,
                             check=True).stdout.decode()  # fmt: skip
        assert out.split()[0] == pid


@pytest.mark.parametrize(
    ("depends", "message"),
    [
        ([{"revision": 2}], "depends[0]"),
        ([{"change_id": "not-a-change-id"}], "depends[0].change_id"),
        ([{"patch_ids": ["abc"]}], "depends[0].patch_ids[0]"),
        ([{"change_id": "20260101-other-work-0123456789ab", "extra": 1}], "depends[0]"),
    ],
)
def test_a_malformed_dependency_is_refused_naming_the_key(
    applied_mail_project: Project, small_tree: GitTree, depends: list[dict[str, object]], message: str
) -> None:
    project = applied_mail_project.root
    applied_mail_project.mutate(lambda data: data.update(depends=depends))
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project)
    assert result.code == 3 and "series.yaml:" in result.err and message in result.err, result.err


def test_a_series_cannot_depend_on_itself(applied_mail_project: Project, small_tree: GitTree) -> None:
    project = applied_mail_project.root
    own = "20260101-demo-0123456789ab"
    applied_mail_project.mutate(lambda data: data.update(change_id=own, depends=[{"change_id": own}]))
    result = run_cli("format", "--tree", str(small_tree.path), "-o", "out", cwd=project)
    assert result.code == 3 and "depends[0].change_id: is this series' own change_id" in result.err


B4_REFERENCE = Path(__file__).parent / "data" / "b4-reference"
GOLDEN_V1 = Path(__file__).parent / "golden" / "tdx" / "v1"
_DATE = r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"
_MESSAGE_ID = r"<\d{{8}}-[a-z0-9-]+-v1-{k}-[0-9a-f]{{12}}@[a-z0-9.-]+>"


def _raw_headers(path: Path) -> dict[str, str]:
    """Header name (lower case) -> its lines exactly as written (the mbox From line left out)."""
    head = path.read_bytes().partition(b"\n\n")[0].decode("ascii")
    out: dict[str, str] = {}
    name = ""
    for line in head.split("\n"):
        if line.startswith("From ") and not out:
            continue
        if line[:1] in (" ", "\t"):
            out[name] += "\n" + line
        else:
            name = line.split(":", 1)[0].lower()
            assert name not in out, f"{path.name}: two {name} headers"
            out[name] = line
    return out


def _date_of(headers: dict[str, str]) -> datetime:
    return email.utils.parsedate_to_datetime(headers["date"].split(": ", 1)[1])


def _sections(path: Path) -> list[str]:
    return str(read_mail(path).get_content()).split("\n---\n")


def test_the_golden_mails_have_b4s_shape_header_by_header() -> None:
    b4_cover, b4_patch = _raw_headers(B4_REFERENCE / "0000-cover.eml"), _raw_headers(B4_REFERENCE / "0001-patch.eml")
    (cover_path, patch_path) = sorted(GOLDEN_V1.glob("000[01]-*.patch"))
    cover, patch = _raw_headers(cover_path), _raw_headers(patch_path)
    # the same headers, less b4's own (tracking, mailer); git adds MIME headers to a patch only for 8-bit text
    assert set(cover) == set(b4_cover) - {"x-b4-tracking", "x-mailer"}
    assert set(b4_patch) - {"x-mailer", "mime-version", "content-type", "content-transfer-encoding"} == set(patch)
    for ours, theirs in ((cover, b4_cover), (patch, b4_patch)):
        for lines in ours.values():
            assert lines.split("\n")[0].split(":", 1)[1].strip(), lines  # the content starts on the header's line
            # at most 78 columns, unless a line is one word that cannot be broken (a long Message-Id)
            assert all(len(line) <= 78 or " " not in line.split(": ", 1)[-1].strip() for line in lines.split("\n"))
        assert re.fullmatch(rf"date: {_DATE}", ours["date"], re.IGNORECASE)
        assert re.fullmatch(rf"date: {_DATE}", theirs["date"], re.IGNORECASE)
    # the same subject folded at the same space, numbered as b4 numbers it
    assert patch["subject"] == b4_patch["subject"]
    assert cover["subject"].startswith("Subject: [PATCH 00/10] ") and b4_cover["subject"].startswith(
        "Subject: [PATCH 00/10] "
    )
    # Message-Ids of b4's shape, the patch answering the cover, one second after it
    for headers, k in ((cover, 0), (patch, 1), (b4_cover, 0), (b4_patch, 1)):
        assert re.fullmatch(_MESSAGE_ID.format(k=k), headers["message-id"].split(": ", 1)[1])
    for first, second in ((cover, patch), (b4_cover, b4_patch)):
        assert second["in-reply-to"].split(": ", 1)[1] == first["message-id"].split(": ", 1)[1]
        gap = _date_of(second) - _date_of(first)
        assert gap.total_seconds() == 1
    # the cover's body: its own text ending in a sign-off, then ---, (our changelog, ---), shortlog and
    # diffstat, ---, the basement: base-commit and change-id
    our_body, b4_body = _sections(cover_path), _sections(B4_REFERENCE / "0000-cover.eml")
    assert len(our_body) == 4 and len(b4_body) == 3
    assert our_body[0].rstrip().splitlines()[-1].startswith("Signed-off-by: ")
    assert b4_body[0].rstrip().splitlines()[-1].startswith("Signed-off-by: ")
    assert our_body[1].startswith("Changes in v1:\n")
    stat = re.compile(r"^ (\S+) +\| +(\d+)", re.MULTILINE)
    assert stat.findall(our_body[2]) == stat.findall(b4_body[1])
    assert our_body[2].count(" (10):\n") == b4_body[1].count(" (10):\n") == 1
    assert [line.split(":")[0] for line in our_body[3].splitlines()] == ["base-commit", "change-id"]
    assert [line.split(":")[0] for line in b4_body[2].splitlines()[:2]] == ["base-commit", "change-id"]
