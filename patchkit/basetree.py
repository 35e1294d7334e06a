"""The default kernel tree: Debian's linux-source package as a git repository.

Lives in ``$XDG_CACHE_HOME/patchkit/trees/<package>``. The tarball's
``.gitignore`` ends with ``/*`` (Debian ignores every top-level path), so the
base commit is made with ``git add -f``; the ignore file itself is left as
shipped, since the base tree hash must be that of the pristine content.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from patchkit import proc
from patchkit.errors import EnvironmentProblem, GitError, MissingToolError, TreeError
from patchkit.gitrepo import KernelTree

BASE_TAG = "patchkit-base"
_BASE_IDENTITY = {
    "GIT_AUTHOR_NAME": "patchkit",
    "GIT_AUTHOR_EMAIL": "patchkit@localhost",
    "GIT_COMMITTER_NAME": "patchkit",
    "GIT_COMMITTER_EMAIL": "patchkit@localhost",
}


@dataclass(frozen=True)
class PreparedTree:
    path: Path
    base_commit: str
    base_tree: str
    version: str
    created: bool  # False when an existing prepared tree was reused


def cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "patchkit"


def default_tree_path(package: str) -> Path:
    return cache_root() / "trees" / package


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
    fields = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"):
        match = re.search(rf"^{key}\s*=\s*(\S*)\s*$", text, re.MULTILINE)
        fields[key] = match.group(1) if match else ""
    version = f"{fields['VERSION']}.{fields['PATCHLEVEL']}"
    if fields["SUBLEVEL"] not in ("", "0"):
        version += f".{fields['SUBLEVEL']}"
    return version + fields["EXTRAVERSION"]


def prepare(package: str, *, expected_tree: str | None = None, expected_version: str | None = None) -> PreparedTree:
    """Make (or reuse) the default tree for ``package`` and check it is the expected base."""
    path = default_tree_path(package)
    created = False
    if not _is_prepared(path):
        _build(package, path)
        created = True
    tree = KernelTree(path)
    base_commit = tree.rev_parse(f"refs/tags/{BASE_TAG}^{{commit}}")
    base_tree = tree.tree_of(f"refs/tags/{BASE_TAG}")
    if base_commit is None or base_tree is None:
        raise TreeError(f"{path}: tag {BASE_TAG} is missing; remove the directory to prepare it again")
    version = kernel_version(path) if created or expected_version else ""
    if expected_tree is not None and base_tree != expected_tree:
        found = kernel_version(path)
        raise TreeError(
            f"{path}: the installed {package} ({found}) has tree {base_tree}, but the series is based on "
            f"{expected_version or 'another version'} (tree {expected_tree})"
        )
    return PreparedTree(path=path, base_commit=base_commit, base_tree=base_tree, version=version, created=created)


def _is_prepared(path: Path) -> bool:
    return (path / ".git" / "refs" / "tags" / BASE_TAG).is_file() or _packed_tag(path)


def _packed_tag(path: Path) -> bool:
    packed = path / ".git" / "packed-refs"
    return packed.is_file() and f"refs/tags/{BASE_TAG}\n" in packed.read_text(errors="replace")


def ensure_package(package: str) -> Path:
    """The package's tarball, installing the package when missing and running as root."""
    tarball = tarball_path(package)
    if tarball.is_file():
        return tarball
    command = f"apt-get install {package}"
    if os.geteuid() != 0:
        raise MissingToolError(f"{tarball} is missing", hint=f"install it with: sudo {command}")
    proc.require("apt-get")
    result = proc.run(["apt-get", "install", "-y", "-q", package], env={"DEBIAN_FRONTEND": "noninteractive"})
    if result.returncode != 0 or not tarball.is_file():
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        why = lines[-1] if lines else f"exit {result.returncode}"
        raise MissingToolError(
            f"'{command}' failed: {why}", hint="run 'apt-get update' first if the package lists are stale"
        )
    return tarball


def _build(package: str, path: Path) -> None:
    tarball = ensure_package(package)
    proc.require("tar")
    proc.require("xz")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        # A directory without the base tag is a leftover of an interrupted prepare.
        shutil.rmtree(path)
    scratch = Path(tempfile.mkdtemp(prefix=f".{package}.", dir=path.parent))
    try:
        result = proc.run(["tar", "-xf", str(tarball), "-C", str(scratch)])
        if result.returncode != 0:
            raise EnvironmentProblem(f"{tarball}: extraction failed: {result.stderr.decode(errors='replace').strip()}")
        top = [p for p in scratch.iterdir()]
        if len(top) != 1 or not top[0].is_dir():
            raise TreeError(f"{tarball}: expected one top-level directory, found {len(top)} entries")
        source = top[0]
        _commit_base(source, package, tarball)
        os.replace(source, path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _commit_base(source: Path, package: str, tarball: Path) -> None:
    def git(*args: str, env: dict[str, str] | None = None) -> None:
        result = proc.run(["git", "-C", str(source), *args], env=env)
        if result.returncode != 0:
            raise GitError(f"{source}: git {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")

    git("init", "-q", "-b", "main")
    git("config", "gc.auto", "0")
    git("config", "core.autocrlf", "false")
    # -f: the shipped .gitignore ignores every top-level path.
    git("add", "-f", "-A")
    date = f"@{int(tarball.stat().st_mtime)} +0000"
    version = kernel_version(source)
    env = {**_BASE_IDENTITY, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    git("commit", "-q", "--no-verify", "-m", f"{package} {version} as shipped", env=env)
    git("tag", BASE_TAG)
