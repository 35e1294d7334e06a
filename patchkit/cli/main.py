"""The command line: argument parsing, one request object per command, and the one exit point.

Each command's options are declared once here; their values become the
command's request (:mod:`patchkit.cli.requests`, field names = parameter names)
and ``commands/<name>.run(request)`` does the work. Options several commands
share are the decorators below.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from patchkit import __version__
from patchkit.cli import requests as req
from patchkit.cli.boundary import run_guarded
from patchkit.lint.severity import FAIL_ON_DEFAULT
from patchkit.lint.severity import SEVERITIES as SEVERITY_NAMES

F = TypeVar("F", bound=Callable[..., Any])
SEVERITIES = click.Choice(list(SEVERITY_NAMES))


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several option decorators as one, listed in the order --help shows them."""

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


series_argument = click.argument("series", required=False)
tree_option = click.option(
    "--tree", "tree", type=click.Path(path_type=Path, file_okay=False),
    help="A kernel git checkout to use instead of the default tree.",
)  # fmt: skip
results_option = click.option(
    "--results", "results_dir", type=click.Path(path_type=Path, file_okay=False), help="Results directory to use."
)
jobs_option = click.option("-j", "--jobs", type=click.IntRange(min=1), help="Parallel make jobs (default: CPU count).")
keep_going_option = click.option("--keep-going", is_flag=True, help="Build every state even after one fails.")
no_checkpatch_option = click.option(
    "--no-checkpatch", "checkpatch", is_flag=True, flag_value=False, default=True,
    help="Lint without the tree's scripts/checkpatch.pl.",
)  # fmt: skip


def config_option(verb: str) -> Callable[[F], F]:
    return click.option(
        "--config", "config_names", multiple=True, metavar="NAME", help=f"{verb} only this config (repeatable)."
    )


def fresh_option(what: str = "build every state again (new ones are stored)") -> Callable[[F], F]:
    return click.option("--fresh", is_flag=True, help=f"Ignore cached verdicts: {what}.")


def fail_on_option(what: str) -> Callable[[F], F]:
    return click.option("--fail-on", type=SEVERITIES, default=FAIL_ON_DEFAULT, show_default=True, help=what)


boot_options = _stack(
    click.option("--timeout", type=click.FloatRange(min=1), default=60, show_default=True, help="Seconds per boot."),
    click.option("--accel", type=click.Choice(["auto", "kvm", "tcg"]), default="auto", show_default=True),
)


def build_options(verb: str = "Build", fresh: str | None = None) -> Callable[[F], F]:
    """--config, -j, --results and --fresh: what build, boot and verify share."""
    return _stack(config_option(verb), jobs_option, results_option, fresh_option(fresh) if fresh else fresh_option())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="patchkit")
def cli() -> None:
    """Keep a kernel patch series as data; apply, lint, build, boot and mail it.

    SERIES is a directory holding series.yaml, or the name of one under
    ./series/; when there is only one series it may be left out.
    """


@cli.group()
def tree() -> None:
    """The default kernel tree (Debian's linux-source package as a git repo)."""


@tree.command("prepare")
@series_argument
@click.option("--package", help="Prepare this Debian source package instead of the series' base.")
@click.option(
    "--version", "package_version", metavar="VERSION|installed|newest",
    help="With --package: which version (default: the installed one, else the newest apt offers).",
)  # fmt: skip
def tree_prepare(**options: Any) -> int:
    """Make the default tree of the series' exact base: fetch, extract, commit and tag it."""
    from patchkit.cli.commands import tree_prepare as command

    return command.run(req.TreePrepareRequest(**options))


@cli.command()
@series_argument
@tree_option
@click.option("--base", help="The base commit in --tree (default: found by its tree hash).")
@click.option(
    "--force", is_flag=True,
    help="Move the series branch even when it holds commits patchkit did not make (they stay in the reflog).",
)  # fmt: skip
def apply(**options: Any) -> int:
    """Apply the series to a tree as branch patchkit/NAME/vN."""
    from patchkit.cli.commands import apply as command

    return command.run(req.ApplyRequest(**options))


