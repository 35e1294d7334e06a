"""Every command-line option, declared once: a typed dataclass field that carries its click declaration.

A command's options are one frozen dataclass. :func:`command` turns its fields into click parameters
(in declaration order, mixins first) and calls the command with an instance, so a command module's
``run(options: ApplyOptions)`` is typed end to end. Options several commands share are the mixins
(:class:`TargetOptions`, :class:`BuildOptions`, ...). A default that the library also needs is the
library's constant, named once there; these classes only refer to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from patchkit.boot import ACCELERATORS, BOOT_TIMEOUT
from patchkit.lint import OUTPUT_FORMATS
from patchkit.lint.severity import FAIL_ON_DEFAULT, SEVERITIES
from patchkit.mail import SMTP_ENCRYPTIONS, TRANSPORTS
from patchkit.tree import DEFAULT_PACKAGE
from patchkit.tree.basetree import BASE_TAG

_CLICK = "click"  # the field metadata key holding the parameter's declaration


@dataclass(frozen=True)
class _Param:
    kind: type[click.Option] | type[click.Argument]
    decls: tuple[str, ...]
    attrs: dict[str, Any]


def option(*decls: str, **attrs: Any) -> dict[str, _Param]:
    """Field metadata: the option ``decls`` (``--name``, ``-n``) with click's ``attrs`` (help, type, ...)."""
    return {_CLICK: _Param(click.Option, decls, attrs)}


def flag(*decls: str, **attrs: Any) -> dict[str, _Param]:
    """Field metadata: a flag that sets a boolean field (default False) to True."""
    return {_CLICK: _Param(click.Option, decls, {"is_flag": True, **attrs})}


def negative_flag(decl: str, **attrs: Any) -> dict[str, _Param]:
    """Field metadata: a ``--no-...`` flag that sets a boolean field (default True) to False."""
    return {_CLICK: _Param(click.Option, (decl,), {"is_flag": True, "flag_value": False, **attrs})}


def argument(**attrs: Any) -> dict[str, _Param]:
    """Field metadata: a positional argument."""
    return {_CLICK: _Param(click.Argument, (), attrs)}


def _parameter(spec: dataclasses.Field[Any]) -> click.Parameter:
    """The click parameter a field declares, its default the field's."""
    param: _Param = spec.metadata[_CLICK]
    attrs = dict(param.attrs)
    if spec.default is not dataclasses.MISSING:
        attrs["default"] = spec.default
        if param.kind is click.Option and spec.default not in (None, "", (), False) and not attrs.get("is_flag"):
            attrs.setdefault("show_default", True)
    if param.kind is click.Argument:
        return click.Argument([spec.name], **attrs)
    return click.Option([*param.decls, spec.name], **attrs)


Options = TypeVar("Options")


def command(
    group: click.Group, options_type: type[Options], name: str | None = None
) -> Callable[[Callable[[Options], int]], click.Command]:
    """Register the decorated ``(options) -> exit code`` function as ``group``'s command ``name``.

    Its click parameters are ``options_type``'s fields; its help is the function's docstring.
    """

    def register(run: Callable[[Options], int]) -> click.Command:
        def callback(**values: Any) -> int:
            return run(options_type(**values))

        params = [_parameter(f) for f in dataclasses.fields(options_type)]  # type: ignore[arg-type]
        cmd = click.Command(
            name or run.__name__.rstrip("_").replace("_", "-"), callback=callback, params=params, help=run.__doc__
        )
        group.add_command(cmd)
        return cmd

    return register


_SERIES_PATH = click.Path(path_type=Path, file_okay=False)
_TEXT_OR_JSON = ("text", "json")  # drift, status and verify: text for people, JSON (with a schema) for machines


# ---- shared options (mixins) -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NoOptions:
    pass


@dataclass(frozen=True, kw_only=True)
class SeriesOptions:
    # A directory holding series.yaml or the name of one under ./series/ (None: the only one there).
    series: str | None = field(default=None, metadata=argument(required=False))


@dataclass(frozen=True, kw_only=True)
class TreeOptions:
    tree: Path | None = field(
        default=None,
        metadata=option("--tree", type=_SERIES_PATH, help="A kernel git checkout to use instead of the default tree."),
    )


