"""Where patchkit keeps what it makes on this machine: the cache root, and every path under it."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/patchkit`` (``~/.cache/patchkit`` when unset)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "patchkit"
