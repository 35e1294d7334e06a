"""Mail-ready patches from the applied branch: `git format-patch` plus what the data knows.

git does the formatting (diffs, shortlog, diffstat, ``base-commit:``, the
range-diff); patchkit then writes every header itself through
:mod:`patchkit.mail.headers` (as git writes them: RFC 2047 only where needed,
folded at a space), so nothing from the data can inject a header. It fills in
what git cannot know: the cover letter's subject and body, the changelog with
"Link to vN", the recipients (the data's; the base tree's ``get_maintainer.pl``
when asked: maintainers in To, lists in Cc; on a reroll the people who gave
trailers on earlier revisions), b4's ``change-id`` and Message-Ids that carry
it, the prerequisites the data declares, and the range-diff against the
previous revision as it was recorded (re-made from its snapshot, so no old
branch is needed). Overlay patches are not on the branch, so they can never
be mailed.

The cover letter is laid out as b4 lays it out, so that b4 and checkpatch read
it as the list expects: the cover's own text; ``---``; the changelog and the
base it was written for; ``---``; git's shortlog, diffstat and range-diff;
``---``; the basement (``base-commit:``, ``change-id:``, ``prerequisite-*:``).
Whatever reads "the message" of a mail stops at the first ``---``, so
``b4 shazam -M`` merges with the cover's own words only.

The output depends on the data only: the cover is dated by the newest author
date of the mailed patches, patch k one second per k later (the thread sorts
in order); ``send`` dates them again when it sends (:func:`headers.with_dates`).
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from patchkit.apply import revisions
from patchkit.apply.record import AppliedSeries
from patchkit.apply.states import require_current
from patchkit.errors import DataError, ExitCode, GitError, PatchkitError, TreeError, UsageError
from patchkit.mail import headers
from patchkit.mail import identity as ids
from patchkit.series import depends, patchids
from patchkit.series.load import SERIES_FILE
from patchkit.series.model import Person, PostedPatch, Revision, Series, branch_name
from patchkit.tree.repo import KernelTree
from patchkit.util import outdir, proc
from patchkit.util.signals import deferred_interrupts

_BLURB_PLACEHOLDER = b"*** BLURB HERE ***"
# The first line of what patchkit adds after the cover body; import recognises it and what follows.
BASED_ON = "Based on Debian's "
SEPARATOR = "---"  # b4's line between the cover's own text, the notes and the basement
_BASEMENT_START = re.compile(rb"^base-commit: ", re.MULTILINE)


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


def cover_changes(series: Series) -> str:
    """What patchkit adds below the cover's own text: each revision's changes (newest first, with a link to
    the one before), then the base the series was written for. A missing cover or changelog entry fails here."""
    where = f"{series.directory / SERIES_FILE}"
    if series.cover is None:
        raise DataError(f"{where}: cover: a series to mail needs a cover letter (subject, body)")
    current = [e for e in series.changelog if e.revision == series.revision]
    if series.revision > 1 and (not current or not current[0].changes.strip()):
        raise DataError(
            f"{where}: changelog: revision {series.revision} has no entry saying what changed since "
            f"v{series.revision - 1}; write it (patchkit revise opened it) before formatting"
        )
    parts: list[str] = []
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


def cover_body(own: str, changes: str, git_body: bytes, basement: list[str]) -> bytes:
    """The cover letter's body in b4's layout, from git's (placeholder, shortlog, diffstat, range-diff, base).

    ``basement`` is what follows git's ``base-commit:`` line (``change-id:``, ``prerequisite-*:``).
    """
    if not git_body.startswith(_BLURB_PLACEHOLDER):
        raise GitError("git format-patch wrote a cover letter without its placeholder; cannot fill it in")
    rest = git_body[len(_BLURB_PLACEHOLDER) :]
    found = _BASEMENT_START.search(rest)
    if found is None:
        raise GitError("git format-patch wrote a cover letter without its base-commit: line")
    notes = rest[: found.start()].strip(b"\n")
    base_line = rest[found.start() :].split(b"\n", 1)[0]
    sections = [
        own.strip("\n").encode(),
        changes.encode(),
        notes,
        b"\n".join([base_line, *(b.encode() for b in basement)]),
    ]
    return (b"\n\n" + SEPARATOR.encode() + b"\n").join(sections) + b"\n"


_TRAILER_LINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*: \S")
SIGNED_OFF_BY = "Signed-off-by: "


def signed_cover(body: str, sender: Person) -> str:
    """The cover's own text ending in the sender's ``Signed-off-by:``, as b4 ends its covers.

    Not ceremony: b4 (``shazam -M``) reads trailers out of the last paragraph of the text above the first
    ``---``, so a cover whose last paragraph begins "Testing: ..." would lose that line from the merge
    message. A body that already ends in a paragraph of trailers is left as it is.
    """
    text = body.strip("\n")
    last = text.rsplit("\n\n", 1)[-1].split("\n")
    if all(_TRAILER_LINE.match(line) for line in last):
        return text
    return f"{text}\n\n{SIGNED_OFF_BY}{headers.format_person(sender)}"


def mail_date(series: Series) -> datetime:
    """The cover letter's Date: the newest author date of the mailed patches (the data's; never the clock)."""
    return max(datetime.fromisoformat(p.date) for p in series.mailed_patches).astimezone(UTC)


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


def trailer_givers(series: Series, sender: Person) -> list[list[str]]:
    """Per mailed patch: who gave it a trailer on an earlier revision (``provenance:``), to Cc on this one.

    b4 does the same by default: a reviewer of v1 sees v2. The address is the one the trailer names (the
    person it credits); the sender is never Cc'd to themselves.
    """
    out: list[list[str]] = []
    for patch in series.mailed_patches:
        people: list[str] = []
        for source in patch.provenance:
            if source.revision >= series.revision:
                continue
            named = email.utils.parseaddr(source.trailer.split(":", 1)[1])
            name, address = named if "@" in named[1] else email.utils.parseaddr(source.given_by)
            if "@" not in address or address.lower() == sender.email.lower():
                continue
            if headers.control_problem(name) or headers.control_problem(address):
                continue
            people.append(headers.format_person(Person(name, address)))
        out.append(people)
    return out


def _lint_gate(tree: KernelTree, series: Series, record: AppliedSeries, fail_on: str, checkpatch: bool) -> str:
    from patchkit.lint.engine import lint_series

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


@contextlib.contextmanager
def _previous_range(tree: KernelTree, series: Series, record: AppliedSeries) -> Iterator[_PreviousRange]:
    """The range-diff's other side: the recorded previous revision re-made from its snapshot as
    ``patchkit diff`` re-makes it (its commits in a scratch object directory, read through ``env``), else
    the previous revision's branch."""
    if series.revision == 1:
        yield _PreviousRange(None, "")
        return
    before = series.revision - 1
    recorded = series.revision_record(before)
    if recorded is not None and recorded.snapshot:
        previous = revisions.revision_of(series, before)  # an unusable snapshot is a DataError naming it
        with revisions.scratch_objects(tree, [previous]) as env:
            try:
                remade = revisions.remade_range(tree, previous, env)
            except revisions.BaseNotFound:
                remade = None
            if remade is None:
                base_tree = previous.series.base.tree[:12]
                yield _PreviousRange(None, f"v{before}'s base tree {base_tree} is not in {tree.path}: no range-diff")
            else:
                yield _PreviousRange(remade, f"v{before} (recorded in {recorded.snapshot})", env)
        return
    branch = branch_name(series.name, before)
    if tree.rev_parse(f"refs/heads/{branch}"):
        yield _PreviousRange(f"{record.base}..{branch}", branch)
        return
    yield _PreviousRange(
        None, f"no record of v{before} (run 'patchkit revise' before changing a posted series): no range-diff"
    )


