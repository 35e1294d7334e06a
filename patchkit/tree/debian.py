"""What Debian's archive and dpkg say about a source package, and fetching an exact version.

patchkit never installs or upgrades a package to get a base: ``apt-get
download PKG=VERSION`` fetches the exact revision a series was written on
into patchkit's cache (apt checks it against the signed archive), and the
kernel tarball is read straight out of the ``.deb``.
"""

from __future__ import annotations

import re
import shutil
import tarfile
from pathlib import Path
from typing import IO

from patchkit.errors import EnvironmentProblem, MissingToolError, UsageError
from patchkit.util import proc

_VERSION_SHAPE = re.compile(r"(?:[0-9]{1,9}:)?[0-9][A-Za-z0-9.+~-]*", re.ASCII)
MAX_VERSION_LENGTH = 128  # Debian's longest real versions are around 60 characters


def check_version_text(version: str) -> str:
    """Refuse what cannot be a Debian version before it reaches apt's command line (ASCII, bounded)."""
    if len(version) > MAX_VERSION_LENGTH:
        raise UsageError(f"a Debian package version of {len(version)} characters (at most {MAX_VERSION_LENGTH})")
    if not _VERSION_SHAPE.fullmatch(version):
        raise UsageError(f"{version!r} is not a Debian package version (e.g. 6.1.192-2)")
    return version


def installed_version(package: str) -> str | None:
    """The version dpkg has installed, or None when the package is not installed."""
    if shutil.which("dpkg-query") is None:
        return None
    result = proc.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", package])
    if result.returncode != 0:
        return None
    status, _, version = result.stdout.decode("utf-8", "replace").partition("\t")
    return version.strip() if status.endswith(" installed") and version.strip() else None


def available_versions(package: str) -> list[str]:
    """Every version apt's package lists offer, newest first (empty when apt knows none)."""
    if shutil.which("apt-cache") is None:
        return []
    result = proc.run(["apt-cache", "madison", package])
    versions: list[str] = []
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 3 and fields[0] == package and fields[1] not in versions:
            versions.append(fields[1])
    return sorted(versions, key=VersionKey, reverse=True)


def deb_name(package: str, version: str) -> str:
    """The file name apt-get download gives (the epoch is written %3a)."""
    return f"{package}_{version.replace(':', '%3a')}_all.deb"


def download(package: str, version: str, directory: Path) -> Path:
    """Fetch ``package=version`` into ``directory`` (kept there as a cache) and return the .deb."""
    target = directory / deb_name(package, version)
    if target.is_file():
        return target
    proc.require("apt-get")
    directory.mkdir(parents=True, exist_ok=True)
    result = proc.run(["apt-get", "download", "-q", f"{package}={version}"], cwd=directory)
    if result.returncode == 0 and target.is_file():
        return target
    stderr = result.stderr.decode("utf-8", "replace")
    if "was not found" in stderr or "Unable to locate package" in stderr or "No packages found" in stderr:
        raise VersionUnavailable(package, version, available_versions(package))
    errors = [line for line in stderr.splitlines() if line.startswith("E:")] or stderr.strip().splitlines()[-1:]
    raise EnvironmentProblem(
        f"'apt-get download {package}={version}' failed: {errors[0] if errors else f'exit {result.returncode}'}",
        hint="check the network and run 'apt-get update'",
    )


class VersionUnavailable(MissingToolError):
    """The archive no longer offers the exact version a series is based on."""

    def __init__(self, package: str, version: str, offered: list[str]) -> None:
        listed = ", ".join(offered) if offered else "none (run 'apt-get update' if the package lists are stale)"
        super().__init__(
            f"{package} {version} is not in the archive any more; apt offers: {listed}",
            hint="move the series deliberately with: patchkit rebase [SERIES] --onto newest",
        )
        self.offered = offered


def tarball_member(package: str) -> str:
    return f"./usr/src/{package}.tar.xz"


