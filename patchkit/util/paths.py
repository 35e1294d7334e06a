"""Where patchkit keeps what it makes on this machine: the cache root, and every path under it.

Each location is named here once, as a function; no other module joins a name onto the cache root
(``tests/test_owners.py`` checks it). Everything lives under one root, so ``rm -rf`` of it clears all
patchkit made::

    $XDG_CACHE_HOME/patchkit/         (~/.cache/patchkit when XDG_CACHE_HOME is unset)
      trees/<package>_<version>/      the prepared Debian base trees (tree.basetree)
      debs/                           .deb files fetched with apt-get download
      work/<series>/                  the build checkout of a series (kbuild.worktree)
      results/<series>/<UTC time>/    one build, boot or verify run (verify.results)
      verdicts/                       the verdict cache (util.store)
      boot/initramfs-<digest>.cpio.gz the initramfs boots use (boot.initramfs)
      ccache/                         ccache's directory for kernel builds
      crashes/                        the traceback of each internal error (cli.boundary)
      kvm-probe.json                  whether KVM worked since the host booted (boot.qemu)

A name from outside (a series name, a package version) becomes exactly one path component: a
separator or ``..`` in it is a bug upstream (the loaders refuse such names) and raises ValueError.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/patchkit`` (``~/.cache/patchkit`` when unset)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "patchkit"


def _component(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"{name!r} cannot name a directory under {cache_root()}")
    return name


def trees_dir() -> Path:
    """Where the prepared base trees live, side by side (and their prepare locks)."""
    return cache_root() / "trees"


def tree_dir(package: str, package_version: str) -> Path:
    """The prepared tree of ``package`` at ``package_version`` (an epoch's ':' written %3a, as apt does)."""
    return trees_dir() / _component(f"{package}_{package_version.replace(':', '%3a')}")


def debs_dir() -> Path:
    return cache_root() / "debs"


def work_dir(series_name: str) -> Path:
    return cache_root() / "work" / _component(series_name)


def results_dir(series_name: str) -> Path:
    """The parent of every results directory of ``series_name`` (one per run, and ``latest``)."""
    return cache_root() / "results" / _component(series_name)


def verdicts_dir() -> Path:
    return cache_root() / "verdicts"


def initramfs_file(digest: str) -> Path:
    return cache_root() / "boot" / _component(f"initramfs-{digest}.cpio.gz")


def ccache_dir() -> Path:
    return cache_root() / "ccache"


def crashes_dir() -> Path:
    return cache_root() / "crashes"


def kvm_probe_file() -> Path:
    return cache_root() / "kvm-probe.json"


def relative_within(path: Path, root: Path) -> str:
    """``path`` as written into a file under ``root`` (a results directory's report.json): relative to ``root``, so
    the directory stays whole when it is moved or uploaded; a path outside ``root`` stays absolute."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
