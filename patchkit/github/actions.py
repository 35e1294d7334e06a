"""The GitHub Actions runner's files: the job summary (``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import os
from pathlib import Path

from patchkit.errors import os_problem
from patchkit.util import atomic


def in_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def add_step_summary(markdown: str) -> Path | None:
    """Append ``markdown`` to the job summary when the runner names one; return its path."""
    name = os.environ.get("GITHUB_STEP_SUMMARY")
    if not name:
        return None
    path = Path(name)
    try:
        before = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        before = ""
    except OSError as exc:
        raise os_problem(path, exc, "read the job summary") from exc
    separator = "\n" if before and not before.endswith("\n") else ""
    atomic.write_text(path, before + separator + markdown)
    return path
