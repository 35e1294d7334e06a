"""Revisions as history: ``patchkit revise`` records what vN was and opens vN+1.

What was posted for vN goes into ``series.yaml`` ``history:`` (date, the cover's
and every patch's Message-Id, every patch's ``git patch-id --stable``), and a
copy of vN's data (``series.yaml`` and the mailed diffs) into ``history/vN/``,
from which ``format`` re-makes vN's commits for the range-diff of vN+1, with
no branch needed. The series gets a ``change_id`` (b4's), kept from then on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from patchkit.errors import DataError, PatchkitError
from patchkit.mail import identity
from patchkit.mail.format import change_id_of, posted_revision
from patchkit.series import patchids
from patchkit.series.dump import series_yaml
from patchkit.series.load import SERIES_FILE
from patchkit.series.lock import LEFTOVERS
from patchkit.series.model import ChangelogEntry, Revision, Series
from patchkit.util import atomic, inputfile
from patchkit.util.signals import deferred_interrupts

HISTORY = "history"  # the directory of the snapshots, in the series directory


def planned_revision(series: Series, now: datetime, patch_ids: list[str] | None = None) -> Revision:
    """What ``format`` gives the current revision: its Message-Ids and patch-ids, dated ``now``.

    ``patch_ids``: the mailed patches' (:func:`patchids.series_patch_ids`), when the caller has them already.
    """
    patch_ids = patchids.series_patch_ids(series) if patch_ids is None else patch_ids
    message_ids = identity.message_ids(change_id_of(series), series.revision, patch_ids, identity.domain_of(series))
    return posted_revision(series, now, patch_ids, message_ids)


def record_revision(series: Series, revision: Revision) -> Series:
    """``series`` with ``revision`` in its history (replacing an earlier record of the same revision)."""
    history = sorted([*(r for r in series.history if r.revision != revision.revision), revision],
                     key=lambda r: r.revision)  # fmt: skip
    return replace(series, history=tuple(history), change_id=change_id_of(series))


@dataclass(frozen=True)
class Revised:
    """What ``revise`` did: the data now (vN+1), vN's record, and what it found left over by an earlier run."""

    series: Series
    record: Revision
    notes: tuple[str, ...] = ()


def revise(series: Series, now: datetime | None = None) -> Revised:
    """Record vN (history entry and snapshot), then make the data vN+1 with an empty changelog entry.

    The caller holds the series lock and loaded ``series`` under it. The snapshot is written first and
    ``series.yaml`` last, with Ctrl-C and SIGTERM held off for both: an interrupt leaves the data as it was
    or fully revised. A run killed outright (SIGKILL, a power cut) after its snapshot leaves a snapshot
    without its history record: the next ``revise`` recognises it as its own unfinished work (it is exactly
    what this data would snapshot), completes it and says so.
    """
    now = now or datetime.now(UTC).astimezone()
    where = series.directory / SERIES_FILE
    current = series.revision
    snapshot = f"{HISTORY}/v{current}"
    snapshot_dir = series.directory / snapshot
    _require_inside(series, snapshot)
    copy = replace(series, directory=snapshot_dir, patches=series.mailed_patches, history=(), configs=())
    files = {patch.diff: series.diff_bytes(patch) for patch in series.mailed_patches}
    files[SERIES_FILE] = series_yaml(copy).encode("utf-8")
    notes: list[str] = []
    if os.path.lexists(snapshot_dir / SERIES_FILE):
        recorded = series.revision_record(current)
        if recorded is not None and recorded.snapshot == snapshot:
            raise DataError(
                f"{snapshot_dir}: v{current} is already recorded there and in {where}'s history, yet the data says "
                f"revision {current}; set revision to {current + 1} if v{current} was revised"
            )
        if not _holds(snapshot_dir, files):
            raise DataError(
                f"{snapshot_dir}: v{current} is already recorded there, and it is not what the data says v{current} "
                f"is now; the data says revision {current}: if that snapshot is a leftover, move it away and revise "
                "again"
            )
        notes.append(f"{snapshot} was written by a 'patchkit revise' that did not finish; finishing it now")
    if current > 1:
        entry = next((e for e in series.changelog if e.revision == current), None)
        if entry is None or not entry.changes.strip():
            raise DataError(f"{where}: changelog: v{current} has no entry yet; say what changed before revising")
    if series.cover is None:
        raise DataError(f"{where}: cover: a series to revise needs a cover letter (subject, body)")
    posted = series.revision_record(current)
    _require_as_sent(series, posted)
    record = replace(posted or planned_revision(series, now), snapshot=snapshot)
    revised = record_revision(series, record)
    changelog = (*revised.changelog, ChangelogEntry(current + 1, ""))
    revised = replace(revised, revision=current + 1, changelog=changelog)
    text = series_yaml(revised)  # checked before anything is written
    atomic.remove_leftovers(snapshot_dir, LEFTOVERS)  # of a revise killed while writing the snapshot
    with deferred_interrupts():  # the snapshot, then the data: both, or (on an interrupt before) neither
        for name, data in files.items():  # the snapshot's series.yaml last: it marks the snapshot whole
            if name != SERIES_FILE:
                atomic.write_bytes(snapshot_dir / name, data)
        atomic.write_bytes(snapshot_dir / SERIES_FILE, files[SERIES_FILE])
        atomic.write_text(where, text)
    return Revised(revised, record, tuple(notes))