@cli.command()
@series_argument
@click.option(
    "--onto", required=True, metavar="VERSION|installed|newest",
    help="The Debian version of the base package to move to (e.g. 6.1.192-3).",
)  # fmt: skip
def rebase(**options: Any) -> int:
    """Move the series onto another version of its base package and rewrite the data.

    Every patch is carried over three-way; if any does not apply, it is named and
    nothing is written. Prints which files differ between the two bases.
    """
    from patchkit.cli.commands import rebase as command

    return command.run(req.RebaseRequest(**options))


@cli.command()
@series_argument
@click.option(
    "--onto", "versions", multiple=True, metavar="VERSION|installed|newest",
    help="Check these versions of the base package (repeatable; default: installed and newest).",
)  # fmt: skip
@click.option("--build", is_flag=True, help="Also build and boot the carried series' end there (every config).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def drift(**options: Any) -> int:
    """Check, changing nothing, whether the series still applies on newer versions of its base package.

    Exit 0 when it applies everywhere checked, 4 when a patch does not apply,
    and with --build 5 or 6 when it does not build or boot there.
    """
    from patchkit.cli.commands import drift as command

    return command.run(req.DriftRequest(**options))


@cli.command("import")
@click.option("--range", "rev_range", metavar="BASE..TIP", help="Import a branch of --tree (default tree).")
@click.option(
    "--mbox", type=click.Path(path_type=Path, dir_okay=False, exists=True), help="Import a mailbox of patches."
)
@tree_option
@click.option("--base", help="With --mbox: the base commit in --tree (default: tag patchkit-base, else HEAD).")
@click.option("--overlay-tip", metavar="REV", help="With --range: commits TIP..REV become test-only overlay patches.")
@click.option(
    "--series", "series_dir", type=click.Path(path_type=Path, file_okay=False),
    help="Series directory to write (default: series/NAME).",
)  # fmt: skip
@click.option("--name", help="Series name for a new series (default: the directory name).")
@click.option(
    "--package", default="linux-source-6.1", show_default=True, help="Base package recorded for a new series."
)
def import_(**options: Any) -> int:
    """Turn a branch or a mailbox into series data.

    Into an existing series directory only the patches are replaced; name,
    revision, base, recipients, cover letter, changelog, configs, history and
    overlays are kept, and each patch keeps its suppressions and trailer
    provenance (matched by patch-id, else subject, else place). The edit step:
    edit on the branch with git, then import --range BASE..BRANCH --series DIR.
    """
    from patchkit.cli.commands import import_ as command

    return command.run(req.ImportRequest(**options))


@cli.command()
@series_argument
@tree_option
def status(**options: Any) -> int:
    """Show the series, its base, the tree and whether the branch matches the data."""
    from patchkit.cli.commands import status as command

    return command.run(req.StatusRequest(**options))


@cli.command()
@series_argument
@tree_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text", show_default=True
)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the report to this file.")
@fail_on_option("Exit 1 when new findings at or above this severity exist.")
@no_checkpatch_option
@fresh_option("lint again (the new result is stored)")
def lint(**options: Any) -> int:
    """Lint every state of the applied series: TDX rules, patch hygiene and checkpatch."""
    from patchkit.cli.commands import lint as command

    return command.run(req.LintRequest(**options))