def extract_from_deb(deb: Path, package: str, destination: Path) -> int:
    """Unpack the kernel tarball held in ``deb`` into ``destination``; return the tarball's mtime.

    The tarball is streamed from ``dpkg-deb --fsys-tarfile`` into ``tar -xJ``,
    never written out whole. The mtime is what dpkg would have given
    /usr/src/<package>.tar.xz, so the base commit's date matches the one made
    from an installed package of the same version.
    """
    proc.require("dpkg-deb")
    proc.require("tar")
    proc.require("xz")
    member_name = tarball_member(package)
    unpack = proc.start(["dpkg-deb", "--fsys-tarfile", str(deb)], stdin=None, stdout=proc.PIPE, stderr=proc.PIPE)
    assert unpack.stdout is not None
    try:
        with tarfile.open(fileobj=unpack.stdout, mode="r|") as archive:
            for member in archive:
                if member.name == member_name and member.isfile():
                    source = archive.extractfile(member)
                    assert source is not None
                    _untar(source, destination, f"{deb}: {member_name}")
                    return int(member.mtime)
    except tarfile.TarError as exc:
        raise EnvironmentProblem(f"{deb}: not a readable .deb ({exc}); remove it to download it again") from exc
    finally:
        unpack.stdout.close()
        unpack.kill()
        unpack.wait()
    raise EnvironmentProblem(f"{deb}: holds no {member_name}: is it the {package} package?")


def untar_file(tarball: Path, destination: Path) -> None:
    with tarball.open("rb") as source:
        _untar(source, destination, str(tarball))


def _untar(source: IO[bytes], destination: Path, what: str) -> None:
    untar = proc.start(["tar", "-xJ", "-C", str(destination)], stdin=proc.PIPE, stdout=proc.DEVNULL, stderr=proc.PIPE)
    assert untar.stdin is not None and untar.stderr is not None
    try:
        shutil.copyfileobj(source, untar.stdin, 1 << 20)
        untar.stdin.close()
    except BrokenPipeError:
        pass  # tar stopped early; its exit status and stderr say why
    except BaseException:
        untar.kill()
        untar.wait()
        raise
    stderr = untar.stderr.read().decode("utf-8", "replace").strip()
    if untar.wait() != 0:
        lines = stderr.splitlines()
        no_space = "No space left" in stderr
        raise EnvironmentProblem(
            f"{what}: extraction failed: {lines[-1] if lines else f'tar exit {untar.returncode}'}",
            hint="free some disk space" if no_space else None,
        )


class VersionKey:
    """Debian version ordering (epoch, upstream, revision; '~' sorts before everything)."""

    def __init__(self, version: str) -> None:
        epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
        self.parts = (int(epoch or 0), upstream, revision)

    def __lt__(self, other: VersionKey) -> bool:
        if self.parts[0] != other.parts[0]:
            return self.parts[0] < other.parts[0]
        for mine, theirs in zip(self.parts[1:], other.parts[1:], strict=True):
            order = _compare_part(str(mine), str(theirs))
            if order:
                return order < 0
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionKey) and not self < other and not other < self

    def __hash__(self) -> int:
        return hash(self.parts)


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp: alternate non-digit runs (compared by _order) and digit runs (numerically)."""
    while a or b:
        a_text = re.match(r"[^0-9]*", a).group()  # type: ignore[union-attr]
        b_text = re.match(r"[^0-9]*", b).group()  # type: ignore[union-attr]
        for index in range(max(len(a_text), len(b_text))):
            mine = _order(a_text[index]) if index < len(a_text) else 0
            theirs = _order(b_text[index]) if index < len(b_text) else 0
            if mine != theirs:
                return -1 if mine < theirs else 1
        a, b = a[len(a_text) :], b[len(b_text) :]
        a_num = re.match(r"[0-9]*", a).group()  # type: ignore[union-attr]
        b_num = re.match(r"[0-9]*", b).group()  # type: ignore[union-attr]
        if int(a_num or 0) != int(b_num or 0):
            return -1 if int(a_num or 0) < int(b_num or 0) else 1
        a, b = a[len(a_num) :], b[len(b_num) :]
    return 0
