"""One request per command: what the command line asked for, built once in :mod:`patchkit.cli.main`.

Field names are the click parameter names, so the CLI builds a request as
``Request(**options)``. Options several commands share are mixins, declared
once here and once as a shared decorator in the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patchkit.lint.severity import FAIL_ON_DEFAULT


@dataclass(frozen=True, kw_only=True)
class SeriesRequest:
    series: str | None = None  # a series directory, or a name under ./series/ (None: the only one)


@dataclass(frozen=True, kw_only=True)
class TargetRequest(SeriesRequest):
    tree: Path | None = None  # None: the default tree of the series' base


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    config_names: tuple[str, ...] = ()  # () = every config of the series
    jobs: int | None = None
    results_dir: Path | None = None
    fresh: bool = False


@dataclass(frozen=True, kw_only=True)
class BootOptions:
    timeout: float = 60.0
    accel: str = "auto"


@dataclass(frozen=True, kw_only=True)
class LintOptions:
    fail_on: str = FAIL_ON_DEFAULT
    checkpatch: bool = True


@dataclass(frozen=True, kw_only=True)
class TreePrepareRequest(SeriesRequest):
    package: str | None = None
    package_version: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApplyRequest(TargetRequest):
    base: str | None = None
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class RebaseRequest(SeriesRequest):
    onto: str


@dataclass(frozen=True, kw_only=True)
class DriftRequest(SeriesRequest):
    versions: tuple[str, ...] = ()
    build: bool = False
    fmt: str = "text"


@dataclass(frozen=True, kw_only=True)
class ImportRequest:
    rev_range: str | None = None
    mbox: Path | None = None
    tree: Path | None = None
    base: str | None = None
    overlay_tip: str | None = None
    series_dir: Path | None = None
    name: str | None = None
    package: str = "linux-source-6.1"


@dataclass(frozen=True, kw_only=True)
class StatusRequest(TargetRequest):
    pass


@dataclass(frozen=True, kw_only=True)
class LintRequest(TargetRequest, LintOptions):
    fmt: str = "text"
    output: Path | None = None
    fresh: bool = False  # lint again even when a result for the same content is cached


@dataclass(frozen=True, kw_only=True)
class BuildRequest(TargetRequest, BuildOptions):
    keep_going: bool = False


@dataclass(frozen=True, kw_only=True)
class BootRequest(TargetRequest, BuildOptions, BootOptions):
    each: bool = False  # every state, not only the series' end (and build on after a failure)
    cmdline: str = ""


@dataclass(frozen=True, kw_only=True)
class VerifyRequest(TargetRequest, BuildOptions, BootOptions, LintOptions):
    keep_going: bool = False
    lint: bool = True
    build: bool = True
    boot: bool = True
    states_range: str | None = None  # "A..B": one part of a CI matrix
    source_root: Path | None = None
    reboot: bool = False


@dataclass(frozen=True, kw_only=True)
class FormatRequest(TargetRequest, LintOptions):
    output: Path | None = None
    cc_maintainers: bool = False
    cc_trailers: bool = True  # Cc who gave trailers on earlier revisions (b4's default)
    in_reply_to: str | None = None  # a Message-Id the cover answers (a reroll into an existing thread)
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class SendRequest(TargetRequest):
    output: Path | None = None
    dry_run: bool = False
    to_self: bool = False
    reflect: bool = False
    force: bool = False
    via: str = "smtp"
    cc_maintainers: bool = False
    cc_trailers: bool = True  # as FormatRequest
    in_reply_to: str | None = None  # as FormatRequest
    smtp_server: str | None = None
    smtp_port: int | None = None
    smtp_encryption: str | None = None
    smtp_user: str | None = None
    smtp_cafile: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReviseRequest(SeriesRequest):
    pass


@dataclass(frozen=True, kw_only=True)
class DiffRequest:
    words: tuple[str, ...]  # [SERIES] vN vM (the optional series first: split by the command)
    tree: Path | None = None


@dataclass(frozen=True, kw_only=True)
class TrailersRequest(SeriesRequest):
    mbox: Path
    dry_run: bool = False
    sloppy: bool = False  # take trailers naming someone other than the reply's sender too


@dataclass(frozen=True, kw_only=True)
class CiMatrixRequest(SeriesRequest):
    split: int = 1
    lint: bool = True


@dataclass(frozen=True, kw_only=True)
class CiMergeRequest:
    reports: tuple[Path, ...]
    output: Path | None = None
