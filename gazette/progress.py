"""Progress of long stages (loading, PDFs, search per year, mail delivery).

Library code reports to a `Progress` it is given and never decides where
output goes: the command line passes a `TerminalProgress` when standard error
is a terminal, and the silent `Progress()` otherwise (CI logs, pipes, tests).
"""
from __future__ import annotations

import time
from typing import TextIO


class Task:
    """One counted piece of work: `advance()` per item done, `close()` at the end."""

    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Progress:
    """Reports nothing: the default everywhere."""

    def task(self, label: str, total: int, unit: str = "items") -> Task:
        return Task()


NO_PROGRESS = Progress()


class _BarTask(Task):
    def __init__(self, label: str, total: int, unit: str, stream: TextIO):
        import click

        self.unit = unit
        self.start = time.monotonic()
        self.done = 0
        self.bar = click.progressbar(length=total, label=label, file=stream, show_pos=True, show_eta=True,
                                     item_show_func=self._rate, width=24)
        self.bar.__enter__()

    def _rate(self, _item) -> str:
        elapsed = time.monotonic() - self.start
        return f"{self.done / elapsed:.1f} {self.unit}/s" if elapsed > 0.05 and self.done else ""

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.bar.update(n, self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


class TerminalProgress(Progress):
    """Bars with counts, rate and time left, on a terminal stream."""

    def __init__(self, stream: TextIO, minimum: int = 1):
        self.stream = stream
        self.minimum = minimum  # no bar for less work than this

    def task(self, label: str, total: int, unit: str = "items") -> Task:
        if total < self.minimum:
            return Task()
        return _BarTask(label, total, unit, self.stream)


def for_stream(stream: TextIO) -> Progress:
    """Bars when `stream` is a terminal, silence otherwise."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return TerminalProgress(stream) if tty else Progress()
