"""Review trailers from replies: which reply reviewed which posted patch, and is that patch still the same.

A reply is matched to what it answers as b4 does: its In-Reply-To, then its
References (nearest first), against the Message-Ids patchkit recorded for each
revision (``history:``) or gives the current one; failing that, a replied-to
mail found in the same mailbox is matched by its ``git patch-id --stable``. A
trailer on the cover letter goes to every patch of that revision. A trailer
is carried only to a patch whose patch-id is still the one that was reviewed;
a patch changed since is reported, never silently given the trailer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from patchkit.errors import DataError
from patchkit.mail import headers, ids
from patchkit.mbox import body_text, read_messages
from patchkit.series.model import Patch, Revision, Series, TrailerSource

REVIEW_KEYS = ("Reviewed-by", "Acked-by", "Tested-by", "Reported-by", "Suggested-by")
_BEFORE_SIGNOFF = ("Reported-by", "Suggested-by")  # they say who started it: before the first Signed-off-by
_LINE = re.compile(r"^(?P<key>" + "|".join(REVIEW_KEYS) + r"):\s*(?P<who>\S.*?)\s*$", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]+>")
_MAX_DEPTH = 50


@dataclass(frozen=True)
class Given:
    """A trailer found in a reply."""

    trailer: str  # normalised: "Reviewed-by: Name <a@b>"
    given_by: str  # the reply's From:
    message_id: str  # the reply's Message-Id
    subject: str


@dataclass
class Outcome:
    series: Series
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _trailers_in(text: str) -> list[str]:
    found: list[str] = []
    for line in text.split("\n"):
        if line.rstrip() == "--":
            break  # a signature follows
        if line.startswith(">"):
            continue  # quoted from the mail replied to
        match = _LINE.match(line.strip())
        if match is None:
            continue
        key = next(k for k in REVIEW_KEYS if k.lower() == match["key"].lower())
        found.append(f"{key}: {match['who']}")
    return found


@dataclass(frozen=True)
class _Mail:
    message_id: str
    parents: tuple[str, ...]  # In-Reply-To, then References nearest first
    sender: str
    subject: str
    text: str


def _read(path: Path) -> list[_Mail]:
    messages = read_messages(path)
    mails: list[_Mail] = []
    for position, message in enumerate(messages, start=1):
        where = f"{path}: message {position}"
        in_reply_to = _MSGID.findall(str(message.get("In-Reply-To", "")))
        references = _MSGID.findall(" ".join(str(v) for v in message.get_all("References", [])))
        parents = tuple(dict.fromkeys([*in_reply_to, *reversed(references)]))
        message_id = (_MSGID.findall(str(message.get("Message-ID", ""))) or [f"<message-{position}@mbox>"])[0]
        try:
            sender = headers.decode(str(message.get("From", "")))
            subject = headers.decode(str(message.get("Subject", "")))
        except (ValueError, LookupError) as exc:
            raise DataError(f"{where}: undecodable header: {exc}") from exc
        try:
            text = body_text(message, where)
        except DataError:
            text = ""
        mails.append(_Mail(message_id, parents, sender, subject, text))
    return mails


def _known(series: Series) -> dict[str, tuple[Revision, int]]:
    """Every Message-Id patchkit gave a revision: id -> (revision record, 0 for the cover or the patch's k)."""
    records = list(series.history)
    if series.revision_record(series.revision) is None and series.mailed_patches:
        from patchkit.revising import planned_revision

        records.append(planned_revision(series, datetime.now(UTC)))
    known: dict[str, tuple[Revision, int]] = {}
    for record in records:
        known[record.cover_message_id] = (record, 0)
        for k, posted in enumerate(record.patches, start=1):
            known[posted.message_id] = (record, k)
    return known


def collect(series: Series, mbox: Path) -> Outcome:
    """Add the review trailers the replies in ``mbox`` give to ``series``' patches; say what was skipped."""
    mails = _read(mbox)
    by_id = {m.message_id: m for m in mails}
    known = _known(series)
    current_ids = ids.series_patch_ids(series)
    by_patch_id: dict[str, tuple[Revision, int]] = {}
    for record, k in known.values():
        if k:
            by_patch_id.setdefault(record.patches[k - 1].patch_id, (record, k))
    outcome = Outcome(series)
    patches = list(series.patches)
    mailed_index = [i for i, p in enumerate(patches) if not p.overlay]
    for mail in mails:
        given = _trailers_in(mail.text)
        if not given or mail.message_id in known:
            continue  # no trailers, or one of the posted mails itself (its own Signed-off-by etc.)
        target = _target(mail, by_id, known, by_patch_id)
        if target is None:
            for trailer in given:
                outcome.skipped.append(
                    f"{trailer} (from {mail.sender}, {mail.message_id}): not a reply to a posted revision of "
                    f"series {series.name}"
                )
            continue
        record, k = target
        numbers = range(1, len(record.patches) + 1) if k == 0 else [k]
        for trailer in given:
            if "@" not in trailer or headers.control_problem(trailer):
                outcome.skipped.append(f"{trailer} (from {mail.sender}, {mail.message_id}): no mail address in it")
                continue
            for number in numbers:
                posted = record.patches[number - 1]
                where = f"v{record.revision} patch {number} ({posted.subject})"
                note = f"{trailer} (from {mail.sender}, {mail.message_id}, on v{record.revision})"
                if posted.patch_id not in current_ids:
                    moved = next((p for p in series.mailed_patches if p.subject == posted.subject), None)
                    why = f"changed since v{record.revision}" if moved else "no longer in the series"
                    outcome.skipped.append(f"{where}: {why}: {note} not carried; check it by hand")
                    continue
                index = mailed_index[current_ids.index(posted.patch_id)]
                patch = patches[index]
                if trailer in patch.trailers:
                    outcome.skipped.append(f"patch {patch.number} ({patch.subject}): already has {trailer}")
                    continue
                source = TrailerSource(trailer, mail.sender, mail.message_id, record.revision)
                patches[index] = _with_trailer(patch, trailer, source)
                outcome.added.append(f"patch {patch.number} ({patch.subject}): {note}")
    outcome.series = replace(series, patches=tuple(patches))
    return outcome


def _target(
    mail: _Mail,
    by_id: dict[str, _Mail],
    known: dict[str, tuple[Revision, int]],
    by_patch_id: dict[str, tuple[Revision, int]],
) -> tuple[Revision, int] | None:
    """What ``mail`` answers: the nearest known Message-Id up its thread, else a replied-to patch by patch-id."""
    queue = list(mail.parents)
    seen: set[str] = set()
    while queue and len(seen) < _MAX_DEPTH:
        parent = queue.pop(0)
        if parent in seen:
            continue
        seen.add(parent)
        if parent in known:
            return known[parent]
        found = by_id.get(parent)
        if found is None:
            continue
        if "\ndiff --git " in "\n" + found.text:
            match = by_patch_id.get(ids.patch_id(found.text.encode("utf-8")))
            if match is not None:
                return match
        queue.extend(found.parents)
    return None


def _with_trailer(patch: Patch, trailer: str, source: TrailerSource) -> Patch:
    trailers = list(patch.trailers)
    key = trailer.split(":", 1)[0]
    if key in _BEFORE_SIGNOFF:
        at = next((i for i, t in enumerate(trailers) if t.lower().startswith("signed-off-by:")), len(trailers))
        trailers.insert(at, trailer)
    else:
        trailers.append(trailer)
    return replace(patch, trailers=tuple(trailers), provenance=(*patch.provenance, source))
