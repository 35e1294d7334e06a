"""The default kernel trees (exact versions of Debian's linux-source package as git repositories), the base tag.

Each version lives in ``$XDG_CACHE_HOME/patchkit/trees/<package>_<version>``,
so series on different bases live side by side and a distribution update
never changes a tree a series already uses. The installed
``/usr/src/<package>.tar.xz`` is used only when dpkg says it is the version
wanted; any other version is fetched with ``apt-get download`` into
``$XDG_CACHE_HOME/patchkit/debs/`` (the installed package is not touched).

The tarball's ``.gitignore`` ends with ``/*`` (Debian ignores every top-level
path), so the base commit is made with ``git add -f``; the ignore file itself is
left as shipped, since the base tree hash must be that of the pristine content.

Every command that works without ``--tree`` finds its tree with :func:`default_tree` (which
version, where, whether it is prepared) and prepares it, when it needs one, with
:func:`prepare_base`. The base commit carries the tag :data:`BASE_TAG` (:data:`BASE_REF`), in
prepared trees and in the trees patchkit looks for a base in.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import DataError, EnvironmentProblem, GitError, MissingToolError, TreeError
from patchkit.series.model import Base, Series
from patchkit.tree import debian, snapshot
from patchkit.tree.repo import KernelTree, patchkit_identity
from patchkit.util import locking, paths, proc
from patchkit.util.progress import Progress

BASE_TAG = "patchkit-base"
BASE_REF = f"refs/tags/{BASE_TAG}"
INSTALLED = "installed"
NEWEST = "newest"


@dataclass(frozen=True)
class PreparedTree:
    path: Path
    package: str
    package_version: str  # the exact Debian version the tree was made from
    base_commit: str
    base_tree: str
    version: str  # the kernel version its Makefile names
    created: bool  # False when an existing prepared tree was reused

    def base(self) -> Base:
        """The ``base:`` record that describes this tree."""
        return Base(self.package, self.version, self.base_tree, self.package_version)


@dataclass(frozen=True)
class DefaultTree:
    """Where the default tree of a base is, before anything is prepared."""

    package: str
    package_version: str | None  # the exact version asked for, else the installed one; None when neither
    path: Path

    @property
    def prepared(self) -> bool:
        return self.package_version is not None and _is_prepared(self.path)


def default_tree(package: str, package_version: str = "") -> DefaultTree:
    """The default tree of ``package`` at ``package_version`` (empty: the installed version): the one way
    every command resolves it."""
    version = package_version or debian.installed_version(package)
    return DefaultTree(package, version, paths.tree_dir(package, version or "?"))


def tarball_path(package: str) -> Path:
    return Path("/usr/src") / f"{package}.tar.xz"


def kernel_version(tree_path: Path) -> str:
    """What ``make kernelversion`` prints, read from the top Makefile (no make needed)."""
    try:
        text = (tree_path / "Makefile").read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TreeError(f"{tree_path}: no top-level Makefile: is this a kernel tree?") from exc
    return kernel_version_of_makefile(text)


def kernel_version_of_makefile(text: str) -> str:
    """The kernel version a top-level Makefile names ("6.1.192"); "0.0" for a tree without one (a test tree)."""
    fields = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"):
        match = re.search(rf"^{key}\s*=\s*(\S*)\s*$", text, re.MULTILINE)
        fields[key] = match.group(1) if match else ""
    if not fields["VERSION"] or not fields["PATCHLEVEL"]:
        return "0.0"
    version = f"{fields['VERSION']}.{fields['PATCHLEVEL']}"
    if fields["SUBLEVEL"] not in ("", "0"):
        version += f".{fields['SUBLEVEL']}"
    return version + fields["EXTRAVERSION"]


def resolve_version(package: str, wanted: str | None) -> str:
    """An exact Debian version: ``wanted`` itself, ``installed``, ``newest``, or None (installed, else newest)."""
    if wanted not in (None, INSTALLED, NEWEST):
        return debian.check_version_text(wanted)
    if wanted in (None, INSTALLED):
        installed = debian.installed_version(package)
        if installed is not None:
            return installed
        if wanted == INSTALLED:
            raise MissingToolError(f"{package} is not installed", packages=(package,))
    offered = debian.available_versions(package)
    if not offered:
        raise MissingToolError(
            f"apt offers no version of {package}", hint="run 'apt-get update', then check the package name"
        )
    return offered[0]


def prepare_base(series: Series, progress: Progress | None = None) -> PreparedTree:
    """The default tree a series' ``base:`` names, checked against its tree hash."""
    base = series.base
    if base.package_version:
        return prepare(base.package, base.package_version, expected=base, progress=progress)
    # Written before base.package_version existed: the installed package is the only guess.
    installed = default_tree(base.package).package_version
    where = f"{series.directory / 'series.yaml'}: base.package_version"
    if installed is None:
        raise DataError(
            f"{where}: missing, and {base.package} is not installed to stand in for it; "
            f"add the exact Debian version the series is based on (e.g. package_version: 6.1.192-2)"
        )
    _say(progress, f"note: {where} is missing; trying the installed {base.package} {installed}")
    try:
        return prepare(base.package, installed, expected=base, progress=progress)
    except TreeError as exc:
        raise TreeError(exc.message, hint=f"{where} is missing: add the exact Debian version it is based on") from None


