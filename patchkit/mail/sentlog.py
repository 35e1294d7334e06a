"""Which mails of a revision went out: recorded in ``series.yaml`` as the server accepts each one.

``history:`` holds the revision's record (its cover's and patches' Message-Ids);
while a send is incomplete it lists ``sent_message_ids`` (those the server
accepted so far), and once every mail is in, ``sent: true`` replaces the list.
Each accepted mail is written at once (atomically, under the series lock the
caller holds), so a send that breaks after k mails leaves a record of exactly
those k, and the next ``send`` mails only the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from patchkit.errors import UsageError
from patchkit.mail.revision import record_revision
from patchkit.mail.send import Outgoing
from patchkit.series.dump import series_yaml
from patchkit.series.load import SERIES_FILE
from patchkit.series.model import Revision, Series
from patchkit.util import atomic


def _ids(revision: Revision) -> list[str]:
    return [revision.cover_message_id, *(p.message_id for p in revision.patches)]


@dataclass(frozen=True)
class SendPlan:
    """What this send mails, what went out before, and the record it extends."""

    to_send: list[Outgoing]
    already: list[Outgoing]  # recorded as sent by an earlier, broken-off send
    record: Revision  # the history record each accepted Message-Id is added to
    note: str = ""  # what to tell the user about earlier sends ("" when this is the first)


def plan_send(series: Series, revision: Revision, mails: list[Outgoing], *, force: bool) -> SendPlan:
    """The mails still to send of ``series``' current revision (``revision``: what ``format`` made of it now).

    Nothing recorded as sent is mailed again, unless the whole revision went out and ``force`` asks to send
    it again. When the data changed since a recorded send, the rest would not match what went out: refused
    (a usage error naming what went out), unless ``force``.
    """
    where = series.directory / SERIES_FILE
    fresh = replace(revision, sent=False, sent_message_ids=())
    posted = series.revision_record(series.revision)
    if posted is None or not (posted.sent or posted.sent_message_ids):
        return SendPlan(list(mails), [], fresh)
    current = [mail.message_id for mail in mails]
    v = f"v{series.revision}"
    if posted.sent:
        same = _ids(posted) == current
        if force:
            return SendPlan(list(mails), [], fresh, f"{v} was sent on {posted.date}; sending all {len(mails)} mails "
                            "again (--force)")  # fmt: skip
        if same:
            return SendPlan([], list(mails), posted, f"{v}: all {len(mails)} mails went out on {posted.date} (cover "
                            f"{posted.cover_message_id}); nothing left to send (run 'patchkit revise' for "
                            f"v{series.revision + 1})")  # fmt: skip
        raise UsageError(f"{where}: {v} was already sent on {posted.date} (cover {posted.cover_message_id}) and "
                         f"the patches changed since; run 'patchkit revise' for v{series.revision + 1}, or --force "
                         "to send it again")  # fmt: skip
    went = set(posted.sent_message_ids)
    if went <= set(current):
        already = [mail for mail in mails if mail.message_id in went]
        rest = [mail for mail in mails if mail.message_id not in went]
        names = ", ".join(mail.path.name for mail in already)
        note = (f"{v}: {len(already)} of {len(mails)} mails went out before (recorded in {where}): {names}; "
                f"sending only the other {len(rest)}")  # fmt: skip
        return SendPlan(rest, already, posted, note)
    ids = ", ".join(posted.sent_message_ids)
    if force:
        return SendPlan(list(mails), [], fresh, f"{v} was partly sent before ({ids}) and has changed since; sending "
                        f"all {len(mails)} mails (--force)")  # fmt: skip
    raise UsageError(f"{where}: {v} was partly sent ({len(went)} of {len(posted.patches) + 1} mails: {ids}) and the "
                     "patches changed since, so the rest would not match what went out; put the data back to send "
                     f"the rest, run 'patchkit revise' for v{series.revision + 1}, or --force to send all of it "
                     "again")  # fmt: skip


class SentLog:
    """Adds each accepted Message-Id to the revision's record and writes ``series.yaml`` at once.

    The caller holds the series lock from reading the series to the last mail, so nothing else changes the
    file in between and the series kept here is the file's content.
    """

    def __init__(self, series: Series, record: Revision) -> None:
        self.series = series
        self.record = record

    @property
    def path(self) -> Path:
        return self.series.directory / SERIES_FILE

    def accepted(self, message_id: str, when: datetime | None = None) -> None:
        ids = _ids(self.record)
        went = [*self.record.sent_message_ids, message_id]
        done = set(ids) <= set(went)
        date = (when or datetime.now(UTC).astimezone()).replace(microsecond=0).isoformat()
        self.record = replace(self.record, date=date, sent=done, sent_message_ids=() if done else tuple(went))
        self.series = record_revision(self.series, self.record)
        atomic.write_text(self.path, series_yaml(self.series))
