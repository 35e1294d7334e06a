"""Output directories patchkit owns: it replaces only what it wrote there, never anything else.

One rule for every directory a command writes into (``format -o``, ``send -o``,
``verify``/``build``/``boot --results``): the directory must be new, empty, or an
earlier output of the same command, which holds that command's manifest
(:class:`OutputKind`). Anything else (the user's own files, a kernel tree, the
series repository, another command's output) is refused before a byte is
written.

The manifest is written first, before anything else goes into a new or empty
directory, so a run killed at any point leaves a directory the next run of the
same command recognises as its own (its staging directory and a manifest
half-written included). ``format``'s manifest names each file it wrote with the
SHA-256 of what it wrote: a later run replaces exactly those files, and only
while they are unchanged. A results directory's manifest names what earlier
runs left there; the next run may also replace the files a results directory
holds by name (``report.json``, ``lint.*``, ``build/``, ``boot/``, ...). A
directory a run made and then failed in is removed again. New directories are
made with the user's umask.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import EnvironmentProblem, PatchkitError, UsageError, os_problem
from patchkit.util import atomic, inputfile
from patchkit.util.store import sha256_file


@dataclass(frozen=True)
class OutputKind:
    """The directories one command writes: its manifest, the option naming them, what else it writes there."""

    command: str  # "format", "verify": named in the messages
    manifest: str  # the manifest's file name
    kind: str  # the manifest's "kind", which tells one command's output from another's
    option: str  # the option that names the directory: "-o", "--results"
    what: str  # what a run writes there: "mails", "results"
    also_own: re.Pattern[str] | None = None  # names a run writes there, listed in the manifest only at its end

    @property
    def leftovers(self) -> re.Pattern[str]:
        """The manifest's temporary file, when a run was killed while writing it."""
        return atomic.leftover_pattern(re.escape(self.manifest))


FORMAT_OUTPUT = OutputKind("format", ".patchkit-format.json", "patchkit format output", "-o", "mails")
RESULTS_OUTPUT = OutputKind(
    "verify",
    ".patchkit-results.json",
    "patchkit results",
    "--results",
    "results",
    also_own=re.compile(r"report\.json|lint\.(?:txt|json|sarif)|build-[^/]+\.sarif|build|boot"),
)
MANIFEST = FORMAT_OUTPUT.manifest
_STAGING_PREFIX = ".patchkit-staging-"
_MAX_MANIFEST_BYTES = 1024 * 1024


def read_manifest(directory: Path, output: OutputKind = FORMAT_OUTPUT) -> dict[str, list[str]] | None:
    """The files a previous run wrote (name -> acceptable hashes), or None when it is not patchkit's."""
    path = directory / output.manifest
    if not os.path.lexists(path):
        return None
    again = f"use another {output.option}"
    try:
        data = inputfile.read_json(path, _MAX_MANIFEST_BYTES)
    except PatchkitError as exc:
        raise UsageError(f"{exc.message}: not a usable patchkit manifest; {again}") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("kind") != output.kind or not isinstance(files, dict):
        raise UsageError(f"{path}: not a patchkit {output.command} manifest; {again}")
    manifest: dict[str, list[str]] = {}
    for name, hashes in files.items():
        if not isinstance(name, str) or "/" in name or name in ("", ".", "..") or not isinstance(hashes, list):
            raise UsageError(f"{path}: malformed entry {name!r}; {again}")
        manifest[name] = [h for h in hashes if isinstance(h, str)]
    return manifest


def _write_manifest(directory: Path, files: dict[str, list[str]], output: OutputKind) -> None:
    data = {"kind": output.kind, "files": dict(sorted(files.items()))}
    atomic.write_text(directory / output.manifest, json.dumps(data, indent=2) + "\n", 0o666 & ~atomic.umask())


def prepare(directory: Path, output: OutputKind = FORMAT_OUTPUT) -> dict[str, list[str]]:
    """Make sure patchkit may write into ``directory``; return what it wrote there before.

    Creates the directory (and its parents) with the user's umask when missing. Refuses (exit 2) a
    non-empty directory that is not this command's output, or whose files the user changed; a
    directory that cannot be made is exit 8.
    """
    _make(directory)
    manifest = read_manifest(directory, output)
    try:
        entries = sorted(os.listdir(directory))
    except OSError as exc:
        raise os_problem(directory, exc, "read the output directory") from exc
    # A run that was killed leaves its manifest's temporary file and (once the manifest is there) its staging.
    entries = [
        e
        for e in entries
        if e != output.manifest
        and not output.leftovers.fullmatch(e)
        and not (manifest is not None and e.startswith(_STAGING_PREFIX))
    ]
    nothing = f"give {output.option} a new or empty directory (nothing was written)"
    if manifest is None:
        if entries:
            more = f" and {len(entries) - 1} more" if len(entries) > 1 else ""
            raise UsageError(
                f"{directory}: not empty ({entries[0]}{more}) and not a previous 'patchkit {output.command}' "
                f"output; {nothing}"
            )
        return {}
    for entry in entries:
        if entry not in manifest:
            if output.also_own is not None and output.also_own.fullmatch(entry):
                continue
            raise UsageError(
                f"{directory}: holds {entry}, which patchkit did not write; move it away or give {output.option} "
                "another directory (nothing was written)"
            )
        if not manifest[entry]:  # listed without a hash: any content a run of this command left
            continue
        path = directory / entry
        if not _regular(path) or sha256_file(path) not in manifest[entry]:
            raise UsageError(
                f"{path}: changed since patchkit wrote it; move it away or give {output.option} another directory "
                "(nothing was written)"
            )
    return manifest