@cli.command()
@series_argument
@tree_option
@click.option("--no-lint", "lint", is_flag=True, flag_value=False, default=True, help="Skip the lint stage.")
@click.option(
    "--no-build", "build", is_flag=True, flag_value=False, default=True,
    help="Skip the build stage (and so the boot stage).",
)  # fmt: skip
@click.option("--no-boot", "boot", is_flag=True, flag_value=False, default=True, help="Skip the boot stage.")
@keep_going_option
@fail_on_option("Lint fails verify when new findings at or above this severity exist.")
@boot_options
@build_options("Build", "build and boot everything again")
@click.option("--states", "states_range", metavar="A..B", help="Build only these states (base, N, overlay, end).")
@no_checkpatch_option
@click.option(
    "--source-root", type=click.Path(path_type=Path, file_okay=False),
    help="Repository root the SARIF and annotation paths are relative to (default: the series' git top-level).",
)  # fmt: skip
@click.option("--reboot", is_flag=True, help="Boot again even when the same image already has a cached verdict.")
def verify(**options: Any) -> int:
    """Check the applied series: data, branch, lint, build and boot, with one summary and exit code.

    With --config or --states it is one part of a CI matrix: report.json says what it covered, and
    'patchkit ci merge' joins the parts into the table and exit code of a single run.
    """
    from patchkit.cli.commands import verify as command

    return command.run(req.VerifyRequest(**options))


@cli.command()
@series_argument
@tree_option
@keep_going_option
@build_options("Build")
def build(**options: Any) -> int:
    """Build the base and every patch for every kconfig fragment, incrementally.

    A state whose content, fragment and compiler already have a verdict is not built again.
    """
    from patchkit.cli.commands import build as command

    return command.run(req.BuildRequest(**options))


@cli.command()
@series_argument
@tree_option
@click.option("--each", is_flag=True, help="Build and boot every state, not only the series' end.")
@boot_options
@click.option("--cmdline", default="", help="Extra kernel command line for every boot.")
@build_options("Boot")
def boot(**options: Any) -> int:
    """Boot the built series in QEMU (busybox initramfs) and check the console."""
    from patchkit.cli.commands import boot as command

    return command.run(req.BootRequest(**options))


cc_trailers_option = click.option(
    "--no-cc-trailers", "cc_trailers", is_flag=True, flag_value=False, default=True,
    help="Do not Cc who gave Reviewed-by & co. on earlier revisions (by default they get the reroll, as with b4).",
)  # fmt: skip
in_reply_to_option = click.option(
    "--in-reply-to", metavar="MSGID",
    help="Post the cover letter as a reply to this Message-Id (a reroll into an existing thread).",
)  # fmt: skip


@cli.command("format")
@series_argument
@tree_option
@click.option(
    "-o", "--output", type=click.Path(path_type=Path),
    help="Directory for the mails (default: outgoing/NAME-vN): new, empty, or an earlier format output.",
)  # fmt: skip
@click.option(
    "--cc-maintainers", is_flag=True,
    help="Add recipients from the base tree's scripts/get_maintainer.pl: maintainers to To, lists to Cc.",
)  # fmt: skip
@cc_trailers_option
@in_reply_to_option
@click.option("--force", is_flag=True, help="Format even when lint finds errors.")
@fail_on_option("Refuse to format when lint finds problems at or above this severity.")
@no_checkpatch_option
def format_(**options: Any) -> int:
    """Write the applied series as mails (cover letter, changelog, range-diff to vN-1) for git send-email."""
    from patchkit.cli.commands import format as command

    return command.run(req.FormatRequest(**options))


@cli.group()
def cache() -> None:
    """The verdict cache: builds, boots and lint runs remembered by the content they judged."""


@cache.command("info")
def cache_info() -> int:
    """How many verdicts and kept images the cache holds, and its size."""
    from patchkit.cli.commands import cache as command

    return command.info()


@cache.command("clear")
def cache_clear() -> int:
    """Forget every cached verdict (the next verify builds and boots everything)."""
    from patchkit.cli.commands import cache as command

    return command.clear()


@cli.group()
def ci() -> None:
    """Run verify as parallel CI jobs (GitHub Actions) and join their reports."""


@ci.command("matrix")
@series_argument
@click.option("--split", type=click.IntRange(min=1), default=1, show_default=True,
              help="Split each fragment's states into this many ranges (one job each).")  # fmt: skip
