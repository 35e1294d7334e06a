"""Mail-ready patches from the applied branch: `git format-patch` plus what the data knows.

git does the formatting (diffs, shortlog, diffstat, ``base-commit:``, the
range-diff); patchkit then writes every header itself through
:mod:`patchkit.mail.headers`, so subjects and names are RFC 2047-correct and
nothing from the data can inject a header. It fills in what git cannot know:
the cover letter's subject and body, the changelog with "Link to vN", the
recipients (the data's, plus the base tree's ``get_maintainer.pl`` when
asked: maintainers in To, lists in Cc), b4's ``change-id`` and Message-Ids
that carry it, and the range-diff against the previous revision as it was
recorded (re-made from its snapshot, so no old branch is needed). Overlay
patches are not on the branch, so they can never be mailed.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from patchkit import proc
from patchkit.applied import AppliedSeries, require_record
from patchkit.applying import make_commits
from patchkit.errors import DataError, ExitCode, GitError, PatchkitError, TreeError
from patchkit.gitrepo import KernelTree
from patchkit.mail import headers, ids, outdir
from patchkit.series.load import SERIES_FILE, load_series
from patchkit.series.model import Person, PostedPatch, Revision, Series
from patchkit.states import compare_branch

_SUBJECT_PLACEHOLDER = "*** SUBJECT HERE ***"
_BLURB_PLACEHOLDER = b"*** BLURB HERE ***"
# The first line of what patchkit adds after the cover body; import recognises it and what follows.
BASED_ON = "Based on Debian's "


class LintGateError(PatchkitError):
    """Lint found errors in what would be mailed."""

    exit_code = ExitCode.FINDINGS


@dataclass(frozen=True)
class Formatted:
    directory: Path
    files: list[Path]  # cover letter first
    range_diff_against: str | None  # what the range-diff compares with, when there is one
    revision: Revision  # what these mails are: date, Message-Ids, patch-ids
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)  # what the user should know (lint forced, no range-diff)


def subject_prefix(series: Series) -> str:
    """``PATCH`` for v1, ``PATCH v2`` after: the list's convention."""
    return series.subject_prefix if series.revision == 1 else f"{series.subject_prefix} v{series.revision}"


def archive_of(series: Series) -> str:
    return series.archive or ids.LORE


def change_id_of(series: Series) -> str:
    return series.change_id or ids.default_change_id(series)


def cover_blurb(series: Series) -> str:
    """The cover body, then each revision's changes (newest first, with a link to the one before), then the base."""
    where = f"{series.directory / SERIES_FILE}"
    if series.cover is None:
        raise DataError(f"{where}: cover: a series to mail needs a cover letter (subject, body)")
    current = [e for e in series.changelog if e.revision == series.revision]
    if series.revision > 1 and (not current or not current[0].changes.strip()):
        raise DataError(
            f"{where}: changelog: revision {series.revision} has no entry saying what changed since "
            f"v{series.revision - 1}; write it (patchkit revise opened it) before formatting"
        )
    parts = [series.cover.body.rstrip()]
    for entry in sorted(series.changelog, key=lambda e: e.revision, reverse=True):
        text = f"Changes in v{entry.revision}:\n{entry.changes.rstrip()}"
        before = series.revision_record(entry.revision - 1)
        if before is not None:
            text += f"\n- Link to v{before.revision}: {ids.archive_link(archive_of(series), before.cover_message_id)}"
        parts.append(text)
    if series.base.package_version:
        parts.append(f"{BASED_ON}{series.base.package} {series.base.package_version} (Linux {series.base.version}).")
    else:
        parts.append(f"{BASED_ON}{series.base.package} ({series.base.version}).")
    return "\n\n".join(parts)


def sender_of(tree: KernelTree, series: Series) -> Person:
    """Who sends: git's identity (environment, then config) when there is one, else the first patch's author."""
    name = os.environ.get("GIT_COMMITTER_NAME") or tree.git("config", "--get", "user.name", check=False).strip()
    address = os.environ.get("GIT_COMMITTER_EMAIL") or tree.git("config", "--get", "user.email", check=False).strip()
    if name and address and not headers.control_problem(name) and not headers.control_problem(address):
        return Person(name, address)
    first = series.mailed_patches[0]
    return first.author


def merge_recipients(to: list[str], cc: list[str]) -> tuple[list[str], list[str]]:
    """Drop repeats (by address, case-insensitively); whoever is in To is not repeated in Cc."""
    seen: set[str] = set()
    out_to: list[str] = []
    out_cc: list[str] = []
    for target, values in ((out_to, to), (out_cc, cc)):
        for value in values:
            address = email.utils.parseaddr(value)[1].lower() or value.lower()
            if address not in seen:
                seen.add(address)
                target.append(value)
    return out_to, out_cc


