"""Signal handling: SIGTERM behaves like Ctrl-C, and critical sections finish first."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def install_sigterm_as_interrupt() -> None:
    """Make SIGTERM unwind like Ctrl-C so cleanups run either way."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends, then raise KeyboardInterrupt.

    Used around the few steps that must not stop halfway (moving a branch and
    checking it out). Child processes that must also survive a terminal Ctrl-C
    are started in their own session by the caller.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, remember) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt
