"""Output directories patchkit owns: it replaces only what it wrote there, never anything else.

A directory patchkit writes mails into holds a manifest, :data:`MANIFEST`,
naming each file it wrote and the SHA-256 of what it wrote. A later run into
the same directory may replace exactly those files, and only while they are
unchanged; it refuses a non-empty directory without a manifest (the user's
own files, a kernel tree, the series repository) and a file of its own that
the user has edited since. New directories are made with the user's umask.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from patchkit.errors import EnvironmentProblem, UsageError, os_problem
from patchkit.util import atomic

MANIFEST = ".patchkit-format.json"
_STAGING_PREFIX = ".patchkit-staging-"
_KIND = "patchkit format output"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(directory: Path) -> dict[str, list[str]] | None:
    """The files a previous run wrote (name -> acceptable hashes), or None when it is not patchkit's."""
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable manifest ({exc}); use another -o") from exc
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("kind") != _KIND or not isinstance(files, dict):
        raise UsageError(f"{path}: not a patchkit manifest; use another -o")
    manifest: dict[str, list[str]] = {}
    for name, hashes in files.items():
        if not isinstance(name, str) or "/" in name or name in ("", ".", "..") or not isinstance(hashes, list):
            raise UsageError(f"{path}: malformed entry {name!r}; use another -o")
        manifest[name] = [h for h in hashes if isinstance(h, str)]
    return manifest


def _write_manifest(directory: Path, files: dict[str, list[str]]) -> None:
    data = {"kind": _KIND, "files": dict(sorted(files.items()))}
    atomic.write_text(directory / MANIFEST, json.dumps(data, indent=2) + "\n")


def prepare(directory: Path) -> dict[str, list[str]]:
    """Make sure patchkit may write into ``directory``; return what it wrote there before.

    Creates the directory (and its parents) with the user's umask when missing.
    Refuses (exit 2) a non-empty directory that is not patchkit's output or whose
    patchkit files were edited; a directory that cannot be made is exit 8.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_problem(directory, exc, "create the output directory") from exc
    if not directory.is_dir():
        raise EnvironmentProblem(f"{directory}: cannot create the output directory: it is a file")
    manifest = read_manifest(directory)
    try:
        entries = sorted(os.listdir(directory))
    except OSError as exc:
        raise os_problem(directory, exc, "read the output directory") from exc
    # A run that was killed leaves its staging directory behind; the prefix and the manifest say it is ours.
    entries = [e for e in entries if e != MANIFEST and not (manifest is not None and e.startswith(_STAGING_PREFIX))]
    if manifest is None:
        if entries:
            more = f" and {len(entries) - 1} more" if len(entries) > 1 else ""
            raise UsageError(
                f"{directory}: not empty ({entries[0]}{more}) and not a previous 'patchkit format' output; "
                "give -o a new or empty directory (nothing was written)"
            )
        return {}
    for entry in entries:
        if entry not in manifest:
            raise UsageError(
                f"{directory}: holds {entry}, which patchkit did not write; move it away or give -o another "
                "directory (nothing was written)"
            )
        path = directory / entry
        if not path.is_file() or path.is_symlink() or _sha256(path) not in manifest[entry]:
            raise UsageError(
                f"{path}: changed since patchkit wrote it; move it away or give -o another directory "
                "(nothing was written)"
            )
    return manifest


@contextlib.contextmanager
def claim(directory: Path) -> Iterator[dict[str, list[str]]]:
    """:func:`prepare`, holding a lock on the directory until the block ends: one writer at a time."""
    prepare(directory)  # makes it, or refuses it before anything else
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise os_problem(directory, exc, "open the output directory") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EnvironmentProblem(
                f"{directory}: another patchkit is writing mails there right now; wait for it and run again"
            ) from None
        yield prepare(directory)  # again, now that no other writer can change it
    finally:
        os.close(fd)


@contextlib.contextmanager
def staging(directory: Path) -> Iterator[Path]:
    """A private directory inside ``directory`` to write the new files into; removed afterwards."""
    try:
        path = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=directory))
    except OSError as exc:
        raise os_problem(directory, exc, "write into the output directory") from exc
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def publish(directory: Path, staged: list[Path], previous: dict[str, list[str]]) -> list[Path]:
    """Move the staged files into ``directory``, replacing only patchkit's previous files.

    The manifest first names old and new files together, so a run killed half
    way still leaves a directory the next run recognises as its own.
    """
    new = {path.name: [_sha256(path)] for path in staged}
    union = {name: sorted(set(previous.get(name, [])) | set(new.get(name, []))) for name in {*previous, *new}}
    umask = _umask()
    try:
        _write_manifest(directory, union)
        for path in staged:
            os.chmod(path, 0o666 & ~umask)
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(path, directory / path.name)
        for name in previous:
            if name not in new:
                (directory / name).unlink(missing_ok=True)
        _write_manifest(directory, new)
        os.chmod(directory / MANIFEST, 0o666 & ~umask)
    except OSError as exc:
        raise os_problem(directory, exc, "write into the output directory") from exc
    for stale in directory.glob(_STAGING_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    return [directory / path.name for path in staged]


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
