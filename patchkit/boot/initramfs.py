"""The initramfs patchkit boots: Debian's static busybox and a /init that prints a marker and reboots.

Written as a newc cpio archive directly (no root needed for the /dev/console
node the kernel opens for init's stdio) and cached by content in
``$XDG_CACHE_HOME/patchkit/boot/``. ``reboot -f`` rather than ``poweroff -f``:
without ACPI power-off the kernel would only halt, while QEMU's ``-no-reboot``
turns a reset into an exit either way.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import stat
from pathlib import Path

from patchkit.errors import MissingToolError
from patchkit.util import atomic, paths, proc

MARKER = "patchkit-boot: userspace reached"

INIT_SCRIPT = f"""#!/bin/sh
/bin/mount -t proc proc /proc
/bin/mount -t sysfs sysfs /sys
/bin/mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "{MARKER} ($(/bin/uname -r))"
/bin/reboot -f
"""

# Applets reachable as /bin/<name>; "sleep" lets a test hang init on purpose (rdinit=/bin/sleep 600).
APPLETS = ("sh", "mount", "uname", "reboot", "poweroff", "echo", "cat", "dmesg", "sleep", "ls")


def busybox_path() -> Path:
    path = Path(proc.require("busybox"))
    with path.open("rb") as handle:
        data = handle.read(4096)  # the program headers name the loader; the rest (MBs) is read once, to pack it
    if b"/lib64/ld-linux" in data or b"/lib/ld-linux" in data:
        raise MissingToolError(f"{path} is dynamically linked; the initramfs needs a static busybox",
                               packages=("busybox-static",))  # fmt: skip
    return path


def initramfs_bytes(busybox: bytes) -> bytes:
    archive = CpioWriter()
    for directory in ("bin", "dev", "proc", "sys", "tmp"):
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1, 0o600)
    archive.file("bin/busybox", busybox, 0o755)
    for applet in APPLETS:
        archive.symlink(f"bin/{applet}", "busybox")
    archive.file("init", INIT_SCRIPT.encode(), 0o755)
    raw = archive.finish()
    return gzip.compress(raw, compresslevel=6, mtime=0)


def initramfs() -> Path:
    """The cached initramfs for the installed busybox (made on first use)."""
    busybox = busybox_path().read_bytes()
    digest = hashlib.sha256(busybox + INIT_SCRIPT.encode() + " ".join(APPLETS).encode()).hexdigest()[:16]
    path = paths.initramfs_file(digest)
    if not path.is_file():
        atomic.write_bytes(path, initramfs_bytes(busybox))
    return path


class CpioWriter:
    """Just enough of the newc format for an initramfs (the kernel's own reader is the consumer)."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._inode = 1

    def directory(self, name: str, mode: int = 0o755) -> None:
        self._entry(name, stat.S_IFDIR | mode, b"", nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name: str, major: int, minor: int, mode: int) -> None:
        self._entry(name, stat.S_IFCHR | mode, b"", rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"", inode=0)
        return self._buffer.getvalue()

    def _entry(
        self,
        name: str,
        mode: int,
        data: bytes,
        *,
        nlink: int = 1,
        rdev: tuple[int, int] = (0, 0),
        inode: int | None = None,
    ) -> None:
        encoded = name.encode() + b"\0"
        if inode is None:
            inode = self._inode
            self._inode += 1
        fields = (inode, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(f"{value:08x}".encode() for value in fields)
        self._write_padded(header + encoded)
        self._write_padded(data)

    def _write_padded(self, data: bytes) -> None:
        self._buffer.write(data)
        self._buffer.write(b"\0" * (-self._buffer.tell() % 4))
