"""Verdicts cached by content: a build, a boot or a lint run is not repeated for inputs already judged.

A key is the SHA-256 of everything that decides the outcome (a state's git tree
hash, the fragment's text, the compiler's version, the image's hash, ...), so a
hit can only come from identical inputs. Entries live in
``$XDG_CACHE_HOME/patchkit/verdicts/`` as JSON files written atomically, each
carrying the hash of its own payload: a truncated or edited entry is reported
and ignored, never trusted. Writers take a lock; the cache is kept under a
size bound by dropping the least recently used entries. Images kept for
re-boots (``images/``) are stored by their own hash.

The cache only ever deletes its own entries: files named like one
(``<2 hex>/<64 hex>.json``, ``images/<64 hex>``) in real directories. A
``verdicts/`` (or a directory in it) that is a symlink, to the user's
documents say, is refused before anything is written or removed, and a
file of any other name is left alone.

A verdict carries its evidence (a build log's tail, a boot's console), inside
the checksummed payload and bounded (:data:`MAX_EVIDENCE_BYTES` each), so a run
that reuses the verdict puts that evidence into its own results directory
(:func:`write_evidence`) instead of pointing at the run that computed it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchkit.errors import EnvironmentProblem, PatchkitError
from patchkit.util import atomic, inputfile, locking, paths

# Bump when what a verdict means changes (a new check in a build or a boot), so old verdicts stop matching.
# 2: a verdict carries its evidence (entries of format 1 have none to show, so they are not reused).
FORMAT = 2
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_ENTRY_BYTES = 64 * 1024 * 1024  # a verdict is a few KB; a lint run's findings a few MB

_SHARD = re.compile(r"[0-9a-f]{2}")
_ENTRY = re.compile(r"[0-9a-f]{64}\.json")
_IMAGE = re.compile(r"[0-9a-f]{64}")
_IMAGES = "images"
MAX_EVIDENCE_BYTES = 256 * 1024  # per piece of evidence: a tiny kernel's whole console is ~30 KiB
_CUT = "[patchkit: the first {} bytes are not kept]\n"


def sha256_file(path: Path) -> str:
    """A file's SHA-256 (a kernel image's, an output file's), read in chunks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def tail_of(path: Path, limit: int = MAX_EVIDENCE_BYTES) -> str:
    """The last ``limit`` bytes of a file as text (a line saying how much was cut first); "" when it is gone."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - limit))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return _CUT.format(size - len(data)) + text if size > len(data) else text


def _bounded(text: str) -> str:
    """``text`` cut from the front to :data:`MAX_EVIDENCE_BYTES` (the end is where a failure shows)."""
    raw = text.encode("utf-8")
    if len(raw) <= MAX_EVIDENCE_BYTES:
        return text
    return _CUT.format(len(raw) - MAX_EVIDENCE_BYTES) + raw[-MAX_EVIDENCE_BYTES:].decode("utf-8", "ignore")


def make_key(kind: str, **parts: Any) -> str:
    """The content address of one verdict: what was judged and everything the outcome depends on."""
    text = json.dumps({"kind": kind, "format": FORMAT, **parts}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verdict:
    key: str
    kind: str  # "build", "boot", "lint"
    data: dict[str, Any]
    computed_at: str  # ISO 8601 UTC
    where: str  # the results directory of the run that computed it
    evidence: dict[str, str] = field(default_factory=dict)  # name -> text (a log's tail, a console), bounded

    def provenance(self) -> str:
        return f"cached from {self.computed_at} ({self.where})"


def write_evidence(verdict: Verdict, name: str, target: Path) -> Path:
    """The verdict's evidence ``name`` as a file of this run (atomically), headed by where it came from."""
    head = f"[patchkit: {verdict.kind} verdict {verdict.provenance()}; its {name} as kept in the verdict cache]\n"
    atomic.write_text(target, head + verdict.evidence.get(name, "[patchkit: none was kept]\n"))
    return target


