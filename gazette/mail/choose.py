"""What each subscriber receives: scopes, candidates, what is new for them."""
from __future__ import annotations

import datetime as dt

from ..model import Record, Site
from ..resolve import is_mailable_targeted
from .store import SCOPE_KINDS, Scopes, Subscriber, normalize_email


def validate_audiences(site: Site, audiences: list[str]) -> list[str]:
    tags = site.taxonomies.get("tags", {})
    return [f"unknown audience tag '{key}'" for key in audiences if key not in tags]


def validate_scopes(site: Site, scopes: Scopes) -> list[str]:
    from ..schema import RECORD_TYPES

    problems = []
    for kind in SCOPE_KINDS:
        known = set(RECORD_TYPES) if kind == "types" else set(site.taxonomies.get(kind, {}))
        for key in getattr(scopes, kind):
            if key not in known:
                problems.append(f"unknown {kind[:-1]} '{key}'")
    return problems


def check_subscriber(site: Site, email: str, lang: str, scopes: Scopes,
                     audiences: list[str] = ()) -> tuple[str | None, list[str]]:
    """The one place a subscriber is checked, for the command line, CSV import
    and the service alike: -> (the address normalised, or None; problems)."""
    problems = []
    try:
        address, _ = normalize_email(email or "")
    except ValueError as exc:
        address = None
        problems.append(str(exc))
    if lang not in site.languages:
        problems.append(f"language '{lang}' is not configured (languages: {', '.join(site.languages)})")
    problems += validate_scopes(site, scopes) + validate_audiences(site, list(audiences))
    return address, problems


# ------------------------------------------------------------------ choose
def matches(record: Record, subscriber: Subscriber) -> bool:
    meta, scopes = record.meta, subscriber.scopes
    if meta.disclosure == "targeted":
        # only to an audience an editor enrolled the address in; following the
        # same tag through the public form is not enough
        return bool(set(subscriber.audiences) & set(meta.audience))
    if scopes.all:
        return True
    checks = [hit for chosen, hit in ((scopes.topics, set(scopes.topics) & set(meta.topics)),
                                      (scopes.tags, set(scopes.tags) & set(meta.tags)),
                                      (scopes.issuers, set(scopes.issuers) & set(meta.issuers)),
                                      (scopes.types, record.type in scopes.types)) if chosen]
    if not checks:  # issues only
        return False
    return all(checks) if scopes.match == "all" else any(checks)


def issues_for(subscriber: Subscriber, issues: list, delivered: set[str], backfill: dt.date | None = None) -> list:
    """New gazette issues for a subscriber who asked for them: published since
    they subscribed (or `backfill`), not announced to them before."""
    if not subscriber.scopes.issues:
        return []
    since = dt.date.fromisoformat((subscriber.confirmed or subscriber.created)[:10])
    if backfill is not None:
        since = min(since, backfill)
    return [i for i in sorted(issues, key=lambda i: (i.published, i.key))
            if i.published >= since and issue_delivery_key(i) not in delivered]


def issue_delivery_key(issue) -> str:
    """How an issue is remembered among a subscriber's deliveries (beside record ids)."""
    return f"issue:{issue.key}"


def mail_candidates(site: Site) -> list[Record]:
    """Public records, and targeted records that are due (for their audience only)."""
    targeted = [r for r in site.records.values() if is_mailable_targeted(r.meta, site.build_date)]
    return sorted(site.public + targeted, key=Record.sort_key)


def records_for(subscriber: Subscriber, candidates: list[Record], delivered: set[str],
                backfill: dt.date | None = None) -> list[Record]:
    """What is new for this subscriber: records published since they subscribed
    (or since `backfill`, when an editor sends earlier ones too), never sent to
    them before, matching their scopes."""
    since = dt.date.fromisoformat((subscriber.confirmed or subscriber.created)[:10])
    if backfill is not None:
        since = min(since, backfill)
    return [r for r in candidates if r.published >= since and r.id not in delivered and matches(r, subscriber)]