@dataclass(frozen=True, kw_only=True)
class TargetOptions(SeriesOptions, TreeOptions):
    pass


@dataclass(frozen=True, kw_only=True)
class LintOptions:
    fail_on: str = field(
        default=FAIL_ON_DEFAULT,
        metadata=option(
            "--fail-on",
            type=click.Choice(SEVERITIES),
            help="Lint fails the command when new findings at or above this severity exist.",
        ),
    )
    checkpatch: bool = field(
        default=True, metadata=negative_flag("--no-checkpatch", help="Lint without the tree's scripts/checkpatch.pl.")
    )


@dataclass(frozen=True, kw_only=True)
class FreshOptions:
    fresh: bool = field(
        default=False,
        metadata=flag("--fresh", help="Ignore cached results: build, boot or lint again (the new result is stored)."),
    )


@dataclass(frozen=True, kw_only=True)
class BuildOptions(FreshOptions):
    config_names: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "--config", multiple=True, metavar="NAME", help="Only this config (repeatable; default: every one)."
        ),
    )
    jobs: int | None = field(
        default=None,
        metadata=option("-j", "--jobs", type=click.IntRange(min=1), help="Parallel make jobs (default: CPU count)."),
    )
    results_dir: Path | None = field(
        default=None, metadata=option("--results", type=_SERIES_PATH, help="Results directory to use.")
    )


@dataclass(frozen=True, kw_only=True)
class BootOptions:
    timeout: float = field(
        default=BOOT_TIMEOUT, metadata=option("--timeout", type=click.FloatRange(min=1), help="Seconds per boot.")
    )
    accel: str = field(
        default=ACCELERATORS[0], metadata=option("--accel", type=click.Choice(ACCELERATORS), help="QEMU accelerator.")
    )


@dataclass(frozen=True, kw_only=True)
class KeepGoingOptions:
    keep_going: bool = field(
        default=False, metadata=flag("--keep-going", help="Build every state even after one fails.")
    )


@dataclass(frozen=True, kw_only=True)
class MailOptions:
    """What format and send share: the recipients and threading of the mails."""

    cc_maintainers: bool = field(
        default=False,
        metadata=flag(
            "--cc-maintainers",
            help="Add recipients from the base tree's get_maintainer.pl: maintainers to To, lists to Cc.",
        ),
    )
    cc_trailers: bool = field(
        default=True,
        metadata=negative_flag(
            "--no-cc-trailers",
            help="Do not Cc who gave Reviewed-by & co. on earlier revisions (by default they are, as b4 does).",
        ),
    )
    in_reply_to: str | None = field(
        default=None,
        metadata=option(
            "--in-reply-to",
            metavar="MSGID",
            help="Post the cover letter as a reply to this Message-Id (a reroll into an existing thread).",
        ),
    )


