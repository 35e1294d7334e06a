"""What patchkit needs from the machine, checked in one go, with the one apt command that fixes it."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import MissingToolError, PatchkitError
from patchkit.util import inputfile, paths, proc


@dataclass(frozen=True)
class Need:
    what: str  # shown to the user
    package: str  # Debian package that provides it
    used_by: str  # which commands need it
    program: str | None = None  # found on PATH
    file: str | None = None  # or a file that must exist (headers, tarballs)
    optional: bool = False  # nice to have (faster), not required
    git_command: str | None = None  # or a git command that is not built in: git-NAME in git's exec path or on PATH
    perl_module: str | None = None  # or a perl module that perl loads (git send-email needs Mail::Address)
    module: str | None = None  # or a module the python3 on PATH imports (scripts run as '#!/usr/bin/env python3')


NEEDS: tuple[Need, ...] = (
    Need("git", "git", "all", program="git"),
    Need("make", "make", "build", program="make"),
    Need("gcc", "build-essential", "build", program="gcc"),
    Need("flex", "flex", "build", program="flex"),
    Need("bison", "bison", "build", program="bison"),
    Need("bc", "bc", "build", program="bc"),
    Need("perl", "perl", "build, lint", program="perl"),
    Need("libelf headers", "libelf-dev", "build", file="/usr/include/libelf.h"),
    Need("OpenSSL headers", "libssl-dev", "build", file="/usr/include/openssl/ssl.h"),
    Need("cpio", "cpio", "build", program="cpio"),
    Need("xz", "xz-utils", "tree prepare", program="xz"),
    Need("qemu-system-x86_64", "qemu-system-x86", "boot", program="qemu-system-x86_64"),
    Need("static busybox", "busybox-static", "boot", program="busybox"),
    Need("apt-get", "apt", "tree prepare: fetching the exact base version", program="apt-get"),
    Need("dpkg-deb", "dpkg", "tree prepare", program="dpkg-deb"),
    Need("git send-email", "git-email", "send --via git-send-email", git_command="send-email"),
    # git-email only recommends it, and setup.sh installs without recommends: git send-email dies without it.
    Need("perl module Mail::Address", "libmailtools-perl", "send --via git-send-email", perl_module="Mail::Address"),
    # The tree's checkpatch.pl, run in the tree, checks SPDX lines with scripts/spdxcheck.py, which
    # imports both; without them it prints a traceback and passes every SPDX line unchecked.
    Need("python3 module ply", "python3-ply", "the tree's checkpatch.pl: its SPDX check", module="ply"),
    Need("python3 module git", "python3-git", "the tree's checkpatch.pl: its SPDX check", module="git"),
    Need("linux-source-6.1", "linux-source-6.1", "drift", file="/usr/src/linux-source-6.1.tar.xz", optional=True),
    Need("ccache", "ccache", "build (faster rebuilds)", program="ccache", optional=True),
)

BUILD = ("git", "make", "gcc", "flex", "bison", "bc", "perl", "libelf headers", "OpenSSL headers")
BOOT = ("qemu-system-x86_64", "static busybox")


@dataclass(frozen=True)
class Check:
    need: Need
    found: str | None  # path when present


def check(needs: tuple[Need, ...] = NEEDS) -> list[Check]:
    checks = []
    python3 = shutil.which("python3")
    modules = [n.module for n in needs if n.module is not None]
    importable = _probe(python3, modules)[0] if modules else set()
    for need in needs:
        found: str | None = None
        if need.program is not None:
            found = shutil.which(need.program)
            if found and need.program == "busybox" and not _is_static(Path(found)):
                found = None
        elif need.file is not None and Path(need.file).exists():
            found = need.file
        elif need.git_command is not None:
            found = git_command_path(need.git_command)
        elif need.perl_module is not None:
            found = perl_module_path(need.perl_module)
        elif need.module is not None and need.module in importable:
            found = f"{python3} (import {need.module})"
        checks.append(Check(need, found))
    return checks


def perl_module_path(module: str) -> str | None:
    """Where perl loads ``module`` from, or None when perl is missing or cannot load it."""
    perl = shutil.which("perl")
    if perl is None:
        return None
    key = module.replace("::", "/") + ".pm"
    result = proc.run([perl, f"-M{module}", "-e", f"print $INC{{'{key}'}}"])
    return result.stdout.decode("utf-8", "replace").strip() or None if result.returncode == 0 else None


def git_command_path(name: str) -> str | None:
    """Where git finds ``git NAME`` when it is not built in: git's exec path first (``git --exec-path``,
    which GIT_EXEC_PATH moves), then PATH; None when git is missing or neither has it."""
    git = shutil.which("git")
    if git is None:
        return None
    result = proc.run([git, "--exec-path"])
    exec_path = result.stdout.decode("utf-8", "surrogateescape").strip()
    if result.returncode == 0 and exec_path:
        candidate = Path(exec_path) / f"git-{name}"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(f"git-{name}")


_PROBE = """
import importlib, sys
print(sys.prefix)
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        continue
    print(name)
