"""The command line: the click group, one command per function, and the one exit point.

Each command's options are a dataclass in :mod:`patchkit.cli.options` (every option declared once
there); :func:`~patchkit.cli.options.command` makes the click command from it, and the function
below hands the typed options to ``commands/<name>.run``. The command modules are imported only
when their command runs, so ``patchkit --help`` and a Ctrl-C at start-up stay quick.
"""

from __future__ import annotations

import sys

import click

from patchkit import __version__
from patchkit.cli import options as o
from patchkit.cli.boundary import run_guarded
from patchkit.cli.options import command


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


@command(tree, o.TreePrepareOptions, "prepare")
def tree_prepare(options: o.TreePrepareOptions) -> int:
    """Make the default tree of the series' exact base: fetch, extract, commit and tag it."""
    from patchkit.cli.commands import tree_prepare as implementation

    return implementation.run(options)


@command(cli, o.ApplyOptions)
def apply(options: o.ApplyOptions) -> int:
    """Apply the series to a tree as branch patchkit/NAME/vN."""
    from patchkit.cli.commands import apply as implementation

    return implementation.run(options)


@command(cli, o.RebaseOptions)
def rebase(options: o.RebaseOptions) -> int:
    """Move the series onto another version of its base package and rewrite the data.

    Every patch is carried over three-way; if any does not apply, it is named and
    nothing is written. Prints which files differ between the two bases.
    """
    from patchkit.cli.commands import rebase as implementation

    return implementation.run(options)


@command(cli, o.DriftOptions)
def drift(options: o.DriftOptions) -> int:
    """Check, changing nothing, whether the series still applies on newer versions of its base package.

    Exit 0 when it applies everywhere checked, 4 when a patch does not apply,
    and with --build 5 or 6 when it does not build or boot there.
    """
    from patchkit.cli.commands import drift as implementation

    return implementation.run(options)


@command(cli, o.ImportOptions, "import")
def import_(options: o.ImportOptions) -> int:
    """Turn a branch or a mailbox into series data.

    Into an existing series directory only the patches are replaced; name,
    revision, base, recipients, cover letter, changelog, configs, history and
    overlays are kept, and each patch keeps its suppressions and trailer
    provenance (matched by patch-id, else subject, else place). The edit step:
    edit on the branch with git, then import --range BASE..BRANCH --series DIR.
    """
    from patchkit.cli.commands import import_ as implementation

    return implementation.run(options)


@command(cli, o.StatusOptions)
def status(options: o.StatusOptions) -> int:
    """Show the series, its base, the tree and whether the branch matches the data."""
    from patchkit.cli.commands import status as implementation

    return implementation.run(options)


@command(cli, o.LintCommandOptions)
def lint(options: o.LintCommandOptions) -> int:
    """Lint every state of the applied series: TDX rules, patch hygiene and checkpatch."""
    from patchkit.cli.commands import lint as implementation

    return implementation.run(options)


@command(cli, o.VerifyOptions)
def verify(options: o.VerifyOptions) -> int:
    """Check the applied series: data, branch, lint, build and boot, with one summary and exit code.

    With --config or --states it is one part of a CI matrix: report.json says what it covered, and
    'patchkit ci merge' joins the parts into the table and exit code of a single run.
    """
    from patchkit.cli.commands import verify as implementation

    return implementation.run(options)


@command(cli, o.BuildCommandOptions)
def build(options: o.BuildCommandOptions) -> int:
    """Build the base and every patch for every kconfig fragment, incrementally.

    A state whose content, fragment and compiler already have a verdict is not built again.
    """
    from patchkit.cli.commands import build as implementation

    return implementation.run(options)


@command(cli, o.BootCommandOptions)
def boot(options: o.BootCommandOptions) -> int:
    """Boot the built series in QEMU (busybox initramfs) and check the console."""
    from patchkit.cli.commands import boot as implementation

    return implementation.run(options)


@command(cli, o.FormatOptions, "format")
def format_(options: o.FormatOptions) -> int:
    """Write the applied series as mails (cover letter, changelog, range-diff to vN-1) for git send-email."""
    from patchkit.cli.commands import format as implementation

    return implementation.run(options)


@command(cli, o.ReviseOptions)
def revise(options: o.ReviseOptions) -> int:
    """Record the current revision as posted (history, snapshot, change-id) and start the next one."""
    from patchkit.cli.commands import revise as implementation

    return implementation.run(options)


@command(cli, o.DiffOptions)
def diff(options: o.DiffOptions) -> int:
    """Print the range-diff between two revisions: ones 'revise' recorded (history/vN) or the current data.

    Each revision is re-made from its data on its base; nothing in the tree changes.
    """
    from patchkit.cli.commands import diff as implementation

    return implementation.run(options)


@command(cli, o.TrailersOptions)
def trailers(options: o.TrailersOptions) -> int:
    """Take review trailers from replies into the data, with who gave them, where and on which revision."""
    from patchkit.cli.commands import trailers as implementation

    return implementation.run(options)


@command(cli, o.SendOptions)
def send(options: o.SendOptions) -> int:
    """Mail the verified revision (format, then SMTP or git send-email) and record its Message-Ids."""
    from patchkit.cli.commands import send as implementation

    return implementation.run(options)


@command(cli, o.NoOptions)
def doctor(_options: o.NoOptions) -> int:
    """Check the tools and packages patchkit needs; print the apt command for what is missing."""
    from patchkit.cli.commands import doctor as implementation

    return implementation.run()


@cli.group()
def cache() -> None:
    """The verdict cache: builds, boots and lint runs remembered by the content they judged."""


@command(cache, o.NoOptions, "info")
def cache_info(_options: o.NoOptions) -> int:
    """How many verdicts and kept images the cache holds, and its size."""
    from patchkit.cli.commands import cache as implementation

    return implementation.info()


@command(cache, o.NoOptions, "clear")
def cache_clear(_options: o.NoOptions) -> int:
    """Forget every cached verdict (the next verify builds and boots everything)."""
    from patchkit.cli.commands import cache as implementation

    return implementation.clear()


@cli.group()
def ci() -> None:
    """Run verify as parallel CI jobs (GitHub Actions) and join their reports."""


@command(ci, o.CiMatrixOptions, "matrix")
def ci_matrix(options: o.CiMatrixOptions) -> int:
    """Print the CI job matrix as JSON: per series (all of them without SERIES), a lint job and one verify job per
    kconfig fragment (or range)."""
    from patchkit.cli.commands import ci as implementation

    return implementation.matrix(options)


@command(ci, o.CiMergeOptions, "merge")
def ci_merge(options: o.CiMergeOptions) -> int:
    """Join partial verify reports (files, or directories holding report.json) into one table and exit code per
    series; fail naming every part of the series (or of --expect's matrix) no report covered."""
    from patchkit.cli.commands import ci as implementation

    return implementation.merge(options)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command; patchkit.cli.boundary turns every outcome into one exit code."""
    sys.exit(run_guarded(lambda: cli.main(args=argv, prog_name="patchkit", standalone_mode=False)))