def _require_inside(series: Series, snapshot: str) -> None:
    """Refuse a ``history`` (or ``history/vN``) that a symlink takes anywhere but into the series directory."""
    top = series.directory.resolve()
    for part in (HISTORY, snapshot):
        path = series.directory / part
        if not path.is_symlink() and (path.is_dir() or not os.path.lexists(path)):
            continue
        try:
            inside = path.resolve(strict=False).is_relative_to(top)
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise DataError(f"{path}: cannot resolve the path: {exc}") from None
        if path.is_symlink() and not inside:
            raise DataError(
                f"{path} is a symlink leading outside the series directory (to {os.readlink(path)}); revise writes "
                "its snapshot only inside the series: make it a directory"
            )
        if os.path.lexists(path) and not path.is_dir():
            raise DataError(f"{path}: not a directory; revise keeps its snapshot of v{series.revision} there")


def _holds(snapshot_dir: Path, files: dict[str, bytes]) -> bool:
    """Whether ``snapshot_dir`` holds exactly ``files`` (a snapshot an interrupted revise of this data wrote)."""
    for name, data in files.items():
        try:
            if inputfile.read_limited(snapshot_dir / name, max(len(data), 1)) != data:
                return False
        except PatchkitError:
            return False
    return True


def _require_as_sent(series: Series, posted: Revision | None) -> None:
    """A revision that went out (all of it or a part) is recorded as it was sent: refuse when a patch differs."""
    if posted is None or not (posted.sent or posted.sent_message_ids):
        return
    where = series.directory / SERIES_FILE
    ids = patchids.series_patch_ids(series)
    mailed = series.mailed_patches
    if len(ids) != len(posted.patches):
        raise DataError(
            f"{where}: v{series.revision} was sent with {len(posted.patches)} patches and the data now has "
            f"{len(ids)}: revise records what was posted; put the data back as sent (e.g. import the posted "
            "branch), revise, then make the change for the next revision"
        )
    for patch, now_id, sent in zip(mailed, ids, posted.patches, strict=True):
        if now_id != sent.patch_id:
            raise DataError(
                f"{where}: patch {patch.number} ({patch.subject}) [{patch.diff}] differs from what was sent as "
                f"v{series.revision} (patch-id {sent.patch_id[:12]} sent, {now_id[:12]} now): revise records what was "
                "posted; put that diff back as sent, revise, then make the change for the next revision"
            )
