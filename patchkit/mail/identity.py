"""Identities that make revisions history: change-id, Message-Ids, patch-ids.

They follow b4's conventions so that b4 users see the same thing: a series
``change-id`` of the form ``YYYYMMDD-slug-<12 hex>`` (``change-id:`` in the
cover letter, ``X-Change-ID:`` on it), and Message-Ids
``<YYYYMMDD-slug-vN-K-<12 hex>@domain>`` (K = 0 for the cover letter) that
carry the change-id and the revision. patchkit makes the random part from
the content (change-id, revision, every patch's patch-id), so formatting the
same revision twice gives the same Message-Ids, and a changed patch new ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime

from patchkit.series.model import Series


def slug(text: str, words: int = 5) -> str:
    parts = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(parts[:words]) or "series"


def default_change_id(series: Series) -> str:
    """The change-id a series without one has: stable for the same name, base and first subject."""
    first = series.mailed_patches[0] if series.mailed_patches else series.patches[0]
    day = datetime.fromisoformat(first.date).strftime("%Y%m%d")
    title = series.cover.subject if series.cover is not None else first.subject
    digest = hashlib.sha256(f"{series.name}\0{series.base.tree}\0{title}".encode()).hexdigest()[:12]
    return f"{day}-{slug(title)}-{digest}"


def message_ids(change_id: str, revision: int, patch_ids: Sequence[str], domain: str) -> list[str]:
    """Message-Ids for the cover letter (first) and each patch of one revision, b4's shape."""
    stable = change_id.rsplit("-", 1)[0]
    digest = hashlib.sha256(f"{change_id}\0{revision}\0{' '.join(patch_ids)}".encode()).hexdigest()[:12]
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "patchkit"
    return [f"<{stable}-v{revision}-{k}-{digest}@{domain}>" for k in range(len(patch_ids) + 1)]


def domain_of(series: Series) -> str:
    """The Message-Id domain: the first author's mail domain, so ids do not depend on who runs patchkit."""
    first = series.mailed_patches[0] if series.mailed_patches else series.patches[0]
    return first.author.email.rpartition("@")[2]


def archive_link(archive: str, message_id: str) -> str:
    """The archive URL of a message: ``archive`` with ``%s`` replaced, or ``archive/<id>``."""
    bare = message_id.strip("<>")
    return archive % bare if "%s" in archive else f"{archive.rstrip('/')}/{bare}"


LORE = "https://lore.kernel.org/r/%s"
