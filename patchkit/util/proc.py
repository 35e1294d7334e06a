"""Running external programs with one consistent failure story.

A program that is not installed becomes :class:`MissingToolError` naming the
Debian package that provides it, never a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from patchkit.errors import MissingToolError

# Which Debian package provides each program patchkit runs (used by doctor too).
DEBIAN_PACKAGE_OF: dict[str, str] = {
    "git": "git",
    "make": "make",
    "gcc": "build-essential",
    "flex": "flex",
    "bison": "bison",
    "bc": "bc",
    "perl": "perl",
    "tar": "tar",
    "xz": "xz-utils",
    "cpio": "cpio",
    "ccache": "ccache",
    "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static",
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg-deb": "dpkg",
}


def require(program: str) -> str:
    """Return the path of ``program`` or raise :class:`MissingToolError`."""
    found = shutil.which(program)
    if found is None:
        package = DEBIAN_PACKAGE_OF.get(program)
        raise MissingToolError(f"'{program}' is not installed", packages=(package,) if package else ())
    return found


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` to completion, capturing output; never raises on a non-zero exit."""
    require(argv[0])
    full_env = None
    if env is not None:
        full_env = dict(os.environ)
        full_env.update(env)
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=full_env,
        input=input_bytes,
        stdin=None if input_bytes is not None else subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