# ---- one class per command -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TreePrepareOptions(SeriesOptions):
    package: str | None = field(
        default=None,
        metadata=option("--package", help="Prepare this Debian source package instead of the series' base."),
    )
    package_version: str | None = field(
        default=None,
        metadata=option(
            "--version",
            metavar="VERSION|installed|newest",
            help="With --package: which version (default: the installed one, else the newest apt offers).",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class ApplyOptions(TargetOptions):
    base: str | None = field(
        default=None, metadata=option("--base", help="The base commit in --tree (default: found by its tree hash).")
    )
    force: bool = field(
        default=False,
        metadata=flag(
            "--force",
            help="Move the series branch even when it holds commits patchkit did not make (they stay in the reflog).",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class RebaseOptions(SeriesOptions):
    onto: str = field(
        metadata=option(
            "--onto",
            required=True,
            metavar="VERSION|installed|newest",
            help="The Debian version of the base package to move to (e.g. 6.1.192-3).",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class DriftOptions(SeriesOptions):
    versions: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "--onto",
            multiple=True,
            metavar="VERSION|installed|newest",
            help="Check these versions of the base package (repeatable; default: installed and newest).",
        ),
    )
    build: bool = field(
        default=False,
        metadata=flag("--build", help="Also build and boot the carried series' end there (every config)."),
    )
    fmt: str = field(
        default=_TEXT_OR_JSON[0], metadata=option("--format", type=click.Choice(_TEXT_OR_JSON), help="Output format.")
    )


@dataclass(frozen=True, kw_only=True)
class ImportOptions(TreeOptions):
    rev_range: str | None = field(
        default=None, metadata=option("--range", metavar="BASE..TIP", help="Import a branch of --tree (default tree).")
    )
    mbox: Path | None = field(
        default=None,
        metadata=option(
            "--mbox", type=click.Path(path_type=Path, dir_okay=False, exists=True), help="Import a mailbox of patches."
        ),
    )
    base: str | None = field(
        default=None,
        metadata=option("--base", help=f"With --mbox: the base commit in --tree (default: tag {BASE_TAG}, else HEAD)."),
    )
    overlay_tip: str | None = field(
        default=None,
        metadata=option(
            "--overlay-tip", metavar="REV", help="With --range: commits TIP..REV become test-only overlay patches."
        ),
    )
    series_dir: Path | None = field(
        default=None,
        metadata=option("--series", type=_SERIES_PATH, help="Series directory to write (default: series/NAME)."),
    )
    name: str | None = field(
        default=None, metadata=option("--name", help="Series name for a new series (default: the directory name).")
    )
    package: str = field(
        default=DEFAULT_PACKAGE, metadata=option("--package", help="Base package recorded for a new series.")
    )


@dataclass(frozen=True, kw_only=True)
class StatusOptions(TargetOptions):
    fmt: str = field(
        default=_TEXT_OR_JSON[0],
        metadata=option(
            "--format",
            type=click.Choice(_TEXT_OR_JSON),
            help="Output format (json: patchkit/apply/status-schema.json).",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class LintCommandOptions(TargetOptions, LintOptions, FreshOptions):
    fmt: str = field(
        default=OUTPUT_FORMATS[0], metadata=option("--format", type=click.Choice(OUTPUT_FORMATS), help="Report format.")
    )
    output: Path | None = field(
        default=None,
        metadata=option(
            "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the report to this file."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class BuildCommandOptions(TargetOptions, KeepGoingOptions, BuildOptions):
    pass


@dataclass(frozen=True, kw_only=True)
class BootCommandOptions(TargetOptions, BuildOptions, BootOptions):
    each: bool = field(
        default=False, metadata=flag("--each", help="Build and boot every state, not only the series' end.")
    )
    cmdline: str = field(default="", metadata=option("--cmdline", help="Extra kernel command line for every boot."))


@dataclass(frozen=True, kw_only=True)
class VerifyOptions(TargetOptions, BuildOptions, BootOptions, KeepGoingOptions, LintOptions):
    lint: bool = field(default=True, metadata=negative_flag("--no-lint", help="Skip the lint stage."))
    build: bool = field(
        default=True, metadata=negative_flag("--no-build", help="Skip the build stage (and so the boot stage).")
    )
    boot: bool = field(default=True, metadata=negative_flag("--no-boot", help="Skip the boot stage."))
    states_range: str | None = field(
        default=None,
        metadata=option(
            "--states", metavar="A..B", help="Build only these states (base, N, overlay, end): one part of a CI matrix."
        ),
    )
    source_root: Path | None = field(
        default=None,
        metadata=option(
            "--source-root",
            type=_SERIES_PATH,
            help="Repository root the SARIF and annotation paths are relative to (default: the series' git top-level).",
        ),
    )
    reboot: bool = field(
        default=False,
        metadata=flag("--reboot", help="Boot again even when the same image already has a cached verdict."),
    )
    fmt: str = field(
        default=_TEXT_OR_JSON[0],
        metadata=option(
            "--format",
            type=click.Choice(_TEXT_OR_JSON),
            help="json: report.json on stdout (patchkit/verify/report-schema.json); everything else on stderr.",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class FormatOptions(TargetOptions, MailOptions, LintOptions):
    output: Path | None = field(
        default=None,
        metadata=option(
            "-o",
            "--output",
            type=click.Path(path_type=Path),
            help="Directory for the mails (default: outgoing/NAME-vN): new, empty, or an earlier format output.",
        ),
    )
    force: bool = field(default=False, metadata=flag("--force", help="Format even when lint finds errors."))


@dataclass(frozen=True, kw_only=True)
class SendOptions(TargetOptions, MailOptions):
    output: Path | None = field(
        default=None,
        metadata=option(
            "-o", "--output", type=click.Path(path_type=Path), help="Directory for the mails (as format -o)."
        ),
    )
    dry_run: bool = field(
        default=False,
        metadata=flag(
            "--dry-run", help="Format and show who would get what, and whether the gate opens; send nothing."
        ),
    )
    to_self: bool = field(
        default=False, metadata=flag("--to-self", help="Send every mail only to yourself, To: rewritten to you.")
    )
    reflect: bool = field(
        default=False,
        metadata=flag("--reflect", help="Send only to yourself, the headers kept as the list would get them."),
    )
    force: bool = field(
        default=False,
        metadata=flag("--force", help="Send even when verify did not pass for this revision, or lint fails."),
    )
    via: str = field(
        default=TRANSPORTS[0], metadata=option("--via", type=click.Choice(TRANSPORTS), help="How the mails go out.")
    )
    smtp_server: str | None = field(
        default=None,
        metadata=option(
            "--smtp-server", metavar="HOST", help="SMTP server (else PATCHKIT_SMTP_SERVER, sendemail.smtpServer)."
        ),
    )
    smtp_port: int | None = field(
        default=None,
        metadata=option(
            "--smtp-port", type=click.IntRange(1, 65535), help="SMTP port (default by encryption: 25, 587, 465)."
        ),
    )
    smtp_encryption: str | None = field(
        default=None,
        metadata=option("--smtp-encryption", type=click.Choice(SMTP_ENCRYPTIONS), help="Default: starttls."),
    )
    smtp_user: str | None = field(
        default=None,
        metadata=option(
            "--smtp-user", help="SMTP login; the password comes from PATCHKIT_SMTP_PASSWORD or git credential."
        ),
    )
    smtp_cafile: str | None = field(
        default=None,
        metadata=option("--smtp-cafile", type=click.Path(dir_okay=False, exists=True), help="Also trust this CA file."),
    )


@dataclass(frozen=True, kw_only=True)
class ReviseOptions(SeriesOptions):
    pass


@dataclass(frozen=True, kw_only=True)
class DiffOptions(TreeOptions):
    # [SERIES] vN vM: the series is optional in front, so the command splits the words.
    words: tuple[str, ...] = field(default=(), metadata=argument(nargs=-1, metavar="[SERIES] vN vM"))


@dataclass(frozen=True, kw_only=True)
class TrailersOptions(SeriesOptions):
    mbox: Path = field(
        metadata=option(
            "--mbox",
            required=True,
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="Replies to a posted revision (a list archive's thread, or your own folder).",
        ),
    )
    dry_run: bool = field(default=False, metadata=flag("--dry-run", help="Say what would be added; change nothing."))
    sloppy: bool = field(
        default=False,
        metadata=flag(
            "-S",
            "--sloppy",
            help="Also take trailers naming someone other than the reply's sender (b4's -S; skipped otherwise).",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class CiMatrixOptions(SeriesOptions):
    split: int = field(
        default=1,
        metadata=option(
            "--split",
            type=click.IntRange(min=1),
            help="Split each fragment's states into this many ranges (one job each).",
        ),
    )
    lint: bool = field(default=True, metadata=negative_flag("--no-lint", help="Leave out the lint job."))


@dataclass(frozen=True, kw_only=True)
class CiMergeOptions:
    reports: tuple[Path, ...] = field(
        default=(), metadata=argument(nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
    )
    output: Path | None = field(
        default=None,
        metadata=option(
            "-o",
            "--output",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Write the merged report here (reports of one series).",
        ),
    )
    output_dir: Path | None = field(
        default=None,
        metadata=option(
            "--output-dir",
            type=click.Path(path_type=Path, file_okay=False),
            help="Write each series' merged report to DIR/SERIES/report.json.",
        ),
    )
    expect: Path | None = field(
        default=None,
        metadata=option(
            "--expect",
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="The job matrix ('patchkit ci matrix' output) the reports must cover; default: every config and "
            "state of each series.",
        ),
    )
