"""Diagnostics: every problem names its file, line and field.

Stages never stop at the first problem.  They add to a `Diagnostics`
collection and the pipeline stops between stages when it holds errors, so an
editor sees every problem of a run at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int | None
    field: str | None
    message: str
    severity: str = ERROR

    def format(self) -> str:
        where = self.path
        if self.line:
            where += f":{self.line}"
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {self.severity}: {what}{self.message}"


@dataclass
class Diagnostics:
    """Collects problems; paths are shown relative to `root`."""

    root: Path | None = None
    items: list[Diagnostic] = field(default_factory=list)

    def rel(self, path: Path | str | None) -> str:
        """`path` as shown in messages: relative to the site."""
        if path is None:
            return "<site>"
        p = Path(path)
        if self.root is not None:
            try:
                return p.resolve().relative_to(self.root.resolve()).as_posix()
            except ValueError:
                pass
        return p.as_posix()

    def error(self, path, line, field, message) -> None:
        self.items.append(Diagnostic(self.rel(path), line, field, message, ERROR))

    def warning(self, path, line, field, message) -> None:
        self.items.append(Diagnostic(self.rel(path), line, field, message, WARNING))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == WARNING]

    def sorted(self) -> list[Diagnostic]:
        return sorted(set(self.items), key=lambda d: (d.path, d.line or 0, d.field or "", d.message))

    def format(self) -> str:
        return "\n".join(f"{i}. {d.format()}" for i, d in enumerate(self.sorted(), 1))


class GazetteError(click.ClickException):
    """Stops the pipeline; the CLI prints it and exits 1."""

    exit_code = 1

    def __init__(self, message: str, diagnostics: Diagnostics | None = None):
        super().__init__(message)
        self.diagnostics = diagnostics

    def format_message(self) -> str:
        if self.diagnostics and self.diagnostics.items:
            return f"{self.message}\n{self.diagnostics.format()}"
        return self.message


def stop_on_errors(diags: Diagnostics, stage: str) -> None:
    errors = len(diags.errors)
    if errors:
        warnings = len(diags.warnings)
        summary = f"{stage} failed: {errors} error{'s' if errors != 1 else ''}"
        if warnings:
            summary += f", {warnings} warning{'s' if warnings != 1 else ''}"
        raise GazetteError(summary, diags)