def _make(directory: Path) -> bool:
    """Create ``directory`` when missing; whether this call made it."""
    existed = os.path.lexists(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_problem(directory, exc, "create the output directory") from exc
    if not directory.is_dir():
        raise EnvironmentProblem(f"{directory}: cannot create the output directory: it is a file")
    return not existed


@contextlib.contextmanager
def claim(directory: Path, output: OutputKind = FORMAT_OUTPUT) -> Iterator[dict[str, list[str]]]:
    """:func:`prepare`, holding a lock on the directory until the block ends: one writer at a time.

    The manifest goes in first (empty for a new or empty directory), so whatever a killed run leaves
    is recognised. A directory this run made is removed again when the block fails.
    """
    created = not os.path.lexists(directory)
    fd = -1
    locked = False
    try:
        prepare(directory, output)  # makes it, or refuses it before anything else
        try:
            fd = _lock(directory, output)
        except _Busy:
            created = False  # the other writer's directory
            raise
        locked = True
        previous = prepare(directory, output)  # again, now that no other writer can change it
        mark(directory, output)
        yield previous
    except BaseException:
        if created:
            _remove_own(directory, output)
        elif locked:  # still holding the lock: a staging directory there is this run's (or a dead one's)
            for stale in directory.glob(_STAGING_PREFIX + "*"):
                shutil.rmtree(stale, ignore_errors=True)
        raise
    finally:
        if fd >= 0:
            os.close(fd)


_HELD: list[int] = []  # directories this process writes into for the rest of its run (their locks)


def hold(directory: Path, output: OutputKind) -> None:
    """Lock ``directory`` for the rest of this process (a verify run writes its results as it goes): a second
    run into the same directory at the same time is refused, naming it."""
    _HELD.append(
        _lock(directory, output)
    )  # closed, and so unlocked, when the command ends (release_held) or the process does


class _Busy(EnvironmentProblem):
    """Another process holds the directory's writer lock."""


def _lock(directory: Path, output: OutputKind) -> int:
    """An open descriptor of ``directory`` holding its writer's lock; another writer there is refused, named."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise os_problem(directory, exc, "open the output directory") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _Busy(
            f"{directory}: another patchkit is writing {output.what} there right now; wait for it and run again"
        ) from None
    return fd


def release_held() -> None:
    """Let go of the directories :func:`hold` locked (the command is over)."""
    while _HELD:
        os.close(_HELD.pop())


def mark(directory: Path, output: OutputKind) -> None:
    """Make a directory :func:`prepare` accepted this command's own: its manifest goes in before anything else."""
    atomic.remove_leftovers(directory, output.leftovers)
    if not os.path.lexists(directory / output.manifest):
        _write_manifest(directory, {}, output)


def _remove_own(directory: Path, output: OutputKind) -> None:
    """Remove a directory this run made, when it holds nothing but the run's manifest and staging."""
    with contextlib.suppress(OSError):
        names = os.listdir(directory)
        if all(n == output.manifest or n.startswith(_STAGING_PREFIX) for n in names):
            shutil.rmtree(directory, ignore_errors=True)


def record(directory: Path, output: OutputKind) -> None:
    """At the end of a run: list what the directory holds in its manifest (a results directory's)."""
    try:
        names: dict[str, list[str]] = {
            entry: [] for entry in os.listdir(directory) if entry != output.manifest and not entry.startswith(".")
        }
    except OSError as exc:
        raise os_problem(directory, exc, "read the output directory") from exc
    _write_manifest(directory, names, output)


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


def publish(
    directory: Path, staged: list[Path], previous: dict[str, list[str]], output: OutputKind = FORMAT_OUTPUT
) -> list[Path]:
    """Move the staged files into ``directory``, replacing only patchkit's previous files.

    The manifest first names old and new files together, so a run killed half
    way still leaves a directory the next run recognises as its own.
    """
    new = {path.name: [sha256_file(path)] for path in staged}
    union = {name: sorted(set(previous.get(name, [])) | set(new.get(name, []))) for name in {*previous, *new}}
    umask = atomic.umask()
    try:
        _write_manifest(directory, union, output)
        for path in staged:
            os.chmod(path, 0o666 & ~umask)
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(path, directory / path.name)
        for name in previous:
            if name not in new:
                (directory / name).unlink(missing_ok=True)
        _write_manifest(directory, new, output)
    except OSError as exc:
        raise os_problem(directory, exc, "write into the output directory") from exc
    for stale in directory.glob(_STAGING_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    return [directory / path.name for path in staged]


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False
