"""Subscribers and the outbox, in one SQLite database outside the output.

A subscriber is one address (compared case-insensitively), a language and
scopes.  Someone who unsubscribed stays in the table as `unsubscribed`, so an
import cannot subscribe them again.  `deliveries` remembers which record went
to whom in which message; together with the outbox it makes sending
idempotent: a record is queued for a subscriber once, and a queued message is
sent until the server accepts it.
"""
from __future__ import annotations

import csv
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GazetteError

SCOPE_KINDS = ("topics", "tags", "issuers", "types")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL,
  email_key TEXT NOT NULL UNIQUE,
  lang TEXT NOT NULL,
  scopes TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed')),
  created TEXT NOT NULL,
  confirmed TEXT,
  unsubscribed TEXT,
  audiences TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY,
  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
  email TEXT NOT NULL,
  kind TEXT NOT NULL,
  message_id TEXT NOT NULL UNIQUE,
  raw BLOB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created TEXT NOT NULL,
  sent TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, id);
CREATE TABLE IF NOT EXISTS deliveries (
  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
  record_id TEXT NOT NULL,
  outbox_id INTEGER NOT NULL REFERENCES outbox(id),
  PRIMARY KEY (subscriber_id, record_id)
);
"""


def normalize_email(value: str) -> tuple[str, str]:
    """-> (address as given, trimmed; comparison key).  Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError("not an email address")
    email = value.strip()
    if any(c in email for c in "\r\n\0") or not _EMAIL_RE.match(email) or len(email) > 254:
        raise ValueError(f"'{email[:80]}' is not a valid email address")
    local, _, domain = email.rpartition("@")
    return email, f"{local}@{domain}".lower()


