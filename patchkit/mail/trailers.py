"""Review trailers from replies: which reply reviewed which posted patch, and is that patch still the same.

A reply is matched to what it answers as b4 does: its In-Reply-To, then its
References (nearest first), against the Message-Ids patchkit recorded for each
revision (``history:``) or gives the current one; failing that, a replied-to
mail found in the same mailbox is matched by its ``git patch-id --stable``. A
trailer on the cover letter goes to every patch of that revision. A trailer
is carried only to a patch whose patch-id is still the one that was reviewed;
a patch changed since is reported, never silently given the trailer.

Which trailers count, as b4 decides it: one whose address is not the reply's
sender's (a robot's Tested-by forwarded by a person, a typo) is skipped unless
``sloppy`` (b4's ``-S``); a Reviewed-by/Acked-by/Tested-by from the patch's own
author is no review and is skipped. A reply that cannot be decoded is reported,
never dropped without a word. Where the new trailers go is :func:`place`.
"""

from __future__ import annotations

import email.utils
import fnmatch
import os
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from patchkit.errors import DataError, MissingToolError
from patchkit.mail import headers
from patchkit.mail.mbox import body_text, decode_header, read_messages
from patchkit.series import patchids
from patchkit.series.load import schema
from patchkit.series.model import Patch, Revision, Series, TrailerSource
from patchkit.util import proc

REVIEW_KEYS = ("Reviewed-by", "Acked-by", "Tested-by", "Reported-by", "Suggested-by")
SELF_REVIEW_KEYS = ("Reviewed-by", "Acked-by", "Tested-by")  # an author vouching for their own patch: no review
B4_TRAILER_ORDER = ("*",)  # b4's trailer-order default: no sorting (see place)
_LINE = re.compile(r"^(?P<key>" + "|".join(REVIEW_KEYS) + r"):\s*(?P<who>\S.*?)\s*$", re.IGNORECASE)
_ANGLE_ADDRESS = re.compile(r"^(?P<name>.*?)\s*<(?P<address>[^<>]+)>\s*$")
_MSGID = re.compile(r"<[^<>\s]+>")
_MAX_DEPTH = 50
# The schema's bounds on a patch's trailers (its one home): taking more would write data no command loads again.
_TRAILERS_RULE = schema()["properties"]["patches"]["items"]["properties"]["trailers"]
MAX_TRAILER = int(_TRAILERS_RULE["items"]["maxLength"])
MAX_TRAILERS = int(_TRAILERS_RULE["maxItems"])


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
    position: int  # 1-based, in the mailbox
    message_id: str
    parents: tuple[str, ...]  # In-Reply-To, then References nearest first
    sender: str  # From:, decoded
    subject: str
    text: str
    problem: str | None = None  # why it could not be decoded; its trailers are then not read


def _read(path: Path) -> list[_Mail]:
    mails: list[_Mail] = []
    for position, message in enumerate(read_messages(path), start=1):
        in_reply_to = _MSGID.findall(str(message.get("In-Reply-To", "")))
        references = _MSGID.findall(" ".join(str(v) for v in message.get_all("References", [])))
        parents = tuple(dict.fromkeys([*in_reply_to, *reversed(references)]))
        found_ids = _MSGID.findall(str(message.get("Message-ID", "")))
        message_id = found_ids[0] if found_ids else f"<message-{position}@mbox>"
        where = f"message {position} ({found_ids[0] if found_ids else 'no Message-Id'})"
        sender = subject = text = ""
        problem = None
        try:
            sender = decode_header(message.get("From", ""), where)
            subject = decode_header(message.get("Subject", ""), where)
            text = body_text(message, where)
        except DataError as exc:
            problem = exc.message
        mails.append(_Mail(position, message_id, parents, sender, subject, text, problem))
    return mails


def _known(series: Series, patch_ids: list[str]) -> dict[str, tuple[Revision, int]]:
    """Every Message-Id patchkit gave a revision: id -> (revision record, 0 for the cover or the patch's k).

    ``patch_ids``: the mailed patches' now (what the current revision's Message-Ids are made from).
    """
    records = list(series.history)
    if series.revision_record(series.revision) is None and series.mailed_patches:
        from patchkit.mail.revision import planned_revision

        records.append(planned_revision(series, datetime.now(UTC), patch_ids))
    known: dict[str, tuple[Revision, int]] = {}
    for record in records:
        known[record.cover_message_id] = (record, 0)
        for k, posted in enumerate(record.patches, start=1):
            known[posted.message_id] = (record, k)
    return known


