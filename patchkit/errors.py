"""Typed errors carrying the process exit code.

Library code raises these; only :mod:`patchkit.cli.main` turns them into an exit.
The codes are documented in README.md ("Exit codes") and must stay stable.
"""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # lint findings or failed checks at/above --fail-on
    USAGE = 2  # bad command line (click's own code for usage errors)
    INVALID_DATA = 3  # series data, diff files, mailboxes, configuration
    GIT = 4  # tree not usable, patch does not apply, git failed
    BUILD = 5  # a kernel build failed
    BOOT = 6  # a kernel did not boot as expected
    MISSING_TOOL = 7  # an external program or package is missing
    ENVIRONMENT = 8  # the machine got in the way: disk full, permissions
    DELIVERY = 9  # mail not (all) delivered: the server refused, could not be reached or dropped the connection
    INTERNAL = 70  # a bug in patchkit: one line, the traceback in a log file (sysexits' EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


class PatchkitError(Exception):
    """Base of every error patchkit reports to the user as one line."""

    exit_code: ExitCode = ExitCode.INVALID_DATA

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(PatchkitError):
    exit_code = ExitCode.USAGE


class DataError(PatchkitError):
    """Invalid series data; the message names the file, line and key path."""

    exit_code = ExitCode.INVALID_DATA


class TreeError(PatchkitError):
    """The kernel tree is not in a state patchkit may touch."""

    exit_code = ExitCode.GIT


class ApplyError(PatchkitError):
    """A patch does not apply; the tree has been left as it was."""

    exit_code = ExitCode.GIT


class GitError(PatchkitError):
    exit_code = ExitCode.GIT


class BuildError(PatchkitError):
    exit_code = ExitCode.BUILD


class BootError(PatchkitError):
    exit_code = ExitCode.BOOT


class MissingToolError(PatchkitError):
    """An external tool is missing; ``packages`` are the Debian packages that provide it."""

    exit_code = ExitCode.MISSING_TOOL

    def __init__(self, message: str, *, packages: tuple[str, ...] = (), hint: str | None = None) -> None:
        if packages and hint is None:
            hint = "install it with: apt-get install " + " ".join(packages)
        super().__init__(message, hint=hint)
        self.packages = packages


class EnvironmentProblem(PatchkitError):
    exit_code = ExitCode.ENVIRONMENT


class DeliveryError(PatchkitError):
    """Mail did not (all) go out: what the server refused or where the connection broke, and what did go out."""

    exit_code = ExitCode.DELIVERY


def os_problem(path: object, exc: OSError, doing: str = "write") -> EnvironmentProblem:
    """An OSError on ``path`` as one line (exit 8), a full disk said plainly: what every writer raises."""
    if exc.errno == errno.ENOSPC:
        return EnvironmentProblem(f"{path}: no space left on device")
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):  # making a directory where a file is
        reason = "it, or a directory above it, is a file"
    return EnvironmentProblem(f"{path}: cannot {doing}: {reason}")


_BY_CODE: dict[ExitCode, type[PatchkitError]] = {
    ExitCode.USAGE: UsageError,
    ExitCode.INVALID_DATA: DataError,
    ExitCode.GIT: ApplyError,
    ExitCode.BUILD: BuildError,
    ExitCode.BOOT: BootError,
    ExitCode.MISSING_TOOL: MissingToolError,
    ExitCode.ENVIRONMENT: EnvironmentProblem,
    ExitCode.DELIVERY: DeliveryError,
}


def error_for(code: int, message: str) -> PatchkitError:
    """The typed error for an exit code a command computed from a verdict (verify's 5 and 6, drift's 4)."""
    error = _BY_CODE.get(ExitCode(code), PatchkitError)(message)
    error.exit_code = ExitCode(code)
    return error