"""
DEBIAN_PREFIX = "/usr"  # sys.prefix of Debian's own python3, the one python3-* packages install for


def _probe(python3: str | None, modules: list[str]) -> tuple[set[str], str | None]:
    """Which of ``modules`` ``python3`` really imports (an import failing in any way does not count), and
    its sys.prefix; (nothing, None) when there is no python3 or it does not run."""
    if python3 is None:
        return set(), None
    try:
        # From /: a ply/ or git.py in the current directory must not pass for the module.
        result = proc.run([python3, "-c", _PROBE, *modules], cwd="/", timeout=60)
    except (OSError, proc.TimeoutExpired):
        return set(), None
    lines = result.stdout.decode("utf-8", "replace").splitlines()
    if result.returncode != 0 or not lines:
        return set(), None
    return set(lines[1:]) & set(modules), lines[0]


def python_note(checks: list[Check]) -> str | None:
    """When a module is missing for a python3 on PATH that is not Debian's own (a venv, pyenv), say that
    the apt packages will not reach it."""
    if not any(c.need.module and c.found is None for c in checks):
        return None
    python3 = shutil.which("python3")
    prefix = _probe(python3, [])[1]
    if python3 is None or prefix is None or prefix == DEBIAN_PREFIX:
        return None
    return (
        f"the python3 on PATH is {python3} (prefix {prefix}), not Debian's: python3-ply and python3-git "
        "serve /usr/bin/python3; run the tree's checkpatch with /usr/bin first on PATH, or install ply and "
        "GitPython into that python3"
    )


def _is_static(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)  # not the whole program: its head names the loader
    except OSError:
        return False
    return b"ld-linux" not in head


def apt_command(checks: list[Check], *, include_optional: bool = False) -> str | None:
    packages = sorted({c.need.package for c in checks if c.found is None and (include_optional or not c.need.optional)})
    if not packages:
        return None
    sudo = "" if os.geteuid() == 0 else "sudo "
    return f"{sudo}apt-get install {' '.join(packages)}"


def require(names: tuple[str, ...]) -> None:
    """Raise one :class:`MissingToolError` naming everything in ``names`` that is missing."""
    checks = check(tuple(n for n in NEEDS if n.what in names))
    missing = [c for c in checks if c.found is None]
    if missing:
        command = apt_command(missing)
        raise MissingToolError(
            f"missing: {', '.join(c.need.what for c in missing)}",
            packages=tuple(sorted({c.need.package for c in missing})),
            hint=f"install with: {command}" if command else None,
        )


def kvm_status() -> str:
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm: boots use TCG (slower, fine)"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not accessible to this user: boots use TCG (add yourself to group kvm)"
    cache = paths.kvm_probe_file()
    with contextlib.suppress(PatchkitError):
        return f"/dev/kvm present; last probe: {inputfile.read_text(cache, 64 * 1024).strip()[:200]}"
    return "/dev/kvm present; the first boot probes whether KVM works (falls back to TCG if not)"