@contextlib.contextmanager
def _maintainer_scripts(tree: KernelTree, base: str, tip: str) -> Iterator[Path]:
    """The base's get_maintainer.pl with the series' MAINTAINERS, in a private directory.

    The script comes from the base, never from the applied state: a patch under
    review that rewrites scripts/get_maintainer.pl must not run on this machine.
    """
    script = tree.git_bytes("show", f"{base}:scripts/get_maintainer.pl", check=False)
    if not script:
        raise TreeError(f"{tree.path}: the base commit has no scripts/get_maintainer.pl")
    maintainers = tree.git_bytes("show", f"{tip}:MAINTAINERS", check=False)
    with tempfile.TemporaryDirectory(prefix="patchkit-maint-") as scratch:
        root = Path(scratch)
        (root / "scripts").mkdir()
        (root / "scripts" / "get_maintainer.pl").write_bytes(script)
        (root / "MAINTAINERS").write_bytes(maintainers)
        yield root


_ROLE = re.compile(r"^(?P<who>.*?\S)\s+\((?P<role>[^()]*(?:\([^()]*\)[^()]*)*)\)\s*$")


def maintainers_for(root: Path, patch_file: Path) -> tuple[list[str], list[str]]:
    """(To, Cc) get_maintainer.pl suggests for one patch: people with roles in To, mailing lists in Cc."""
    argv = ["perl", str(root / "scripts" / "get_maintainer.pl"), "--rolestats", "--no-git", "--no-git-fallback",
            "--no-tree", str(patch_file)]  # fmt: skip
    result = proc.run(argv, cwd=root)
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise TreeError(f"{patch_file.name}: get_maintainer.pl failed: {detail[0]}")
    to: list[str] = []
    cc: list[str] = []
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if "@" not in line or headers.control_problem(line):
            continue
        match = _ROLE.match(line)
        who, role = (match["who"], match["role"]) if match else (line, "")
        name, address = email.utils.parseaddr(who)
        if "@" not in address:
            continue
        entry = email.utils.formataddr((name, address)) if name else address
        (cc if "list" in role.lower() else to).append(entry)
    return to, cc


def _now() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).astimezone()


def _lint_gate(tree: KernelTree, series: Series, record: AppliedSeries, fail_on: str, checkpatch: bool) -> str:
    from patchkit.lint import lint_series

    has_checkpatch = tree.rev_parse(f"{record.base}:scripts/checkpatch.pl") is not None
    report = lint_series(tree, series, record, checkpatch=checkpatch and has_checkpatch)
    counts = report.counts()
    summary = f"lint: {counts['error']} error(s), {counts['warning']} warning(s)"
    if not report.checkpatch_ran:
        summary += " (checkpatch not run)"
    if report.fails_at(fail_on):
        first = next(f for f in report.failing if f.severity == report.worst_severity)
        raise LintGateError(
            f"{summary}; not formatting a series that fails lint at '{fail_on}' "
            f"(first: patch {first.patch}: {first.rule}: {first.message}); fix it, or pass --force"
        )
    return summary


def _previous_range(tree: KernelTree, series: Series, record: AppliedSeries) -> tuple[str | None, str]:
    """The range-diff's other side: the recorded previous revision re-made from its snapshot, else its branch."""
    if series.revision == 1:
        return None, ""
    before = series.revision - 1
    recorded = series.revision_record(before)
    if recorded is not None and recorded.snapshot:
        snap_dir = series.directory / recorded.snapshot
        try:
            snapshot = load_series(snap_dir)
        except PatchkitError as exc:
            raise DataError(f"{series.directory / SERIES_FILE}: history v{before}: snapshot unusable: {exc}") from exc
        if snapshot.base.tree == series.base.tree:
            base = record.base
        else:
            found = tree.git("log", "--format=%H %T", "-n", "5000", "--all", check=False)
            base = next((c for c, t in (line.split() for line in found.splitlines()) if t == snapshot.base.tree), "")
            if not base:
                return None, f"v{before}'s base tree {snapshot.base.tree[:12]} is not in {tree.path}: no range-diff"
        commits = make_commits(tree, snapshot, base, snapshot.mailed_patches)
        return f"{base}..{commits[-1].commit}", f"v{before} (recorded in {recorded.snapshot})"
    branch = f"patchkit/{series.name}/v{before}"
    if tree.rev_parse(f"refs/heads/{branch}"):
        return f"{record.base}..{branch}", branch
    return None, f"no record of v{before} (run 'patchkit revise' before changing a posted series): no range-diff"


