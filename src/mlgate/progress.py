"""How long work shows itself: a live line with elapsed time on a terminal, one plain line
per stage in CI logs, nothing otherwise (so an error stays the only line on stderr).
The core only calls ``stage(text)``; this module decides what the user sees."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Live:
    """One line on a terminal, rewritten ten times a second: spinner, stage, elapsed time."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.text = ""
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def __call__(self, text: str) -> None:
        with self._lock:
            self._finish_line()
            self.text, self.started = text, time.monotonic()

    def _finish_line(self) -> None:
        if self.text:
            took = time.monotonic() - self.started
            self.stream.write(f"\r\x1b[2K✓ {self.text} ({took:.1f} s)\n")
            self.stream.flush()

    def _spin(self) -> None:
        for frame in itertools.cycle(self.FRAMES):
            if self._stop.wait(0.1):
                return
            with self._lock:
                if self.text:
                    took = time.monotonic() - self.started
                    self.stream.write(f"\r\x1b[2K{frame} {self.text}  {took:.1f} s")
                    self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        with self._lock:
            self._finish_line()
            self.text = ""


class Lines:
    """CI logs: one line per stage, no redrawing."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, text: str) -> None:
        self.stream.write(f"mlgate: {text}\n")
        self.stream.flush()

    def close(self) -> None:
        pass


@contextmanager
def shown() -> Iterator[Live | Lines | None]:
    """The progress callback for this process's stderr, closed (line finished) at the end."""
    progress = for_terminal()
    try:
        yield progress
    finally:
        if progress is not None:
            progress.close()


def for_terminal(stream: TextIO | None = None) -> Live | Lines | None:
    """Live on a TTY, lines in CI, None (silent) anywhere else. Default: today's stderr."""
    stream = stream or sys.stderr
    if stream.isatty() and os.environ.get("TERM") != "dumb":
        return Live(stream)
    if os.environ.get("CI"):
        return Lines(stream)
    return None