def prepare(
    package: str, package_version: str | None = None, *, expected: Base | None = None, progress: Progress | None = None
) -> PreparedTree:
    """Make (or reuse) the tree of ``package`` at ``package_version`` (default: installed, else newest)."""
    version = resolve_version(package, package_version)
    path = paths.tree_dir(package, version)
    created = False
    if not _is_prepared(path):
        lock = path.parent / f".{path.name}.lock"
        with locking.exclusive(lock, f"preparing {path.name}", lambda text: _say(progress, text)):
            if not _is_prepared(path):  # another process may have made it while we waited
                _build(package, version, path, progress)
                created = True
    tree = KernelTree(path)
    base_commit = tree.rev_parse(f"{BASE_REF}^{{commit}}")
    base_tree = tree.tree_of(BASE_REF)
    if base_commit is None or base_tree is None:
        raise TreeError(f"{path}: tag {BASE_TAG} is missing; remove the directory to prepare it again")
    if recorded_package(tree) is None:  # prepared before trees recorded their package
        tree.git("config", "patchkit.package", package)
        tree.git("config", "patchkit.packageVersion", version)
    prepared = PreparedTree(path, package, version, base_commit, base_tree, kernel_version(path), created)
    if expected is not None and base_tree != expected.tree:
        raise TreeError(
            f"{path}: {package} {version} (kernel {prepared.version}) has tree {base_tree}, but the series is "
            f"based on {expected.describe()} (tree {expected.tree})",
            hint="move the series with 'patchkit rebase --onto VERSION' if that is what you want",
        )
    return prepared


def private_clone(prepared: PreparedTree, clone: Path) -> Path:
    """A throwaway clone of a prepared tree (sharing its objects), on branch main at the base tag."""
    result = proc.run(["git", "clone", "-q", "--shared", "--no-checkout", str(prepared.path), str(clone)])
    if result.returncode == 0:
        result = proc.run(["git", "-C", str(clone), "checkout", "-q", "-B", "main", BASE_REF])
    if result.returncode != 0:
        raise GitError(f"{clone}: cannot clone {prepared.path}: {result.stderr.decode(errors='replace').strip()}")
    return clone


def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        progress.note(text)


def _is_prepared(path: Path) -> bool:
    return (path / ".git" / "refs" / "tags" / BASE_TAG).is_file() or _packed_tag(path)


def _packed_tag(path: Path) -> bool:
    packed = path / ".git" / "packed-refs"
    return packed.is_file() and f"{BASE_REF}\n" in packed.read_text(errors="replace")