@dataclass
class Scopes:
    all: bool = True
    topics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    issuers: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, **kinds) -> "Scopes":
        lists = {k: sorted(set(kinds.get(k) or [])) for k in SCOPE_KINDS}
        return cls(all=not any(lists.values()), **lists)

    def to_json(self) -> str:
        return json.dumps({"all": self.all, **{k: getattr(self, k) for k in SCOPE_KINDS}}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Scopes":
        data = json.loads(text)
        return cls(all=bool(data.get("all")), **{k: list(data.get(k) or []) for k in SCOPE_KINDS})

    def describe(self) -> str:
        if self.all:
            return "all"
        return "; ".join(f"{k}: {' '.join(getattr(self, k))}" for k in SCOPE_KINDS if getattr(self, k))


@dataclass
class Subscriber:
    id: int
    email: str
    email_key: str
    lang: str
    scopes: Scopes
    status: str
    created: str
    confirmed: str | None
    unsubscribed: str | None
    # audience tags an editor enrolled this address in (CLI or import): the only
    # way to receive targeted records; never set through the public service
    audiences: list[str] = field(default_factory=list)

    @classmethod
    def from_row(cls, row) -> "Subscriber":
        return cls(row["id"], row["email"], row["email_key"], row["lang"], Scopes.from_json(row["scopes"]),
                   row["status"], row["created"], row["confirmed"], row["unsubscribed"],
                   sorted(json.loads(row["audiences"] or "[]")))


class Store:
    def __init__(self, path: Path, create: bool = True):
        """Open the database at `path`.  With create=False (read-only commands)
        a missing database is not created: the store is empty and in memory."""
        self.path = Path(path)
        target = str(self.path)
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_file():
            target = ":memory:"
        try:
            self.db = sqlite3.connect(target, isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(subscribers)")}
            if "audiences" not in columns:  # a database from before audiences were editor-only
                self.db.execute("ALTER TABLE subscribers ADD COLUMN audiences TEXT NOT NULL DEFAULT '[]'")
        except sqlite3.DatabaseError as exc:
            raise GazetteError(f"cannot open the subscriber database {self.path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def transaction(self):
        return _Transaction(self.db)

    # ------------------------------------------------------------ subscribers
    def get(self, subscriber_id: int) -> Subscriber | None:
        row = self.db.execute("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
        return Subscriber.from_row(row) if row else None

    def find(self, email: str) -> Subscriber | None:
        _, key = normalize_email(email)
        row = self.db.execute("SELECT * FROM subscribers WHERE email_key = ?", (key,)).fetchone()
        return Subscriber.from_row(row) if row else None

    def all(self, status: str | None = None) -> list[Subscriber]:
        if status:
            rows = self.db.execute("SELECT * FROM subscribers WHERE status = ? ORDER BY email_key", (status,))
        else:
            rows = self.db.execute("SELECT * FROM subscribers ORDER BY email_key")
        return [Subscriber.from_row(r) for r in rows]

    def add(self, email: str, lang: str, scopes: Scopes, when: str, status: str = "active",
            resubscribe: bool = False) -> tuple[str, Subscriber]:
        """-> ('added' | 'exists' | 'unsubscribed' | 'updated', subscriber)."""
        email, key = normalize_email(email)
        existing = self.find(email)
        if existing is not None:
            if existing.status == "unsubscribed" and not resubscribe:
                return "unsubscribed", existing
            if existing.status == "active" or not resubscribe:
                return "exists", existing
            self.db.execute("UPDATE subscribers SET lang = ?, scopes = ?, status = ?, confirmed = ?, unsubscribed = NULL WHERE id = ?",
                            (lang, scopes.to_json(), status, when if status == "active" else None, existing.id))
            return "updated", self.get(existing.id)
        cur = self.db.execute(
            "INSERT INTO subscribers (email, email_key, lang, scopes, status, created, confirmed) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (email, key, lang, scopes.to_json(), status, when, when if status == "active" else None))
        return "added", self.get(cur.lastrowid)

    def confirm(self, subscriber_id: int, when: str) -> None:
        self.db.execute("UPDATE subscribers SET status = 'active', confirmed = COALESCE(confirmed, ?), unsubscribed = NULL "
                        "WHERE id = ? AND status = 'pending'", (when, subscriber_id))

    def unsubscribe(self, subscriber_id: int, when: str) -> None:
        self.db.execute("UPDATE subscribers SET status = 'unsubscribed', unsubscribed = ? WHERE id = ? AND status != 'unsubscribed'",
                        (when, subscriber_id))

    def set_audiences(self, subscriber_id: int, audiences: list[str]) -> None:
        """Editors only (CLI, import): the targeted records this address may receive."""
        self.db.execute("UPDATE subscribers SET audiences = ? WHERE id = ?",
                        (json.dumps(sorted(set(audiences))), subscriber_id))

    def set_preferences(self, subscriber_id: int, lang: str, scopes: Scopes) -> None:
        self.db.execute("UPDATE subscribers SET lang = ?, scopes = ? WHERE id = ?", (lang, scopes.to_json(), subscriber_id))

    # ----------------------------------------------------------------- outbox
    def delivered_map(self) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        for sid, rid in self.db.execute("SELECT subscriber_id, record_id FROM deliveries"):
            out.setdefault(sid, set()).add(rid)
        return out

    def enqueue(self, subscriber: Subscriber, kind: str, message_id: str, raw: bytes, when: str,
                record_ids: list[str] = ()) -> int:
        cur = self.db.execute(
            "INSERT INTO outbox (subscriber_id, email, kind, message_id, raw, status, created) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
            (subscriber.id, subscriber.email, kind, message_id, raw, when))
        self.db.executemany("INSERT INTO deliveries (subscriber_id, record_id, outbox_id) VALUES (?, ?, ?)",
                            [(subscriber.id, rid, cur.lastrowid) for rid in record_ids])
        return cur.lastrowid

    def pending(self, limit: int | None = None) -> list[sqlite3.Row]:
        sql = "SELECT id, email, message_id, raw, attempts FROM outbox WHERE status = 'pending' ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.db.execute(sql).fetchall()

    def next_outbox_id(self) -> int:
        return (self.db.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0] or 0) + 1

    def mark_sent(self, outbox_id: int, when: str) -> None:
        self.db.execute("UPDATE outbox SET status = 'sent', sent = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?", (when, outbox_id))

    def mark_failed(self, outbox_id: int, error: str) -> None:
        self.db.execute("UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?", (error, outbox_id))

    def mark_retry(self, outbox_id: int, error: str) -> None:
        self.db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error, outbox_id))

    # ------------------------------------------------------------- csv
    def export_csv(self, out) -> int:
        writer = csv.writer(out)
        writer.writerow(["email", "lang", "status", *SCOPE_KINDS, "audiences", "created", "confirmed", "unsubscribed"])
        rows = self.all()
        for s in rows:
            writer.writerow([s.email, s.lang, s.status, *(" ".join(getattr(s.scopes, k)) for k in SCOPE_KINDS),
                             " ".join(s.audiences), s.created, s.confirmed or "", s.unsubscribed or ""])
        return len(rows)


class _Transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        return False


