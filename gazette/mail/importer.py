"""Importing subscribers from CSV: all rows or none."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GazetteError
from ..model import Site
from .choose import check_subscriber
from .store import SCOPE_KINDS, Scopes, Store


@dataclass
class ImportReport:
    added: int = 0
    existing: int = 0
    unsubscribed: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_csv(site: Site, store: Store, path: Path) -> ImportReport:
    """CSV with a header: email[, lang][, topics, tags, issuers, types] (keys separated by spaces)."""
    report = ImportReport()
    when = site.build_time.isoformat()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GazetteError(f"{path}: cannot read it as UTF-8 CSV ({exc})") from None
    import io

    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:  # e.g. a field over csv's 131,072-character limit
        raise GazetteError(f"{path}:{reader.line_num + 1}: not valid CSV ({exc}); nothing was imported") from None
    if reader.fieldnames is not None and "email" not in reader.fieldnames:
        raise GazetteError(f"{path}:1: the header must name an 'email' column")
    try:
        _import_rows(site, store, rows, when, report)
    except _RolledBack:
        report.added, report.existing, report.unsubscribed = 0, 0, []
    return report


class _RolledBack(Exception):
    pass


def _yes(value) -> bool:
    return (value or "").strip().lower() in ("yes", "true", "1", "y", "是")


def _import_rows(site: Site, store: Store, rows: list[tuple[int, dict]], when: str, report: ImportReport) -> None:
    """All rows or none: any invalid row rolls the whole import back."""
    with store.transaction():
        for line, row in rows:
            lang = (row.get("lang") or site.default_lang).strip()
            try:
                scopes = Scopes.of(match=(row.get("match") or "any").strip(), issues=_yes(row.get("issues")),
                                   **{k: (row.get(k) or "").split() for k in SCOPE_KINDS})
            except ValueError as exc:
                report.errors.append((line, str(exc)))
                continue
            audiences = (row.get("audiences") or "").split()
            email, problems = check_subscriber(site, row.get("email") or "", lang, scopes, audiences)
            if problems:
                report.errors.append((line, "; ".join(problems)))
                continue
            outcome, subscriber = store.add(email, lang, scopes, when)
            if audiences and outcome != "unsubscribed":
                store.set_audiences(subscriber.id, audiences)
            if outcome == "added":
                report.added += 1
            elif outcome == "unsubscribed":
                report.unsubscribed.append(email)
            else:
                report.existing += 1
        if report.errors:
            raise _RolledBack()
