"""One module per command; each ``run(options)`` takes its typed options from :mod:`patchkit.cli.options`.

How a command ends, the same for all: it returns ``0`` (success) or ``1``
(findings: lint findings at --fail-on, a branch that does not match the data);
every other outcome is a raised :class:`patchkit.errors.PatchkitError` whose
class carries the exit code (a failed build 5, a failed boot 6, a missing tool
7, ...), raised after the command has shown and written what it found.
:func:`patchkit.cli.boundary.run_guarded` is the one place that turns either into
the process exit code.
"""

from __future__ import annotations

import click

from patchkit.errors import ExitCode, error_for


def verdict_exit(code: int, verdict: str) -> int:
    """Return a findings verdict's code; raise the typed error for any other failing one."""
    if code in (ExitCode.OK, ExitCode.FINDINGS):
        return code
    raise error_for(code, verdict)


def notify(text: str) -> None:
    """A note on the way, on stderr as ``patchkit: TEXT``: waiting for a lock, what a step did."""
    click.echo(f"patchkit: {text}", err=True)