class VerdictCache:
    """Lookups and stores of verdicts; ``enabled=False`` (``--fresh``) stores but never answers."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        enabled: bool = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root or paths.verdicts_dir()
        self.enabled = enabled
        self.max_bytes = max_bytes
        self.warn = warn or (lambda text: None)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Verdict | None:
        if not self.enabled:
            return None
        path = self._path(key)
        if not os.path.lexists(path):
            return None
        why = self._foreign()
        if why is not None:
            self.warn(f"verdict cache: {why}; not used")
            return None
        try:
            raw = inputfile.read_limited(path, MAX_ENTRY_BYTES)
        except PatchkitError as exc:
            self.warn(f"verdict cache: {exc.message}; ignored")
            return None
        verdict = _decode(key, raw)
        if verdict is None:
            self.warn(f"verdict cache: {path}: corrupt or truncated; ignored (it will be replaced)")
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently used goes first when the cache is pruned
        return verdict

    def put(
        self, key: str, kind: str, data: dict[str, Any], where: Path | str, evidence: Mapping[str, str] | None = None
    ) -> Verdict:
        """Store a verdict and its evidence (each piece cut to :data:`MAX_EVIDENCE_BYTES`), checksummed together."""
        kept = {name: _bounded(text) for name, text in (evidence or {}).items()}
        verdict = Verdict(key, kind, data, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), str(where), kept)
        payload = {"key": key, "kind": kind, "data": data, "computed_at": verdict.computed_at, "where": verdict.where,
                   "evidence": kept}  # fmt: skip
        body = json.dumps(payload, sort_keys=True)
        text = json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest(), "verdict": payload}, sort_keys=True)
        why = self._foreign()
        if why is not None:
            self.warn(f"verdict cache: {why}; the verdict is not stored")
            return verdict
        with locking.exclusive(self.root / ".lock", "writing the verdict cache", self.warn):
            atomic.write_text(self._path(key), text + "\n")
            self._prune()
        return verdict

    def keep_image(self, image: Path, digest: str) -> None:
        """Store a copy of a built kernel image by its hash (for boots of cached builds).

        ``digest`` is the image's SHA-256 as its build computed it (the build's verdict names the image by it),
        so the image is not hashed a second time here; :meth:`image` checks it again before a boot trusts it.
        """
        target = self.root / _IMAGES / digest
        why = self._foreign()
        if why is not None:
            self.warn(f"verdict cache: {why}; the image is not kept")
            return
        if not target.is_file():
            with locking.exclusive(self.root / ".lock", "writing the verdict cache", self.warn):
                atomic.write_bytes(target, image.read_bytes())

    def image(self, digest: str) -> Path | None:
        target = self.root / _IMAGES / digest
        if self._foreign() is None and _regular(target) and sha256_file(target) == digest:
            with contextlib.suppress(OSError):
                os.utime(target)
            return target
        return None

    def info(self) -> dict[str, Any]:
        self._require_own()
        counts: dict[str, int] = {}
        size = 0
        for path, info in self._entries():
            size += info.st_size
            kind = "image" if path.parent.name == _IMAGES else _kind_of(path)
            counts[kind] = counts.get(kind, 0) + 1
        return {"root": str(self.root), "bytes": size, "max_bytes": self.max_bytes, "entries": counts}

    def clear(self) -> int:
        """Remove every entry (nothing else: a file of another name stays); refuse a cache that is not its own."""
        self._require_own()
        if not self.root.is_dir():
            return 0
        with locking.exclusive(self.root / ".lock", "clearing the verdict cache", self.warn):
            self._require_own()  # again, under the lock
            files = self._entries()
            for path, _ in files:
                path.unlink(missing_ok=True)
        return len(files)

    def _foreign(self) -> str | None:
        """Why the cache directory is not patchkit's own (a symlink, a file, a linked subdirectory), or None."""
        try:
            info = self.root.lstat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"{self.root}: cannot read: {exc.strerror}"
        if stat.S_ISLNK(info.st_mode):
            return f"{self.root} is a symlink (to {os.readlink(self.root)}), not a directory of the cache"
        if not stat.S_ISDIR(info.st_mode):
            return f"{self.root} is not a directory"
        try:
            with os.scandir(self.root) as entries:
                for entry in entries:
                    if (_SHARD.fullmatch(entry.name) or entry.name == _IMAGES) and entry.is_symlink():
                        return f"{entry.path} is a symlink (to {os.readlink(entry.path)}), not a directory of the cache"
        except OSError as exc:
            return f"{self.root}: cannot read: {exc.strerror}"
        return None

    def _require_own(self) -> None:
        why = self._foreign()
        if why is not None:
            raise EnvironmentProblem(f"{why}; refused, nothing removed (remove the link yourself)")

    def _entries(self) -> list[tuple[Path, os.stat_result]]:
        """The cache's own entries: regular files named like one, in real directories named like one."""
        found: list[tuple[Path, os.stat_result]] = []
        try:
            with os.scandir(self.root) as tops:
                dirs = [e for e in tops if e.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []
        for directory in dirs:
            name = _ENTRY if _SHARD.fullmatch(directory.name) else _IMAGE if directory.name == _IMAGES else None
            if name is None:
                continue
            with contextlib.suppress(OSError), os.scandir(directory.path) as entries:
                for entry in entries:
                    if name.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                        found.append((Path(entry.path), entry.stat(follow_symlinks=False)))
        return found

    def _prune(self) -> None:
        files = [(info.st_mtime, info.st_size, path) for path, info in self._entries()]
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _decode(key: str, raw: bytes) -> Verdict | None:
    try:
        outer = inputfile.parse_json(raw, "entry")
        payload = outer["verdict"]
        body = json.dumps(payload, sort_keys=True)
        if hashlib.sha256(body.encode()).hexdigest() != outer["sha256"] or payload["key"] != key:
            return None
        evidence = payload["evidence"]
        if not all(isinstance(name, str) and isinstance(text, str) for name, text in evidence.items()):
            return None
        return Verdict(key, payload["kind"], payload["data"], payload["computed_at"], payload["where"], evidence)
    except (PatchkitError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _kind_of(path: Path) -> str:
    try:
        outer = inputfile.read_json(path, MAX_ENTRY_BYTES)
        kind = outer["verdict"]["kind"]
    except (PatchkitError, KeyError, TypeError):
        return "corrupt"
    return kind if isinstance(kind, str) and re.fullmatch(r"[a-z]{1,20}", kind) else "corrupt"
