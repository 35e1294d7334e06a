"""Stage a freshly unpacked source tree into its git index, hashing on every core.

``git add -A`` hashes and compresses the 78k files of a kernel tree one at a
time; on a 2-core machine that is most of ``tree prepare``. Here the regular
files are split across one ``git hash-object -w --stdin-paths`` per core (git
writes loose objects safely from several processes, and applies the same
attributes ``add`` would), symlinks are hashed from their targets, and the
index is written directly with each file's stat data, so git sees a clean
work tree afterwards, exactly as after ``git add``. The tree object that
``git write-tree`` then makes is the one ``git add -f -A`` would give; the
caller checks it against the series' recorded base tree anyway.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from patchkit import atomic
from patchkit.errors import GitError

_INDEX_VERSION = 2
_NAME_MASK = 0xFFF  # the index keeps the name length in 12 bits; longer names store the mask


class NotSnapshotable(Exception):
    """The tree holds something this fast path does not handle (the caller then uses ``git add``)."""


@dataclass(frozen=True)
class _Entry:
    path: bytes  # relative to the top, '/'-separated, as the index stores it
    info: os.stat_result
    mode: int


def stage_all(top: Path, jobs: int | None = None) -> None:
    """Write ``top/.git/index`` holding every file under ``top`` (ignored ones too, like ``add -f``)."""
    entries = sorted(_walk(top), key=lambda entry: entry.path)
    regular = [entry for entry in entries if entry.mode != 0o120000]
    object_ids = dict(zip((e.path for e in regular), _hash_files(top, [e.path for e in regular], jobs), strict=True))
    for entry in entries:
        if entry.mode == 0o120000:
            object_ids[entry.path] = _hash_link(top, entry.path)
    index = top / ".git" / "index"
    atomic.write_bytes(index, _index_bytes(entries, object_ids))
    umask = os.umask(0)
    os.umask(umask)
    index.chmod(0o666 & ~umask)  # as git would create it (the atomic write's temporary file is 0600)


def _walk(top: Path) -> Iterator[_Entry]:
    root = os.fsencode(top)
    for directory, subdirs, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        prefix = b"" if relative == b"." else relative + b"/"
        if prefix == b"":
            subdirs[:] = [name for name in subdirs if name != b".git"]
        if b".git" in subdirs or b".git" in files:
            raise NotSnapshotable(f"{os.fsdecode(prefix)}: holds a nested git repository")
        for name in subdirs:
            full = os.path.join(directory, name)
            if os.path.islink(full):  # os.walk lists a symlink to a directory as a directory
                files.append(name)
        for name in files:
            info = os.lstat(os.path.join(directory, name))
            path = prefix + name
            if b"\n" in path:
                raise NotSnapshotable(f"{os.fsdecode(path)!r}: a newline in a file name")
            if stat.S_ISLNK(info.st_mode):
                mode = 0o120000
            elif stat.S_ISREG(info.st_mode):
                mode = 0o100755 if info.st_mode & stat.S_IXUSR else 0o100644
            else:
                raise NotSnapshotable(f"{os.fsdecode(path)}: neither a file nor a symlink")
            yield _Entry(path, info, mode)


def _hash_files(top: Path, paths: list[bytes], jobs: int | None) -> list[bytes]:
    count = max(1, min(jobs or os.cpu_count() or 1, 8))
    size = -(-len(paths) // count) or 1
    chunks = [paths[start : start + size] for start in range(0, len(paths), size)]
    with ThreadPoolExecutor(max_workers=len(chunks) or 1) as pool:
        results = list(pool.map(lambda chunk: _hash_chunk(top, chunk), chunks))
    return [object_id for chunk_ids in results for object_id in chunk_ids]


def _hash_chunk(top: Path, paths: list[bytes]) -> list[bytes]:
    result = subprocess.run(
        ["git", "hash-object", "-w", "--stdin-paths"],
        cwd=top,
        input=b"".join(path + b"\n" for path in paths),
        capture_output=True,
        check=False,
    )
    ids = result.stdout.split()
    if result.returncode != 0 or len(ids) != len(paths):
        raise GitError(f"{top}: git hash-object failed: {result.stderr.decode(errors='replace').strip()}")
    return [bytes.fromhex(object_id.decode()) for object_id in ids]


def _hash_link(top: Path, path: bytes) -> bytes:
    target = os.readlink(os.path.join(os.fsencode(top), path))
    result = subprocess.run(
        ["git", "hash-object", "-w", "--no-filters", "--stdin"], cwd=top, input=target, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise GitError(f"{top}: git hash-object failed: {result.stderr.decode(errors='replace').strip()}")
    return bytes.fromhex(result.stdout.decode().strip())


def _index_bytes(entries: list[_Entry], object_ids: dict[bytes, bytes]) -> bytes:
    """The index file (version 2): a header, one entry per path in byte order, a SHA-1 trailer."""
    parts = [b"DIRC", struct.pack(">II", _INDEX_VERSION, len(entries))]
    for entry in entries:
        info = entry.info
        fixed = struct.pack(
            ">10I20sH",
            int(info.st_ctime) & 0xFFFFFFFF,
            info.st_ctime_ns % 1_000_000_000,
            int(info.st_mtime) & 0xFFFFFFFF,
            info.st_mtime_ns % 1_000_000_000,
            info.st_dev & 0xFFFFFFFF,
            info.st_ino & 0xFFFFFFFF,
            entry.mode,
            info.st_uid & 0xFFFFFFFF,
            info.st_gid & 0xFFFFFFFF,
            info.st_size & 0xFFFFFFFF,
            object_ids[entry.path],
            min(len(entry.path), _NAME_MASK),
        )
        length = len(fixed) + len(entry.path)
        padding = 8 - length % 8  # 1 to 8 NULs: the name is NUL-terminated and the entry 8-byte aligned
        parts += [fixed, entry.path, b"\0" * padding]
    body = b"".join(parts)
    return body + hashlib.sha1(body).digest()  # the index checksum git itself uses
