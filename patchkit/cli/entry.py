"""The program's entry point (console script and ``python -m patchkit``), kept free of heavy imports.

Importing click, GitPython and the commands takes a noticeable moment; a
Ctrl-C or SIGTERM in that moment must end like any other interrupt (one line,
exit 130), not as a KeyboardInterrupt traceback from the middle of an import
or a bare death by signal. So both signals are blocked (held pending, not
lost) while the command modules are imported, and unblocked inside the guard:
a signal that came meanwhile is delivered there and ends the run cleanly.
``main`` returns the exit code for its caller to exit with; a command exits
through :func:`patchkit.cli.main.main` as always.
"""

from __future__ import annotations

import contextlib
import os
import signal
from types import FrameType

INTERRUPTED = 130  # patchkit.errors.ExitCode.INTERRUPTED, without importing it yet
_MESSAGE = b"patchkit: interrupted; nothing was left half done\n"
_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        from patchkit.cli.main import main as cli_main

        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_interrupt)
        # Unblocked even when the parent had them blocked: patchkit must stop when asked to.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)  # a pending signal is delivered here
        cli_main(argv)  # exits through patchkit.cli.boundary, which handles interrupts from here on
    except KeyboardInterrupt:
        for signum in _SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        with contextlib.suppress(OSError):
            os.write(2, _MESSAGE)
        return INTERRUPTED
    return 0  # not reached: cli_main always exits
