"""``git patch-id --stable`` of the data's patches: the same for the same change, wherever it sits."""

from __future__ import annotations

from patchkit.errors import GitError
from patchkit.series.model import Series
from patchkit.util import proc


def patch_id(mail_or_diff: bytes) -> str:
    """``git patch-id --stable`` of a patch (mail or diff): the same for the same change, wherever it sits."""
    result = proc.run(["git", "patch-id", "--stable"], input_bytes=mail_or_diff)
    if result.returncode != 0:
        raise GitError(f"git patch-id failed: {result.stderr.decode('utf-8', 'replace').strip()}")
    out = result.stdout.decode().split()
    return out[0] if out else "0" * 40


def series_patch_ids(series: Series) -> list[str]:
    """The patch-id of every mailed patch, from the data's diff files (no tree needed)."""
    return [patch_id(series.diff_bytes(p)) for p in series.mailed_patches]
