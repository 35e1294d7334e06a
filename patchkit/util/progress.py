"""Progress for long commands: a live status line on a terminal, plain lines otherwise.

The live line (stage, patch k/N, config, elapsed) is redrawn on stderr by a
small thread; results go to stdout as ordinary lines. When stderr is not a
terminal, or ``CI`` is set, or ``TERM=dumb``, each step is one plain line.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

import click


def wants_live(stream: TextIO) -> bool:
    if os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Report steps of a long command; use as a context manager so the live line is cleared."""

    def __init__(self, *, live: bool | None = None, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self.live = wants_live(self._stream) if live is None else live
        self._started = time.monotonic()
        self._step_started = self._started
        self._status = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.live:
            self._thread = threading.Thread(target=self._tick, name="patchkit-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self.live:
            with self._lock:
                self._clear()

    def step(self, stage: str, detail: str, index: int | None = None, total: int | None = None) -> None:
        """A new step began: e.g. ("build", "patch 3 guest", 3, 10)."""
        count = f" {index}/{total}" if index is not None and total is not None else ""
        with self._lock:
            self._status = f"[{stage}{count}] {detail}"
            self._step_started = time.monotonic()
            if self.live:
                self._draw()
            else:
                click.echo(self._status, err=True)

    def line(self, text: str) -> None:
        """A result line that stays (stdout)."""
        with self._lock:
            if self.live:
                self._clear()
            click.echo(text)
            if self.live and self._status:
                self._draw()

    def note(self, text: str) -> None:
        """A side remark that stays (stderr): what a step did and how long it took, a fallback taken."""
        with self._lock:
            if self.live:
                self._clear()
            click.echo(text, err=True)
            if self.live and self._status:
                self._draw()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                if self._status:
                    self._draw()

    def _draw(self) -> None:
        total = _clock(time.monotonic() - self._started)
        step = _clock(time.monotonic() - self._step_started)
        width = 100
        text = f"{self._status}  {step} (total {total})"
        self._stream.write("\r\x1b[K" + text[:width])
        self._stream.flush()

    def _clear(self) -> None:
        self._stream.write("\r\x1b[K")
        self._stream.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
