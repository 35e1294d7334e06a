"""Every command-line option, declared once: a typed dataclass field that carries its click declaration.

A command's options are one frozen dataclass. :func:`command` turns its fields into click parameters
(in declaration order, mixins first) and calls the command with an instance, so a command module's
``run(options: ApplyOptions)`` is typed end to end. Options several commands share are the mixins
(:class:`TargetOptions`, :class:`BuildOptions`, ...). A default that the library also needs is the
library's constant, named once there; these classes only refer to it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from patchkit.boot import ACCELERATORS, BOOT_TIMEOUT
from patchkit.errors import PatchkitError, UsageError
from patchkit.lint import OUTPUT_FORMATS
from patchkit.lint.severity import FAIL_ON_DEFAULT, SEVERITIES
from patchkit.mail import SMTP_ENCRYPTIONS, TRANSPORTS
from patchkit.mail.headers import check_message_id
from patchkit.series.load import series_name_problem
from patchkit.tree import DEFAULT_PACKAGE
from patchkit.tree.basetree import BASE_TAG, INSTALLED, NEWEST
from patchkit.tree.debian import MAX_VERSION_LENGTH, check_version_text

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


def _option_name(param: click.Parameter | None, unnamed: str = "the value") -> str:
    """How a message names the parameter: its longest spelling (``--output``, not ``-o``), else ``unnamed``."""
    return max(param.opts, key=len) if param is not None and param.opts else unnamed


class BoundedPath(click.Path):
    """click's Path, refusing (exit 2, one line, the start of it shown) a path no file system takes: longer
    than PATH_MAX, a component longer than NAME_MAX, a NUL or a newline in it."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            opt = _option_name(param, "the path")
            longest_part = max((len(part.encode()) for part in value.split("/")), default=0)
            if len(value.encode()) > MAX_PATH or longest_part > MAX_NAME:
                raise UsageError(f"{opt}: {shown(value)} is too long for a path ({len(value)} characters)")
            if any(char in value for char in "\0\n\r"):
                raise UsageError(f"{opt}: {shown(value)} holds a NUL or a line break; no path of patchkit's does")
        return super().convert(value, param, ctx)


MAX_PATH = 4096  # Linux's PATH_MAX
MAX_NAME = 255  # and NAME_MAX
_SERIES_PATH = BoundedPath(path_type=Path, file_okay=False)


if TYPE_CHECKING:  # generic from click 8.3 on
    _ParamType = click.ParamType[str, Any]
else:
    _ParamType = click.ParamType


class BoundedText(_ParamType):
    """A word from the command line with its bounds: not empty, at most ``longest`` printable ASCII characters,
    the shape ``pattern`` gives, and the owner's own rule (``check``, which raises). Anything else is a usage
    error (exit 2): one line naming the option, that shows at most the start of the value."""

    name = "text"

    def __init__(
        self,
        what: str,
        longest: int,
        pattern: str,
        *,
        metavar: str | None = None,
        check: Callable[[str, str], object] | None = None,
        empty_ok: bool = False,
    ) -> None:
        self.what = what
        self.longest = longest
        self.pattern = re.compile(pattern)
        self.metavar = metavar
        self.check = check  # (option, value): the owner's own rule, when there is one (e.g. the schema's name rule)
        self.empty_ok = empty_ok

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str | None:
        return self.metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str) or (self.empty_ok and value == ""):
            return value
        opt = _option_name(param)
        if not value.strip():
            raise UsageError(f"{opt}: empty; give {self.what}")
        if len(value) > self.longest:
            raise UsageError(f"{opt}: {len(value)} characters ({shown(value)}), more than {self.what} can have "
                             f"({self.longest})")  # fmt: skip
        odd = next((i for i, char in enumerate(value) if not (char.isascii() and char.isprintable())), None)
        if odd is not None:
            raise UsageError(f"{opt}: {shown(value)} is not {self.what}: it holds {value[odd]!r} at position {odd + 1} "
                             "(printable ASCII only)")  # fmt: skip
        if not self.pattern.fullmatch(value):
            raise UsageError(f"{opt}: {shown(value)} is not {self.what}")
        if self.check is not None:
            try:
                self.check(opt, value)
            except PatchkitError as exc:
                raise UsageError(exc.message) from None
        return value


def shown(value: str, longest: int = 40) -> str:
    """``value`` quoted for a message, cut to its first ``longest`` characters (an error never echoes 10 kB)."""
    return repr(value) if len(value) <= longest else repr(value[:longest]) + "..."


def _debian_version(opt: str, value: str) -> None:
    if value not in (INSTALLED, NEWEST):
        check_version_text(value)


