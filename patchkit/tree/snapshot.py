"""Stage a freshly unpacked source tree into its git index, hashing on every core.

``git add -A`` hashes, compresses and writes the 78k files of a kernel tree one
loose object at a time; on a 2-core machine that was most of ``tree prepare``.
Here the files (and symlink targets) are streamed into one ``git fast-import``
per core, each writing a single pack, and the index is written directly with
each file's stat data, so git sees a clean work tree afterwards, byte for byte
the index ``git add -f -A`` writes. A tree whose ``.gitattributes`` would make
``add`` convert content is left to ``git add`` (:class:`NotSnapshotable`); the
kernel's only set ``diff=``. The caller checks the resulting tree against the
series' recorded base tree anyway.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import GitError
from patchkit.util import atomic, proc

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
    _require_no_conversion(top, entries)
    object_ids = _hash_files(top, entries, jobs)
    index = top / ".git" / "index"
    atomic.write_bytes(index, _index_bytes(entries, object_ids), 0o666 & ~atomic.umask())  # as git makes it


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


# Attributes under which `git add` would store something other than the shipped bytes.
_CONVERTING = re.compile(rb"(?:^|\s)-?!?(?:text|eol|crlf|ident|filter|working-tree-encoding)\b")


def _require_no_conversion(top: Path, entries: list[_Entry]) -> None:
    for entry in entries:
        if entry.path.rsplit(b"/", 1)[-1] == b".gitattributes" and entry.mode != 0o120000:
            for line in (top / os.fsdecode(entry.path)).read_bytes().splitlines():
                words = line.strip()
                if words and not words.startswith(b"#") and _CONVERTING.search(words.split(None, 1)[-1]):
                    raise NotSnapshotable(f"{os.fsdecode(entry.path)}: asks git to convert files when adding them")


def _hash_files(top: Path, entries: list[_Entry], jobs: int | None) -> dict[bytes, bytes]:
    """Every entry's object id (path -> binary id), written by one importer per worker."""
    count = max(1, min(jobs or os.cpu_count() or 1, 8))
    chunks = [entries[index::count] for index in range(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(lambda numbered: _import_blobs(top, *numbered), enumerate(chunks)))
    ids: dict[bytes, bytes] = {}
    for chunk, chunk_ids in zip(chunks, results, strict=True):
        ids.update(zip((entry.path for entry in chunk), chunk_ids, strict=True))
    return ids


def _import_blobs(top: Path, number: int, entries: list[_Entry]) -> list[bytes]:
    """Write ``entries`` as blobs into one new pack; return their ids in order.

    One ``git fast-import`` per worker writes a single pack instead of a loose
    file per object (most of ``git add``'s system time on 78k files); no deltas
    (``pack.depth=0``) and fast compression, as ``git add``'s loose objects have.
    """
    marks = top / ".git" / f"patchkit-marks-{number}"
    command = ["git", "-c", "pack.depth=0", "-c", "pack.compression=1", "fast-import", "--quiet",
               f"--export-marks={marks}"]  # fmt: skip
    importer = proc.start(command, cwd=top, stdin=proc.PIPE, stderr=proc.PIPE)
    assert importer.stdin is not None and importer.stderr is not None
    root = os.fsencode(top)
    try:
        for mark, entry in enumerate(entries, 1):
            full = os.path.join(root, entry.path)
            if entry.mode == 0o120000:
                data = os.readlink(full)
            else:
                with open(full, "rb") as source:
                    data = source.read()
            importer.stdin.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
            importer.stdin.write(data)
            importer.stdin.write(b"\n")
        importer.stdin.close()
    except BrokenPipeError:
        pass  # the importer failed: its exit status and message say why
    finally:
        errors = importer.stderr.read()
        importer.wait()
    if importer.returncode != 0:
        raise GitError(f"{top}: git fast-import failed: {errors.decode(errors='replace').strip()}")
    by_mark = dict(line.split(b" ", 1) for line in marks.read_bytes().splitlines())
    marks.unlink()
    return [bytes.fromhex(by_mark[b":%d" % mark].decode()) for mark in range(1, len(entries) + 1)]


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