# --- who may give a trailer: b4's comparison (b4/__init__.py, LoreMessage.get_trailers, LoreTrailer.email_eq)


def person_of(value: str) -> tuple[str, str]:
    """(name, address) of a trailer's value or a From: header, as b4 reads trailers: ``Name <addr>``
    taken literally (a comma or quote in the name is kept), anything else as an RFC 5322 address."""
    match = _ANGLE_ADDRESS.match(value)
    if match is not None:
        return match["name"].strip().strip('"'), match["address"].strip()
    return email.utils.parseaddr(value)


def same_address(one: str, other: str) -> bool:
    """b4's address match: equal ignoring case; or equal once a ``+tag`` is dropped from the local part;
    or the same local part at domains one subdomain apart (``x@linux.intel.com`` is ``x@intel.com``)."""
    ours, theirs = one.lower().strip(), other.lower().strip()
    if ours == theirs:
        return bool(ours)
    if "@" not in ours or "@" not in theirs:
        return False
    ours, theirs = re.sub(r"\+[^@]+@", "@", ours), re.sub(r"\+[^@]+@", "@", theirs)
    if ours == theirs:
        return True
    our_local, our_domain = ours.split("@", 1)
    their_local, their_domain = theirs.split("@", 1)
    if our_local != their_local:
        return False
    one_apart = abs(our_domain.count(".") - their_domain.count(".")) == 1
    return one_apart and (our_domain.endswith(f".{their_domain}") or their_domain.endswith(f".{our_domain}"))


def given_by_sender(trailer: str, sender: str) -> bool:
    """Whether the person a trailer names is the reply's sender (b4 takes it without ``-S`` then).

    The addresses match (:func:`same_address`), or the names do: equal ignoring case, or, for a From:
    name written ``Last, First``, every comma-separated part of it is in the trailer's name. (b4 0.16
    looks for those parts in the From: name itself, which any name with a comma passes; this is the
    check it means.)
    """
    trailer_name, trailer_address = person_of(trailer.split(":", 1)[1].strip())
    sender_name, sender_address = person_of(sender)
    if same_address(trailer_address, sender_address):
        return True
    trailer_name, sender_name = trailer_name.lower(), sender_name.lower()
    if not sender_name:
        return False
    if trailer_name == sender_name:
        return True
    if sender_name.find(",") > 0:
        return all(part.strip() in trailer_name for part in sender_name.split(","))
    return False


def _self_review(trailer: str, patch: Patch) -> bool:
    key, _, value = trailer.partition(":")
    return key in SELF_REVIEW_KEYS and same_address(person_of(value.strip())[1], patch.author.email)


# --- where the new trailers go: b4's fix_trailers


def _key(trailer: str) -> str:
    return trailer.split(":", 1)[0].strip().lower()


def _sorted_by(trailers: list[str], order: tuple[str, ...]) -> list[str]:
    """Stable sort by the first glob (case-insensitive) each trailer's key matches; the rest last."""
    left = list(trailers)
    ordered: list[str] = []
    for glob in (g.strip().lower() for g in order):
        for trailer in list(left):
            if fnmatch.fnmatchcase(_key(trailer), glob):
                ordered.append(trailer)
                left.remove(trailer)
    return ordered + left


def place(existing: tuple[str, ...], new: list[str], order: tuple[str, ...], me: str | None) -> tuple[str, ...]:
    """A patch's trailers once ``new`` ones are added, in b4's way (its ``fix_trailers``).

    The sender's own Signed-off-by (address ``me``) moves to the very end. With b4's default order,
    ``*``, nothing else moves: the new trailers follow the patch's own in the order they were
    given. With an order (globs on the trailer key, b4's ``trailer-order``), the trailers after the
    last other Signed-off-by (the chain of custody stays as it is) and the new ones are sorted by it.
    """
    kept = list(existing)
    own = next((t for t in kept if me and _key(t) == "signed-off-by" and _signed_off_by(t, me)), None)
    if own is not None:
        kept.remove(own)
    fresh = list(new)
    if order and tuple(order) != B4_TRAILER_ORDER:
        while kept and _key(kept[-1]) != "signed-off-by":
            fresh.insert(0, kept.pop())
        fresh = _sorted_by(fresh, order)
    lowered = {t.lower() for t in kept}
    result = kept + [t for t in fresh if t.lower() not in lowered]
    if own is not None:
        result.append(own)
    return tuple(result)