def _series_name(opt: str, value: str) -> None:
    why = series_name_problem(value)
    if why is not None:
        raise UsageError(f"{opt} {shown(value)}: {why}")


class Seconds(_ParamType):
    """A finite number of seconds within bounds (click's FloatRange lets ``nan`` and ``inf`` through)."""

    name = "seconds"

    def __init__(self, lowest: float, highest: float) -> None:
        self.lowest, self.highest = lowest, highest

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float | int):
            return float(value)
        opt = _option_name(param)
        text = str(value)
        if not re.fullmatch(r"[0-9]{1,6}(?:\.[0-9]{1,6})?", text) or not self.lowest <= float(text) <= self.highest:
            raise UsageError(f"{opt}: {shown(text)} is not a number of seconds from {self.lowest:g} to "
                             f"{self.highest:g}")  # fmt: skip
        return float(text)


SECONDS = Seconds(1, 24 * 3600)


def _few(most: int) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], tuple[str, ...]]:
    """A callback that bounds how often a repeatable option may be given."""

    def check(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
        if len(values) > most:
            raise UsageError(f"{_option_name(param)}: given {len(values)} times, at most {most}")
        return values

    return check


# The words patchkit passes on (to apt, git, the mails), bounded before anything runs.
VERSION = BoundedText(
    "a Debian version (e.g. 6.1.192-2), installed or newest",
    MAX_VERSION_LENGTH,
    r".+",
    metavar="VERSION|installed|newest",
    check=_debian_version,
)
PACKAGE = BoundedText("a Debian package name", 100, r"[a-z0-9][-a-z0-9+.]+")
STATES = BoundedText("a range of states A..B (base, a patch number, overlay or end)", 64, r"[A-Za-z0-9 .]+",
                     metavar="A..B")  # fmt: skip
CONFIG_NAME = BoundedText("a config name of the series", 64, r"[A-Za-z0-9._-]+", metavar="NAME")
SERIES_NAME = BoundedText("a series name", 64, r".+", metavar="NAME", check=_series_name)
# A git revision or range as patchkit hands it to git: never an option (a leading '-'), no spaces.
REVISION = BoundedText("a git revision", 256, r"[^-\s][^\s]*", metavar="REV")
REVISION_RANGE = BoundedText("a git range BASE..TIP", 512, r"[^-\s.][^\s]*\.\.[^\s.][^\s]*", metavar="BASE..TIP")
MESSAGE_ID = BoundedText("a Message-Id (<id@domain>)", 998, r".+", metavar="MSGID", check=check_message_id)
SERIES_ARGUMENT = BoundedText("a series directory or name", MAX_PATH, r".+", metavar="SERIES")
CMDLINE = BoundedText("a kernel command line", 1024, r".+", empty_ok=True)
HOST = BoundedText("a host name or address", 253, r"[A-Za-z0-9.:\[\]_-]+", metavar="HOST")
LOGIN = BoundedText("an SMTP login", 256, r"[^\s]+")
_TEXT_OR_JSON = ("text", "json")  # drift, status and verify: text for people, JSON (with a schema) for machines


# ---- shared options (mixins) -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NoOptions:
    pass


@dataclass(frozen=True, kw_only=True)
class SeriesOptions:
    # A directory holding series.yaml or the name of one under ./series/ (None: the only one there).
    series: str | None = field(default=None, metadata=argument(required=False, type=SERIES_ARGUMENT))


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
            "--config", multiple=True, type=CONFIG_NAME, help="Only this config (repeatable; default: every one)."
        ),
    )
    jobs: int | None = field(
        default=None,
        metadata=option(
            "-j", "--jobs", type=click.IntRange(min=1, max=1024), help="Parallel make jobs (default: CPU count)."
        ),
    )
    results_dir: Path | None = field(
        default=None, metadata=option("--results", type=_SERIES_PATH, help="Results directory to use.")
    )


@dataclass(frozen=True, kw_only=True)
class BootOptions:
    timeout: float = field(
        default=BOOT_TIMEOUT, metadata=option("--timeout", type=SECONDS, help="Seconds per boot (1 to 86400).")
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
            type=MESSAGE_ID,
            help="Post the cover letter as a reply to this Message-Id (a reroll into an existing thread).",
        ),
    )


