"""The one place where every way a command can end becomes an exit code and at most one line on stderr.

Typed patchkit errors carry their own code; click's usage errors are 2; an
interrupt is 130; an OSError that escaped the library (a path it could not
write) is 8 with the path; anything else is a bug in patchkit: one line,
exit 70, and the traceback in a log file whose path the line names. No
traceback ever reaches the terminal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import click

from patchkit.errors import ExitCode, PatchkitError
from patchkit.util import outdir, paths
from patchkit.util.signals import install_sigterm_as_interrupt


def run_guarded(command: Callable[[], object]) -> int:
    """Run ``command`` (click in non-standalone mode) and return the process exit code."""
    try:
        install_sigterm_as_interrupt()
        result = command()
        return result if isinstance(result, int) else ExitCode.OK
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return ExitCode.USAGE if isinstance(exc, click.UsageError) else ExitCode.INVALID_DATA
    except (KeyboardInterrupt, click.exceptions.Abort):
        _say("patchkit: interrupted; nothing was left half done")
        return ExitCode.INTERRUPTED
    except PatchkitError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        _say(f"patchkit: error: {exc.message}{hint}")
        return exc.exit_code
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _say(f"patchkit: error: {where}{exc.strerror or exc}")
        return ExitCode.ENVIRONMENT
    except MemoryError:
        _say("patchkit: error: out of memory (an input far larger than a kernel series needs?)")
        return ExitCode.ENVIRONMENT
    except Exception as exc:
        log = _write_crash_log()
        what = str(exc) if len(str(exc)) <= 200 else str(exc)[:200] + "..."  # never echo a 10 kB input
        _say(f"patchkit: internal error: {type(exc).__name__}: {what} (a bug in patchkit; details in {log})")
        return ExitCode.INTERNAL
    finally:
        # The work is done or unwound: a signal arriving now must not turn the result into a traceback.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        outdir.release_held()


def _say(line: str) -> None:
    with contextlib.suppress(OSError):  # stderr itself is gone (a closed pipe); the exit code still tells
        click.echo(line, err=True)


def _write_crash_log() -> str:
    text = traceback.format_exc()
    directory = paths.crashes_dir()
    name = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}.log"
    for place in (directory, Path(tempfile.gettempdir())):
        try:
            place.mkdir(parents=True, exist_ok=True)
            path = place / f"patchkit-{name}" if place != directory else place / name
            path.write_text(text, encoding="utf-8")
            return str(path)
        except OSError:
            continue
    return "(no writable place for the log)"
