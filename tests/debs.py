"""Small stand-ins for Debian's linux-source packages: real .deb files made with dpkg-deb.

Placed in patchkit's download cache, they are used exactly as a package that
`apt-get download` fetched, so the prepare, rebase and drift paths run
unchanged and offline.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path

from patchkit.tree import debian

PACKAGE = "linux-source-6.1"


def make_deb(cache_home: Path, version: str, files: dict[str, str], *, package: str = PACKAGE) -> Path:
    """Build ``package_version_all.deb`` holding /usr/src/<package>.tar.xz with ``files`` under <package>/."""
    debs = cache_home / "patchkit" / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "root"
        (root / "DEBIAN").mkdir(parents=True)
        (root / "DEBIAN" / "control").write_text(
            f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
            "Maintainer: Test <test@example.org>\nDescription: test stand-in\n"
        )
        top = Path(scratch) / package
        for name, text in files.items():
            (top / name).parent.mkdir(parents=True, exist_ok=True)
            (top / name).write_text(text)
        (root / "usr" / "src").mkdir(parents=True)
        with tarfile.open(root / "usr" / "src" / f"{package}.tar.xz", "w:xz") as archive:
            archive.add(top, arcname=package)
        deb = debs / debian.deb_name(package, version)
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb)], check=True, capture_output=True
        )
    return deb


KERNEL_FILES = {
    "Makefile": "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 99\nEXTRAVERSION =\n",
    ".gitignore": "*.o\n/*\n!/debian/\n",
    "arch/x86/coco/tdx/tdx.c": "".join(f"/* line {n} */\n" for n in range(1, 31)),
    "fs/nfsd/nfs4state.c": "int nfsd(void);\n",
}
