"""Revisions as history: ``patchkit revise`` records what vN was and opens vN+1.

What was posted for vN goes into ``series.yaml`` ``history:`` (date, the cover's
and every patch's Message-Id, every patch's ``git patch-id --stable``), and a
copy of vN's data (``series.yaml`` and the mailed diffs) into ``history/vN/``,
from which ``format`` re-makes vN's commits for the range-diff of vN+1, with
no branch needed. The series gets a ``change_id`` (b4's), kept from then on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from patchkit.errors import DataError
from patchkit.mail import identity
from patchkit.mail.format import change_id_of, posted_revision
from patchkit.series import patchids
from patchkit.series.dump import series_yaml
from patchkit.series.load import SERIES_FILE
from patchkit.series.model import ChangelogEntry, Revision, Series
from patchkit.util import atomic


def planned_revision(series: Series, now: datetime) -> Revision:
    """What ``format`` gives the current revision: its Message-Ids and patch-ids, dated ``now``."""
    patch_ids = patchids.series_patch_ids(series)
    message_ids = identity.message_ids(change_id_of(series), series.revision, patch_ids, identity.domain_of(series))
    return posted_revision(series, now, patch_ids, message_ids)


def record_revision(series: Series, revision: Revision) -> Series:
    """``series`` with ``revision`` in its history (replacing an earlier record of the same revision)."""
    history = sorted([*(r for r in series.history if r.revision != revision.revision), revision],
                     key=lambda r: r.revision)  # fmt: skip
    return replace(series, history=tuple(history), change_id=change_id_of(series))


def revise(series: Series, now: datetime | None = None) -> Series:
    """Record vN (history entry and snapshot), then make the data vN+1 with an empty changelog entry."""
    now = now or datetime.now(UTC).astimezone()
    where = series.directory / SERIES_FILE
    current = series.revision
    snapshot = f"history/v{current}"
    snapshot_dir = series.directory / snapshot
    if (snapshot_dir / SERIES_FILE).exists():
        raise DataError(f"{snapshot_dir}: v{current} is already recorded there; the data says revision {current}")
    if current > 1:
        entry = next((e for e in series.changelog if e.revision == current), None)
        if entry is None or not entry.changes.strip():
            raise DataError(f"{where}: changelog: v{current} has no entry yet; say what changed before revising")
    if series.cover is None:
        raise DataError(f"{where}: cover: a series to revise needs a cover letter (subject, body)")
    record = series.revision_record(current) or planned_revision(series, now)
    record = replace(record, snapshot=snapshot)
    # The snapshot: vN's mailed patches and their diffs, loadable as a series of its own.
    copy = replace(series, directory=snapshot_dir, patches=series.mailed_patches, history=(), configs=())
    for patch in series.mailed_patches:
        atomic.write_bytes(snapshot_dir / patch.diff, series.diff_bytes(patch))
    atomic.write_text(snapshot_dir / SERIES_FILE, series_yaml(copy))
    revised = record_revision(series, record)
    changelog = (*revised.changelog, ChangelogEntry(current + 1, ""))
    revised = replace(revised, revision=current + 1, changelog=changelog)
    atomic.write_text(where, series_yaml(revised))
    return revised