def _build(package: str, version: str, path: Path, progress: Progress | None) -> None:
    """Unpack and commit ``package`` ``version`` at ``path``; called with the tree's lock held."""
    proc.require("git")
    parent = path.parent
    if path.exists():
        _say(progress, f"removing {path}: left half made by an interrupted prepare")
        shutil.rmtree(path)
    for stale in parent.glob(f".{path.name}.tmp*"):
        # Scratch of a run that was killed (we hold the lock, so nobody else is using it).
        shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp", dir=parent))
    try:
        mtime = _unpack(package, version, scratch, progress)
        top = list(scratch.iterdir())
        if len(top) != 1 or not top[0].is_dir():
            raise TreeError(f"{package} {version}: expected one top-level directory in the tarball, found {len(top)}")
        started = _step(progress, "prepare", f"committing {package} {version} (hashing every file)")
        _commit_base(top[0], package, version, mtime)
        _done(progress, f"committed {package} {version} as tag {BASE_TAG}", started)
        os.replace(top[0], path)
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot prepare: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _unpack(package: str, version: str, scratch: Path, progress: Progress | None) -> int:
    """Put the kernel source of ``package`` ``version`` under ``scratch``; return the tarball's mtime."""
    tarball = tarball_path(package)
    if debian.installed_version(package) == version and tarball.is_file():
        started = _step(progress, "prepare", f"unpacking {tarball} ({package} {version}, installed)")
        debian.untar_file(tarball, scratch)
        _done(progress, f"unpacked {tarball}", started)
        return int(tarball.stat().st_mtime)
    deb = paths.debs_dir() / debian.deb_name(package, version)
    if not deb.is_file():
        started = _step(progress, "prepare", f"downloading {package} {version} (apt-get download)")
        with locking.exclusive(paths.debs_dir() / ".lock", "downloading a package", lambda text: _say(progress, text)):
            deb = debian.download(package, version, paths.debs_dir())
        _done(progress, f"downloaded {deb.name} ({deb.stat().st_size / 1e6:.0f} MB)", started)
    started = _step(progress, "prepare", f"unpacking {deb.name}")
    mtime = debian.extract_from_deb(deb, package, scratch)
    _done(progress, f"unpacked {deb.name}", started)
    return mtime


def _step(progress: Progress | None, stage: str, detail: str) -> float:
    if progress is not None:
        progress.step(stage, detail)
    return time.monotonic()


def _done(progress: Progress | None, text: str, started: float) -> None:
    _say(progress, f"{text} in {time.monotonic() - started:.1f}s")


def recorded_package(tree: KernelTree) -> tuple[str, str] | None:
    """(package, version) when ``tree`` is a tree patchkit prepared, else None."""
    package = tree.git("config", "--get", "patchkit.package", check=False).strip()
    version = tree.git("config", "--get", "patchkit.packageVersion", check=False).strip()
    return (package, version) if package and version else None


def _commit_base(source: Path, package: str, package_version: str, mtime: int) -> None:
    def git(*args: str, env: dict[str, str] | None = None) -> None:
        result = proc.run(["git", "-C", str(source), *args], env=env)
        if result.returncode != 0:
            raise GitError(f"{source}: git {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")

    git("init", "-q", "-b", "main")
    git("config", "gc.auto", "0")
    git("config", "core.autocrlf", "false")
    try:
        snapshot.stage_all(source)
    except snapshot.NotSnapshotable:
        # -f: the shipped .gitignore ignores every top-level path.
        git("add", "-f", "-A")
    date = f"@{mtime} +0000"
    version = kernel_version(source)
    env = patchkit_identity(date)
    git("commit", "-q", "--no-verify", "-m", f"{package} {package_version} ({version}) as shipped", env=env)
    git("tag", BASE_TAG)
    # So that import from this tree can record the exact base without guessing.
    git("config", "patchkit.package", package)
    git("config", "patchkit.packageVersion", package_version)