@dataclass(frozen=True)
class _PreviousRange:
    """What format-patch's ``--range-diff`` compares with (None: no range-diff), in words, and the git
    environment its commits are read through."""

    range: str | None
    note: str
    env: dict[str, str] = field(default_factory=dict)


def format_series(
    tree: KernelTree,
    series: Series,
    output: Path,
    *,
    cc_maintainers: bool = False,
    cc_trailers: bool = True,
    in_reply_to: str | None = None,
    force: bool = False,
    fail_on: str = "error",
    checkpatch: bool = True,
) -> Formatted:
    """Write the cover letter and one mail per patch into ``output``, replacing only patchkit's own files.

    ``cc_trailers``: Cc each patch (and the cover) to who gave it trailers on earlier revisions.
    ``in_reply_to``: a Message-Id the cover answers (a reroll posted into an existing thread).
    """
    headers.check_series(series)
    parent = _parent(in_reply_to) if in_reply_to is not None else None
    record = require_current(tree, series, "formatting")
    changes = cover_changes(series)  # a missing cover or changelog entry fails here, before git runs
    assert series.cover is not None
    notes: list[str] = []
    try:
        notes.append(_lint_gate(tree, series, record, fail_on, checkpatch))
    except LintGateError:
        if not force:
            raise
        notes.append("lint fails, formatted anyway (--force)")
    with _previous_range(tree, series, record) as previous:  # its commits live as long as git needs them
        if previous.note and previous.range is None:
            notes.append(previous.note)
        resolved = depends.resolve(series)
        notes += [f"depends: {r.dependency.label()}: {r.problem}; only its change-id is in the cover"
                  for r in resolved if r.problem]  # fmt: skip
        sender = sender_of(tree, series)
        identity = {"GIT_COMMITTER_NAME": sender.name, "GIT_COMMITTER_EMAIL": sender.email, **previous.env}
        output = output.absolute()  # git runs in the tree, not here
        with outdir.claim(output) as previous_files, outdir.staging(output) as staging:
            argv = [
                "format-patch", "--cover-letter", "--thread=shallow", f"--subject-prefix={subject_prefix(series)}",
                "--no-signature", f"--base={record.base}", "--encode-email-headers", "-o", str(staging),
                # the sender in From:, the author in the body when not the same
                f"--from={sender.name} <{sender.email}>",
            ]  # fmt: skip
            if previous.range is not None:
                argv.append(f"--range-diff={previous.range}")
            with deferred_interrupts():  # git writes into the staging directory: it ends before that is removed
                names = tree.git(*argv, f"{record.base}..{record.tip}", env=identity, new_session=True).split()
            files = [Path(name) for name in names]
            mails = [headers.RawMail.parse(path.read_bytes()) for path in files]
            patch_ids = patchids.series_patch_ids(series)
            change_id = change_id_of(series)
            message_ids = ids.message_ids(change_id, series.revision, patch_ids, ids.domain_of(series))
            to_all, cc_all = list(series.to), list(series.cc)
            per_patch: list[tuple[list[str], list[str]]] = [(list(series.to), list(series.cc)) for _ in files[1:]]
            if cc_maintainers:
                with _maintainer_scripts(tree, record.base, record.tip) as root:
                    for index, path in enumerate(files[1:]):
                        to, cc = maintainers_for(root, path)
                        per_patch[index] = (per_patch[index][0] + to, per_patch[index][1] + cc)
                        to_all += to
                        cc_all += cc
            if cc_trailers:
                for index, people in enumerate(trailer_givers(series, sender)):
                    per_patch[index][1].extend(people)
                    cc_all += people
            per_patch = [merge_recipients(to, cc) for to, cc in per_patch]
            to_all, cc_all = merge_recipients(to_all, cc_all)
            date = mail_date(series)
            total = len(files) - 1
            cover_headers = [
                ("From", headers.format_person(sender)),
                ("Date", headers.format_date(date)),
                ("Subject", f"[{subject_prefix(series)} {0:0{len(str(total))}d}/{total}] {series.cover.subject}"),
                ("Message-ID", message_ids[0]),
                *((("In-Reply-To", parent), ("References", parent)) if parent else ()),
                *_recipients(to_all, cc_all),
                ("X-Change-ID", change_id),
                ("MIME-Version", "1.0"),
                ("Content-Type", 'text/plain; charset="utf-8"'),
                ("Content-Transfer-Encoding", "8bit"),
            ]
            cover = mails[0]
            basement = [f"change-id: {change_id}", *depends.prerequisite_lines(resolved)]
            cover.body = cover_body(signed_cover(series.cover.body, sender), changes, cover.body, basement)
            files[0].write_bytes(cover.render(cover_headers))
            thread = f"{parent} {message_ids[0]}" if parent else message_ids[0]
            for index, (path, mail) in enumerate(zip(files[1:], mails[1:], strict=True)):
                patch_headers = [
                    ("From", headers.decode(mail.get("From") or "")),
                    ("Date", headers.format_date(date + timedelta(seconds=index + 1))),
                    ("Subject", headers.decode(mail.get("Subject") or "")),
                    ("Message-ID", message_ids[index + 1]),
                    ("In-Reply-To", message_ids[0]),
                    ("References", thread),
                    *_recipients(*per_patch[index]),
                    *((n, v) for n, v in mail.headers if n.lower().startswith(("mime-", "content-"))),
                ]
                path.write_bytes(mail.render(patch_headers))
            with deferred_interrupts():  # the mails replace the old ones all together, or not at all
                written = outdir.publish(output, files, previous_files)
        revision = posted_revision(series, datetime.now(UTC).astimezone(), patch_ids, message_ids)
        against = previous.note if previous.range else None
        return Formatted(output, written, against, revision, tuple(to_all), tuple(cc_all), notes)


def _parent(in_reply_to: str) -> str:
    try:
        return headers.check_message_id("--in-reply-to", in_reply_to)
    except DataError as exc:
        raise UsageError(exc.message) from None


def _recipients(to: list[str], cc: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if to:
        out.append(("To", ", ".join(to)))
    if cc:
        out.append(("Cc", ", ".join(cc)))
    return out


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
