"""What patchkit needs from the machine, checked in one go, with the one apt command that fixes it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from patchkit import basetree
from patchkit.errors import MissingToolError


@dataclass(frozen=True)
class Need:
    what: str  # shown to the user
    package: str  # Debian package that provides it
    used_by: str  # which commands need it
    program: str | None = None  # found on PATH
    file: str | None = None  # or a file that must exist (headers, tarballs)
    optional: bool = False  # nice to have (faster), not required


NEEDS: tuple[Need, ...] = (
    Need("git", "git", "all", program="git"),
    Need("make", "make", "build", program="make"),
    Need("gcc", "build-essential", "build", program="gcc"),
    Need("flex", "flex", "build", program="flex"),
    Need("bison", "bison", "build", program="bison"),
    Need("bc", "bc", "build", program="bc"),
    Need("perl", "perl", "build, lint", program="perl"),
    Need("libelf headers", "libelf-dev", "build", file="/usr/include/libelf.h"),
    Need("OpenSSL headers", "libssl-dev", "build", file="/usr/include/openssl/ssl.h"),
    Need("cpio", "cpio", "build", program="cpio"),
    Need("xz", "xz-utils", "tree prepare", program="xz"),
    Need("qemu-system-x86_64", "qemu-system-x86", "boot", program="qemu-system-x86_64"),
    Need("static busybox", "busybox-static", "boot", program="busybox"),
    Need("apt-get", "apt", "tree prepare: fetching the exact base version", program="apt-get"),
    Need("dpkg-deb", "dpkg", "tree prepare", program="dpkg-deb"),
    Need("linux-source-6.1", "linux-source-6.1", "drift", file="/usr/src/linux-source-6.1.tar.xz", optional=True),
    Need("ccache", "ccache", "build (faster rebuilds)", program="ccache", optional=True),
)

BUILD = ("git", "make", "gcc", "flex", "bison", "bc", "perl", "libelf headers", "OpenSSL headers")
BOOT = ("qemu-system-x86_64", "static busybox")


@dataclass(frozen=True)
class Check:
    need: Need
    found: str | None  # path when present


def check(needs: tuple[Need, ...] = NEEDS) -> list[Check]:
    checks = []
    for need in needs:
        found: str | None = None
        if need.program is not None:
            found = shutil.which(need.program)
            if found and need.program == "busybox" and not _is_static(Path(found)):
                found = None
        elif need.file is not None and Path(need.file).exists():
            found = need.file
        checks.append(Check(need, found))
    return checks


def _is_static(path: Path) -> bool:
    try:
        head = path.read_bytes()[:8192]
    except OSError:
        return False
    return b"ld-linux" not in head


def apt_command(checks: list[Check], *, include_optional: bool = False) -> str | None:
    packages = sorted({c.need.package for c in checks if c.found is None and (include_optional or not c.need.optional)})
    if not packages:
        return None
    sudo = "" if os.geteuid() == 0 else "sudo "
    return f"{sudo}apt-get install {' '.join(packages)}"


def require(names: tuple[str, ...]) -> None:
    """Raise one :class:`MissingToolError` naming everything in ``names`` that is missing."""
    checks = check(tuple(n for n in NEEDS if n.what in names))
    missing = [c for c in checks if c.found is None]
    if missing:
        command = apt_command(missing)
        raise MissingToolError(
            f"missing: {', '.join(c.need.what for c in missing)}",
            packages=tuple(sorted({c.need.package for c in missing})),
            hint=f"install with: {command}" if command else None,
        )


def kvm_status() -> str:
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm: boots use TCG (slower, fine)"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not accessible to this user: boots use TCG (add yourself to group kvm)"
    cache = basetree.cache_root() / "kvm-probe.json"
    if cache.is_file():
        return f"/dev/kvm present; last probe: {cache.read_text().strip()}"
    return "/dev/kvm present; the first boot probes whether KVM works (falls back to TCG if not)"
