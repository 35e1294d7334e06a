"""The GitHub Actions runner's files: the job summary (``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import os
from pathlib import Path

from patchkit.util import atomic, inputfile


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def add_step_summary(markdown: str) -> Path | None:
    """Append ``markdown`` to the job summary when the runner names one; return its path."""
    name = os.environ.get("GITHUB_STEP_SUMMARY")
    if not name:
        return None
    path = Path(name)
    # The runner's file (GitHub caps a step's summary at 1 MiB), read as every input is.
    before = inputfile.read_text(path, 16 * 1024 * 1024) if os.path.lexists(path) else ""
    separator = "\n" if before and not before.endswith("\n") else ""
    atomic.write_text(path, before + separator + markdown)
    return path