@click.option("--no-lint", "lint", is_flag=True, flag_value=False, default=True, help="Leave out the lint job.")
def ci_matrix(**options: Any) -> int:
    """Print the CI job matrix as JSON: a lint job and one verify job per kconfig fragment (or range)."""
    from patchkit.cli.commands import ci as command

    return command.matrix(req.CiMatrixRequest(**options))


@ci.command("merge")
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the merged report here.")
def ci_merge(**options: Any) -> int:
    """Join partial verify reports (files, or directories holding report.json) into one table and exit code."""
    from patchkit.cli.commands import ci as command

    return command.merge(req.CiMergeRequest(**options))


@cli.command()
@series_argument
def revise(**options: Any) -> int:
    """Record the current revision as posted (history, snapshot, change-id) and start the next one."""
    from patchkit.cli.commands import revise as command

    return command.run(req.ReviseRequest(**options))


@cli.command("diff")
@click.argument("words", nargs=-1, metavar="[SERIES] vN vM")
@tree_option
def diff(**options: Any) -> int:
    """Print the range-diff between two revisions: ones 'revise' recorded (history/vN) or the current data.

    Each revision is re-made from its data on its base; nothing in the tree changes.
    """
    from patchkit.cli.commands import diff as command

    return command.run(req.DiffRequest(**options))


@cli.command()
@series_argument
@click.option(
    "--mbox", type=click.Path(path_type=Path, dir_okay=False, exists=True), required=True,
    help="Replies to a posted revision (a list archive's thread, or your own folder).",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Say what would be added; change nothing.")
@click.option(
    "-S", "--sloppy", is_flag=True,
    help="Also take trailers naming someone other than the reply's sender (b4's -S); they are skipped otherwise.",
)  # fmt: skip
def trailers(**options: Any) -> int:
    """Take review trailers from replies into the data, with who gave them, where and on which revision."""
    from patchkit.cli.commands import trailers as command

    return command.run(req.TrailersRequest(**options))


@cli.command()
@series_argument
@tree_option
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Directory for the mails (as format -o).")
@click.option("--dry-run", is_flag=True, help="Format and show who would get what; send nothing.")
@click.option("--to-self", is_flag=True, help="Send every mail only to yourself, To: rewritten to you.")
@click.option("--reflect", is_flag=True, help="Send only to yourself, the headers kept as the list would get them.")
@click.option("--force", is_flag=True, help="Send even when verify did not pass for this revision, or lint fails.")
@click.option("--via", type=click.Choice(["smtp", "git-send-email"]), default="smtp", show_default=True)
@click.option("--cc-maintainers", is_flag=True, help="As format --cc-maintainers.")
@cc_trailers_option
@in_reply_to_option
@click.option("--smtp-server", metavar="HOST", help="SMTP server (else PATCHKIT_SMTP_SERVER, sendemail.smtpServer).")
@click.option("--smtp-port", type=click.IntRange(1, 65535), help="SMTP port (default by encryption: 25, 587, 465).")
@click.option("--smtp-encryption", type=click.Choice(["none", "starttls", "ssl"]), help="Default: starttls.")
@click.option("--smtp-user", help="SMTP login; the password comes from PATCHKIT_SMTP_PASSWORD or git credential.")
@click.option("--smtp-cafile", type=click.Path(dir_okay=False, exists=True), help="Also trust this CA file.")
def send(**options: Any) -> int:
    """Mail the verified revision (format, then SMTP or git send-email) and record its Message-Ids."""
    from patchkit.cli.commands import send as command

    return command.run(req.SendRequest(**options))


@cli.command()
def doctor() -> int:
    """Check the tools and packages patchkit needs; print the apt command for what is missing."""
    from patchkit.cli.commands import doctor as command

    return command.run()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command; patchkit.cli.boundary turns every outcome into one exit code."""
    sys.exit(run_guarded(lambda: cli.main(args=argv, prog_name="patchkit", standalone_mode=False)))
