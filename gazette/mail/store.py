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
from typing import TYPE_CHECKING

from ..errors import GazetteError

if TYPE_CHECKING:
    from ..model import Site

SCOPE_KINDS = ("topics", "tags", "issuers", "types")
MATCHES = ("any", "all")
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
  audiences TEXT NOT NULL DEFAULT '[]',
  token_nonce TEXT
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
  sent TEXT,
  claimed_by TEXT,
  claimed_until REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, id);
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
  record_id TEXT NOT NULL,
  outbox_id INTEGER NOT NULL REFERENCES outbox(id),
  PRIMARY KEY (subscriber_id, record_id)
);
"""


_EAI_LOCAL_BAD = set('"(),:;<>@[\\] ')


def normalize_email(value: str) -> tuple[str, str]:
    """-> (address, trimmed, with an internationalised domain in its ASCII
    (punycode) form; comparison key).  Internationalised addresses are
    accepted: 张三@例子.中国 becomes 张三@xn--fsqu00a.xn--fiqs8s, and a
    non-ASCII local part is sent with SMTPUTF8.  Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError("not an email address")
    email = value.strip()
    bad = ValueError(f"'{email[:80]}' is not a valid email address")
    if not email or any(ord(c) < 0x20 or ord(c) == 0x7F for c in email) or "@" not in email:
        raise bad
    local, _, domain = email.rpartition("@")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise bad from None
    if local.isascii():
        candidate = f"{local}@{domain}"
        if not _EMAIL_RE.match(candidate):
            raise bad
    else:
        if (any(c in _EAI_LOCAL_BAD or c.isspace() for c in local) or len(local.encode("utf-8")) > 64
                or not _EMAIL_RE.match(f"x@{domain}")):
            raise bad
        candidate = f"{local}@{domain}"
    if len(candidate.encode("utf-8")) > 254:
        raise bad
    return candidate, candidate.lower()