def format_series(
    tree: KernelTree,
    series: Series,
    output: Path,
    *,
    cc_maintainers: bool = False,
    force: bool = False,
    fail_on: str = "error",
    checkpatch: bool = True,
) -> Formatted:
    """Write the cover letter and one mail per patch into ``output``, replacing only patchkit's own files."""
    headers.check_series(series)
    state = compare_branch(tree, series)
    if not state.matches:
        raise TreeError(f"{tree.path}: {state.branch} {state.detail}; run 'patchkit apply --force' before formatting")
    record = require_record(tree, series.name)
    blurb = cover_blurb(series)  # a missing cover or changelog entry fails here, before git runs
    assert series.cover is not None
    notes: list[str] = []
    try:
        notes.append(_lint_gate(tree, series, record, fail_on, checkpatch))
    except LintGateError:
        if not force:
            raise
        notes.append("lint fails, formatted anyway (--force)")
    range_arg, range_note = _previous_range(tree, series, record)
    if range_note and range_arg is None:
        notes.append(range_note)
    sender = sender_of(tree, series)
    identity = {"GIT_COMMITTER_NAME": sender.name, "GIT_COMMITTER_EMAIL": sender.email}
    output = output.absolute()  # git runs in the tree, not here
    with outdir.claim(output) as previous_files, outdir.staging(output) as staging:
        argv = [
            "format-patch", "--cover-letter", "--thread=shallow", f"--subject-prefix={subject_prefix(series)}",
            "--no-signature", f"--base={record.base}", "--encode-email-headers", "-o", str(staging),
            f"--from={sender.name} <{sender.email}>",  # the sender in From:, the author in the body when not the same
        ]  # fmt: skip
        if range_arg is not None:
            argv.append(f"--range-diff={range_arg}")
        names = tree.git(*argv, f"{record.base}..{record.tip}", env=identity).split()
        files = [Path(name) for name in names]
        mails = [headers.RawMail.parse(path.read_bytes()) for path in files]
        patch_ids = ids.series_patch_ids(series)
        change_id = change_id_of(series)
        message_ids = ids.message_ids(change_id, series.revision, patch_ids, ids.domain_of(series))
        to_all, cc_all = list(series.to), list(series.cc)
        per_patch: list[tuple[list[str], list[str]]] = [(list(series.to), list(series.cc)) for _ in files[1:]]
        if cc_maintainers:
            with _maintainer_scripts(tree, record.base, record.tip) as root:
                for index, path in enumerate(files[1:]):
                    to, cc = maintainers_for(root, path)
                    per_patch[index] = merge_recipients(list(series.to) + to, list(series.cc) + cc)
                    to_all += to
                    cc_all += cc
        to_all, cc_all = merge_recipients(to_all, cc_all)
        now = _now()
        total = len(files) - 1
        cover_headers = [
            ("From", headers.format_person(sender)),
            ("Date", email.utils.format_datetime(now)),
            ("Subject", f"[{subject_prefix(series)} 0/{total}] {series.cover.subject}"),
            ("Message-ID", message_ids[0]),
            *_recipients(to_all, cc_all),
            ("X-Change-ID", change_id),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", "8bit"),
        ]
        cover = mails[0]
        if _BLURB_PLACEHOLDER not in cover.body:
            raise GitError("git format-patch wrote a cover letter without its placeholder; cannot fill it in")
        cover.body = _add_change_id(cover.body.replace(_BLURB_PLACEHOLDER, blurb.encode("utf-8"), 1), change_id)
        files[0].write_bytes(cover.render(cover_headers))
        for index, (path, mail) in enumerate(zip(files[1:], mails[1:], strict=True)):
            patch_headers = [
                ("From", headers.decode(mail.get("From") or "")),
                ("Date", mail.get("Date") or email.utils.format_datetime(now)),
                ("Subject", headers.decode(mail.get("Subject") or "")),
                ("Message-ID", message_ids[index + 1]),
                ("In-Reply-To", message_ids[0]),
                ("References", message_ids[0]),
                *_recipients(*per_patch[index]),
                *((n, v) for n, v in mail.headers if n.lower().startswith(("mime-", "content-"))),
            ]
            path.write_bytes(mail.render(patch_headers))
        written = outdir.publish(output, files, previous_files)
    revision = posted_revision(series, now, patch_ids, message_ids)
    return Formatted(output, written, range_note if range_arg else None, revision, tuple(to_all), tuple(cc_all), notes)


def _recipients(to: list[str], cc: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if to:
        out.append(("To", ", ".join(to)))
    if cc:
        out.append(("Cc", ", ".join(cc)))
    return out


def _add_change_id(body: bytes, change_id: str) -> bytes:
    """b4's basement: ``change-id:`` right after git's ``base-commit:`` line."""
    line = f"change-id: {change_id}\n".encode()
    match = re.search(rb"^base-commit: [0-9a-f]+\n", body, re.MULTILINE)
    if match is None:
        return body.rstrip(b"\n") + b"\n\n" + line
    return body[: match.end()] + line + body[match.end() :]


def posted_revision(series: Series, now: datetime, patch_ids: list[str], message_ids: list[str]) -> Revision:
    """The history record of the current revision: its date, the cover's and each patch's ids."""
    return Revision(
        revision=series.revision,
        date=now.replace(microsecond=0).isoformat(),
        cover_message_id=message_ids[0],
        patches=tuple(
            PostedPatch(p.subject, pid, mid)
            for p, pid, mid in zip(series.mailed_patches, patch_ids, message_ids[1:], strict=True)
        ),
    )