def _signed_off_by(trailer: str, address: str) -> bool:
    return person_of(trailer.split(":", 1)[1].strip())[1].lower() == address.lower()


def sender_address(directory: Path) -> str | None:
    """Who runs patchkit, as ``format`` finds the sender: GIT_COMMITTER_EMAIL, else git's user.email."""
    address = os.environ.get("GIT_COMMITTER_EMAIL", "").strip()
    if address:
        return address
    try:
        result = proc.run(["git", "config", "--get", "user.email"], cwd=directory)
    except (MissingToolError, OSError):
        return None  # no git: nobody's Signed-off-by is moved
    return result.stdout.decode("utf-8", "replace").strip() or None


# --- the collection


@dataclass
class _Pending:
    """New trailers for one patch, per-patch replies first, then those given to the whole series (b4 am)."""

    on_patch: list[tuple[str, TrailerSource]] = field(default_factory=list)
    on_cover: list[tuple[str, TrailerSource]] = field(default_factory=list)

    def has(self, trailer: str) -> bool:
        return any(t.lower() == trailer.lower() for t, _ in [*self.on_patch, *self.on_cover])

    def all(self) -> list[tuple[str, TrailerSource]]:
        return [*self.on_patch, *self.on_cover]


def collect(series: Series, mbox: Path, *, sloppy: bool = False) -> Outcome:
    """Add the review trailers the replies in ``mbox`` give to ``series``' patches; say what was skipped."""
    mails = _read(mbox)
    by_id = {m.message_id: m for m in mails}
    current_ids = patchids.series_patch_ids(series)  # git patch-id once per patch: for matching and for _known
    known = _known(series, current_ids)
    by_patch_id: dict[str, tuple[Revision, int]] = {}
    for record, k in known.values():
        if k:
            by_patch_id.setdefault(record.patches[k - 1].patch_id, (record, k))
    outcome = Outcome(series)
    patches = list(series.patches)
    mailed_index = [i for i, p in enumerate(patches) if not p.overlay]
    pending: dict[int, _Pending] = {}
    for mail in mails:
        if mail.message_id in known:
            continue  # one of the posted mails itself (its own Signed-off-by etc.)
        if mail.problem is not None:
            outcome.skipped.append(f"{mail.problem}: not decoded, so its trailers (if any) are not read")
            continue
        given = _trailers_in(mail.text)
        if not given:
            continue
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
            heard = f"{trailer} (from {mail.sender}, {mail.message_id})"
            if "@" not in trailer or headers.control_problem(trailer):
                outcome.skipped.append(f"{heard}: no mail address in it")
                continue
            if len(trailer) > MAX_TRAILER:
                outcome.skipped.append(f"{heard[:200]}...: {len(trailer)} characters, more than a trailer may have "
                                       f"({MAX_TRAILER})")  # fmt: skip
                continue
            if not sloppy and not given_by_sender(trailer, mail.sender):
                outcome.skipped.append(f"{heard}: names someone other than the reply's sender; --sloppy takes it")
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
                if _self_review(trailer, patch):
                    outcome.skipped.append(f"{patch.label()}: {note}: from the patch's own author, not a review")
                    continue
                waiting = pending.setdefault(index, _Pending())
                if trailer.lower() in (t.lower() for t in patch.trailers) or waiting.has(trailer):
                    outcome.skipped.append(f"{patch.label()}: already has {trailer}")
                    continue
                if len(patch.trailers) + len(waiting.all()) >= MAX_TRAILERS:
                    outcome.skipped.append(f"{patch.label()}: {note}: the patch has {MAX_TRAILERS} trailers already")
                    continue
                source = TrailerSource(trailer, mail.sender, mail.message_id, record.revision)
                (waiting.on_cover if k == 0 else waiting.on_patch).append((trailer, source))
                outcome.added.append(f"{patch.label()}: {note}")
    me = sender_address(series.directory) if pending else None
    for index, waiting in pending.items():
        if not waiting.all():
            continue
        patch = patches[index]
        trailers = place(patch.trailers, [t for t, _ in waiting.all()], series.trailer_order, me)
        provenance = (*patch.provenance, *(s for _, s in waiting.all()))
        patches[index] = replace(patch, trailers=trailers, provenance=provenance)
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
            match = by_patch_id.get(patchids.patch_id(found.text.encode("utf-8")))
            if match is not None:
                return match
        queue.extend(found.parents)
    return None