@dataclass
class Scopes:
    """What a subscriber asked for.  Records: everything (`all`), or those that
    match the chosen topics, tags, issuers and types: any of them (`match:
    any`, the default), or one of each kind chosen (`match: all`, e.g.
    appointments from this issuer).  `issues`: also each new gazette issue."""

    all: bool = True
    topics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    issuers: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    match: str = "any"
    issues: bool = False

    @classmethod
    def of(cls, match: str = "any", issues: bool = False, **kinds) -> "Scopes":
        if match not in MATCHES:
            raise ValueError(f"match must be one of {', '.join(MATCHES)}, not {match!r}")
        lists = {k: sorted(set(kinds.get(k) or [])) for k in SCOPE_KINDS}
        # ticking nothing means everything; ticking only "issues" means issues only
        return cls(all=not any(lists.values()) and not issues, match=match, issues=bool(issues), **lists)

    def to_json(self) -> str:
        return json.dumps({"all": self.all, "match": self.match, "issues": self.issues,
                           **{k: getattr(self, k) for k in SCOPE_KINDS}}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Scopes":
        data = json.loads(text)
        match = data.get("match") if data.get("match") in MATCHES else "any"
        return cls(all=bool(data.get("all")), match=match, issues=bool(data.get("issues")),
                   **{k: list(data.get(k) or []) for k in SCOPE_KINDS})

    def describe(self) -> str:
        parts = ["all"] if self.all else [f"{k}: {' '.join(getattr(self, k))}" for k in SCOPE_KINDS if getattr(self, k)]
        if self.match == "all" and sum(bool(getattr(self, k)) for k in SCOPE_KINDS) > 1:
            parts.append("matching all of them")
        if self.issues:
            parts.append("new issues")
        return "; ".join(parts)


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
    # random, changed on every unsubscribe and re-subscribe: links signed with an
    # earlier nonce stop working (tokens carry the id and this, never the address)
    token_nonce: str = ""

    @classmethod
    def from_row(cls, row) -> "Subscriber":
        return cls(row["id"], row["email"], row["email_key"], row["lang"], Scopes.from_json(row["scopes"]),
                   row["status"], row["created"], row["confirmed"], row["unsubscribed"],
                   sorted(json.loads(row["audiences"] or "[]")), row["token_nonce"] or "")


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
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise GazetteError(f"cannot open the subscriber database {self.path}: {exc}") from None

    def _migrate(self) -> None:
        """Columns added since the first release, for databases made before them."""
        added = {"subscribers": [("audiences", "TEXT NOT NULL DEFAULT '[]'"), ("token_nonce", "TEXT")],
                 "outbox": [("claimed_by", "TEXT"), ("claimed_until", "REAL")]}
        for table, columns in added.items():
            have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            for name, decl in columns:
                if name not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
        # every subscriber has a nonce before any link is signed for them
        self.db.execute("UPDATE subscribers SET token_nonce = lower(hex(randomblob(8))) "
                        "WHERE token_nonce IS NULL OR token_nonce = ''")
        # this database's own random name: Message-IDs made here are unique across databases
        self.db.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('instance', lower(hex(randomblob(16))))")

    @property
    def instance(self) -> str:
        return self.db.execute("SELECT value FROM settings WHERE key = 'instance'").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self):
        return _Transaction(self.db)

    # ------------------------------------------------------------ subscribers
    def get(self, subscriber_id: int) -> Subscriber | None:
        row = self.db.execute("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
        if row is not None and not row["token_nonce"]:
            self.rotate_nonce(subscriber_id)
            row = self.db.execute("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
        return Subscriber.from_row(row) if row else None

    def rotate_nonce(self, subscriber_id: int) -> None:
        import secrets

        self.db.execute("UPDATE subscribers SET token_nonce = ? WHERE id = ?", (secrets.token_hex(8), subscriber_id))

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
            self.rotate_nonce(existing.id)
            return "updated", self.get(existing.id)
        import secrets

        cur = self.db.execute(
            "INSERT INTO subscribers (email, email_key, lang, scopes, status, created, confirmed, token_nonce) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (email, key, lang, scopes.to_json(), status, when, when if status == "active" else None, secrets.token_hex(8)))
        return "added", self.get(cur.lastrowid)

    def confirm(self, subscriber_id: int, when: str) -> None:
        self.db.execute("UPDATE subscribers SET status = 'active', confirmed = COALESCE(confirmed, ?), unsubscribed = NULL "
                        "WHERE id = ? AND status = 'pending'", (when, subscriber_id))

    def unsubscribe(self, subscriber_id: int, when: str) -> None:
        self.db.execute("UPDATE subscribers SET status = 'unsubscribed', unsubscribed = ? WHERE id = ? AND status != 'unsubscribed'",
                        (when, subscriber_id))
        self.rotate_nonce(subscriber_id)

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

    def claim(self, outbox_id: int, owner: str, now: float, lease: float) -> bool:
        """Take a pending message for sending.  Only one sender holds it at a
        time: a claim ends when its holder marks the message, releases it, dies
        (local holders are checked) or lets the lease run out."""
        row = self.db.execute("SELECT claimed_by, claimed_until FROM outbox WHERE id = ? AND status = 'pending'",
                              (outbox_id,)).fetchone()
        if row is None:
            return False
        holder = row["claimed_by"]
        if holder and holder != owner and (row["claimed_until"] or 0) > now and _holder_alive(holder):
            return False
        cur = self.db.execute("UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ? AND status = 'pending' "
                              "AND (claimed_by IS ? OR claimed_by = ?)", (owner, now + lease, outbox_id, holder, owner))
        return cur.rowcount == 1

    def pending_counts(self, owner: str, now: float) -> tuple[int, int]:
        """-> (pending and free or ours, pending and held by another live sender)."""
        free = held = 0
        for row in self.db.execute("SELECT claimed_by, claimed_until FROM outbox WHERE status = 'pending'"):
            holder = row["claimed_by"]
            if holder and holder != owner and (row["claimed_until"] or 0) > now and _holder_alive(holder):
                held += 1
            else:
                free += 1
        return free, held

    def release(self, owner: str) -> None:
        self.db.execute("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ? AND status = 'pending'", (owner,))

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
        writer.writerow(["email", "lang", "status", *SCOPE_KINDS, "match", "issues", "audiences", "created", "confirmed",
                         "unsubscribed"])
        rows = self.all()
        for s in rows:
            writer.writerow([s.email, s.lang, s.status, *(" ".join(getattr(s.scopes, k)) for k in SCOPE_KINDS),
                             s.scopes.match, "yes" if s.scopes.issues else "", " ".join(s.audiences), s.created,
                             s.confirmed or "", s.unsubscribed or ""])
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


def claim_owner() -> str:
    """host:pid:start of this process: a claim's holder, checkable for liveness."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _holder_alive(holder: str) -> bool:
    """False only when the holder is a process of this host that is gone."""
    import socket

    host, _, rest = holder.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: trust its lease
    if start == "?":  # no /proc: is the process there at all?
        import os

        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return _start_time(int(pid)) == start


# ------------------------------------------------------------- location
def database_path(site: "Site") -> Path:
    path = Path(site.config.subscriptions.database)
    return path if path.is_absolute() else site.root / path


def open_store(site: "Site", create: bool = True) -> Store:
    """The subscriber database; create=False for commands that only read it."""
    path = database_path(site).resolve()
    out = (site.root / "output").resolve()
    if out == path or out in path.parents:
        raise GazetteError(f"subscriptions.database ({path}) is inside the published output; keep it outside")
    return Store(path, create=create)