# ---- one class per command -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TreePrepareOptions(SeriesOptions):
    package: str | None = field(
        default=None,
        metadata=option(
            "--package", type=PACKAGE, help="Prepare this Debian source package instead of the series' base."
        ),
    )
    package_version: str | None = field(
        default=None,
        metadata=option(
            "--version",
            type=VERSION,
            help="With --package: which version (default: the installed one, else the newest apt offers).",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class ApplyOptions(TargetOptions):
    base: str | None = field(
        default=None,
        metadata=option("--base", type=REVISION, help="The base commit in --tree (default: found by its tree hash)."),
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
            type=VERSION,
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
            type=VERSION,
            callback=_few(16),
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
        default=None, metadata=option("--range", type=REVISION_RANGE, help="Import a branch of --tree (default tree).")
    )
    mbox: Path | None = field(
        default=None,
        metadata=option(
            "--mbox", type=BoundedPath(path_type=Path, dir_okay=False, exists=True), help="Import a mailbox of patches."
        ),
    )
    base: str | None = field(
        default=None,
        metadata=option(
            "--base",
            type=REVISION,
            help=f"With --mbox: the base commit in --tree (default: tag {BASE_TAG}, else HEAD).",
        ),
    )
    overlay_tip: str | None = field(
        default=None,
        metadata=option(
            "--overlay-tip", type=REVISION, help="With --range: commits TIP..REV become test-only overlay patches."
        ),
    )
    series_dir: Path | None = field(
        default=None,
        metadata=option("--series", type=_SERIES_PATH, help="Series directory to write (default: series/NAME)."),
    )
    name: str | None = field(
        default=None,
        metadata=option("--name", type=SERIES_NAME, help="Series name for a new series (default: the directory name)."),
    )
    package: str = field(
        default=DEFAULT_PACKAGE,
        metadata=option("--package", type=PACKAGE, help="Base package recorded for a new series."),
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
            "--output", type=BoundedPath(path_type=Path, dir_okay=False), help="Write the report to this file."
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
    cmdline: str = field(
        default="", metadata=option("--cmdline", type=CMDLINE, help="Extra kernel command line for every boot.")
    )


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
            "--states", type=STATES, help="Build only these states (base, N, overlay, end): one part of a CI matrix."
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
            type=BoundedPath(path_type=Path),
            help="Directory for the mails (default: outgoing/NAME-vN): new, empty, or an earlier format output.",
        ),
    )
    force: bool = field(default=False, metadata=flag("--force", help="Format even when lint finds errors."))


@dataclass(frozen=True, kw_only=True)
class SendOptions(TargetOptions, MailOptions):
    output: Path | None = field(
        default=None,
        metadata=option(
            "-o", "--output", type=BoundedPath(path_type=Path), help="Directory for the mails (as format -o)."
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
            "--smtp-server", type=HOST, help="SMTP server (else PATCHKIT_SMTP_SERVER, sendemail.smtpServer)."
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
            "--smtp-user",
            type=LOGIN,
            help="SMTP login; the password comes from PATCHKIT_SMTP_PASSWORD or git credential.",
        ),
    )
    smtp_cafile: str | None = field(
        default=None,
        metadata=option(
            "--smtp-cafile", type=BoundedPath(dir_okay=False, exists=True), help="Also trust this CA file."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class ReviseOptions(SeriesOptions):
    pass


@dataclass(frozen=True, kw_only=True)
class DiffOptions(TreeOptions):
    # [SERIES] vN vM: the series is optional in front, so the command splits the words.
    words: tuple[str, ...] = field(
        default=(), metadata=argument(nargs=-1, type=SERIES_ARGUMENT, metavar="[SERIES] vN vM")
    )


@dataclass(frozen=True, kw_only=True)
class TrailersOptions(SeriesOptions):
    mbox: Path = field(
        metadata=option(
            "--mbox",
            required=True,
            type=BoundedPath(path_type=Path, dir_okay=False, exists=True),
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
            type=click.IntRange(min=1, max=1000),
            help="Split each fragment's states into this many ranges (one job each).",
        ),
    )
    lint: bool = field(default=True, metadata=negative_flag("--no-lint", help="Leave out the lint job."))


@dataclass(frozen=True, kw_only=True)
class CiMergeOptions:
    reports: tuple[Path, ...] = field(
        default=(), metadata=argument(nargs=-1, required=True, type=BoundedPath(path_type=Path, exists=True))
    )
    output: Path | None = field(
        default=None,
        metadata=option(
            "-o",
            "--output",
            type=BoundedPath(path_type=Path, dir_okay=False),
            help="Write the merged report here (reports of one series).",
        ),
    )
    output_dir: Path | None = field(
        default=None,
        metadata=option(
            "--output-dir",
            type=BoundedPath(path_type=Path, file_okay=False),
            help="Write each series' merged report to DIR/SERIES/report.json.",
        ),
    )
    expect: Path | None = field(
        default=None,
        metadata=option(
            "--expect",
            type=BoundedPath(path_type=Path, dir_okay=False, exists=True),
            help="The job matrix ('patchkit ci matrix' output) the reports must cover; default: every config and "
            "state of each series.",
        ),
    )
