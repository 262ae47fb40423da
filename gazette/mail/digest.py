"""Digests: choose records per subscriber, compose the messages, queue them in
the outbox (one transaction), and deliver the outbox over SMTP.

Exactly once: a record is queued for a subscriber once (`deliveries`), and
every queued message stays pending until the server has accepted it; a rerun
after a failure, a dropped connection or a killed process sends what is
pending and plans nothing twice.  Each message has a stable Message-ID.
"""
from __future__ import annotations

import csv
import email.header
import email.policy
import hashlib
import datetime as dt
import os
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .. import i18n, markdown
from ..errors import GazetteError
from ..model import Record, Site
from ..progress import NO_PROGRESS, Progress
from ..render import theme
from ..render.urls import Urls
from ..resolve import is_mailable_targeted
from .store import SCOPE_KINDS, Scopes, Store, Subscriber, claim_owner, normalize_email

CONFIRM_MAX_AGE = 7 * 24 * 3600


# ------------------------------------------------------------------ settings
def database_path(site: Site) -> Path:
    path = Path(site.config.subscriptions.database)
    return path if path.is_absolute() else site.root / path


def open_store(site: Site, create: bool = True) -> Store:
    """The subscriber database; create=False for commands that only read it."""
    path = database_path(site).resolve()
    out = (site.root / "output").resolve()
    if out == path or out in path.parents:
        raise GazetteError(f"subscriptions.database ({path}) is inside the published output; keep it outside")
    return Store(path, create=create)


MIN_SECRET_LENGTH = 32


def check_secret(name: str, value: str) -> str:
    """A signing secret strong enough that links cannot be forged: at least 32
    characters and not a repetition of a few (e.g. `python3 -c "import secrets;
    print(secrets.token_urlsafe(32))"`)."""
    if len(value) < MIN_SECRET_LENGTH or len(set(value)) < 10:
        raise GazetteError(f"set the environment variable {name} to a random secret of at least {MIN_SECRET_LENGTH} "
                           "characters (e.g. the output of: python3 -c \"import secrets; print(secrets.token_urlsafe(32))\"): "
                           "it signs the links in emails (unsubscribe, confirm, preferences)")
    return value


# links in --dry-run messages are signed with this, which no service accepts
DRY_RUN_SECRET = "gazette-dry-run-placeholder-links-do-not-work"


def secret(site: Site) -> str:
    name = site.config.subscriptions.secret_env
    return check_secret(name, os.environ.get(name, ""))


LINK_MAX_AGE = 400 * 24 * 3600  # unsubscribe and preference links in mails keep working for a year and more


class Tokens:
    """Signed, expiring links.  A token carries the subscriber's id and their
    current nonce, not the address; the nonce changes on every unsubscribe and
    re-subscribe, so links from before stop working."""

    def __init__(self, secret_key: str):
        self.links = URLSafeTimedSerializer(secret_key, salt="gazette-subscriber-v2")
        self.confirms = URLSafeTimedSerializer(secret_key, salt="gazette-confirm-v2")

    def make(self, subscriber: Subscriber) -> str:
        return self.links.dumps([subscriber.id, subscriber.token_nonce])

    def make_confirm(self, subscriber: Subscriber) -> str:
        return self.confirms.dumps([subscriber.id, subscriber.token_nonce])

    def read(self, token: str, store: Store, confirm: bool = False) -> Subscriber | None:
        import hmac

        try:
            serializer, age = (self.confirms, CONFIRM_MAX_AGE) if confirm else (self.links, LINK_MAX_AGE)
            sid, nonce = serializer.loads(token, max_age=age)
        except (BadSignature, ValueError, TypeError):
            return None
        subscriber = store.get(int(sid)) if isinstance(sid, int) else None
        if subscriber is None or not isinstance(nonce, str) or not hmac.compare_digest(subscriber.token_nonce, nonce):
            return None
        return subscriber


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


# ----------------------------------------------------------------- compose
@dataclass
class Composer:
    site: Site
    tokens: Tokens
    builtin_theme: Path
    instance: str = "dry-run"  # the subscriber database's instance name (Store.instance)
    env: jinja2.Environment = field(init=False)

    def __post_init__(self):
        self.env = theme.environment(self.site.root, self.site.config.theme, self.builtin_theme,
                                     autoescape=jinja2.select_autoescape(["html"]))
        self.urls = Urls(self.site.languages, self.site.config.base_url)
        self.host = urlsplit(self.site.config.base_url).hostname or "gazette.invalid"

    def service(self, path: str, token: str) -> str:
        base = self.site.config.subscriptions.service_url
        if not base:
            raise GazetteError("subscriptions.service_url is not set in gazette.yaml: digests need it for their "
                               "unsubscribe and preference links")
        return f"{base}{path}?token={token}"

    def message_id(self, kind: str, outbox_id: int) -> str:
        """Unique across sites and databases (the database's random instance name
        and the outbox row), and the same on every retry: the message is stored
        in the outbox with it and resent byte for byte."""
        digest = hashlib.sha256(f"{self.instance}:{kind}:{outbox_id}".encode()).hexdigest()[:32]
        return f"<{digest}.{kind}@{self.host}>"

    def _lang(self, subscriber: Subscriber) -> str:
        return subscriber.lang if subscriber.lang in self.site.languages else self.site.default_lang

    def _base(self, subscriber: Subscriber, subject: str, message_id: str) -> EmailMessage:
        conf = self.site.config.subscriptions
        lang = self._lang(subscriber)
        msg = EmailMessage(policy=_SMTP)
        name = self.site.text(conf.sender_name, lang) if conf.sender_name else self.site.text(self.site.config.title, lang)
        local, _, domain = conf.sender.rpartition("@")
        msg["From"] = Address(display_name=name, username=local, domain=domain)
        msg["To"] = subscriber.email
        msg["Subject"] = subject
        msg["Date"] = format_datetime(self.site.build_time)
        msg["Message-ID"] = message_id
        if conf.reply_to:
            msg["Reply-To"] = conf.reply_to
        return msg

    def _render(self, name: str, **ctx) -> str:
        lang = ctx["lang"]
        ctx.update(t=lambda key, **kw: i18n.t(key, lang, **kw), L=lambda v: self.site.text(v, lang),
                   date=lambda d: i18n.format_date(d, lang), type_name=lambda r, p=False: i18n.type_name(r, lang, p),
                   site=self.site)
        return self.env.get_template(name).render(ctx)

    def digest(self, subscriber: Subscriber, records: list[Record], outbox_id: int, issues: list | None = None) -> EmailMessage:
        lang = self._lang(subscriber)
        token = self.tokens.make(subscriber)
        items = []
        for r in records:
            has = r.has(lang)
            ed = r.editions[lang if has else self.site.default_lang]
            targeted = r.meta.disclosure == "targeted"
            items.append({
                "record": r, "title": ed.title, "fallback": not has, "targeted": targeted,
                "url": None if targeted else self.urls.absolute(self.urls.record(r.id, lang if has else self.site.default_lang)),
                "summary": ed.summary or markdown.plain_text(ed.body_html, 160),
                "text": markdown.plain_text(ed.body_html) if targeted else None,
                "body_html": markdown.drop_file_images(ed.body_html) if targeted else None,
            })
        unsubscribe = self.service("unsubscribe", token)
        manage = self.service("manage", token)
        new_issues = [{"label": i18n.t("issue_title", lang, year=i.year, number=i.number),
                       "title": self.site.text(i.title, lang) if i.title else "",
                       "count": i18n.t("records_count", lang, n=len(i.records)),
                       "url": self.urls.absolute(self.urls.issue(i.key, lang))} for i in issues or []]
        ctx = dict(lang=lang, items=items, issues=new_issues, unsubscribe=unsubscribe, manage=manage, subscriber=subscriber)
        title = self.site.text(self.site.config.title, lang)
        if records:
            subject = i18n.t("digest_subject", lang, title=title, n=len(records))
        else:
            subject = i18n.t("issue_subject", lang, title=title, label="、".join(i["label"] for i in new_issues)
                             if lang.startswith("zh") else ", ".join(i["label"] for i in new_issues))
        msg = self._base(subscriber, subject, self.message_id("digest", outbox_id))
        # RFC 2369 / 8058: a URI in angle brackets, never an encoded-word (wire_bytes writes it as is)
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        # RFC 2919: only the phrase may be encoded; the list id itself stays plain
        msg["List-Id"] = f"{_phrase(title)} <digest.{self.host}>"
        msg.set_content(self._render("mail/digest.txt", **ctx), cte="base64")
        msg.add_alternative(self._render("mail/digest.html", **ctx), subtype="html", cte="base64")
        msg["Content-Language"] = lang  # after the parts: making them moves Content-* headers into the first
        return msg

    def confirmation(self, subscriber: Subscriber, outbox_id: int) -> EmailMessage:
        lang = self._lang(subscriber)
        ctx = dict(lang=lang, confirm=self.service("confirm", self.tokens.make_confirm(subscriber)),
                   manage=self.service("manage", self.tokens.make(subscriber)), subscriber=subscriber)
        title = self.site.text(self.site.config.title, lang)
        msg = self._base(subscriber, i18n.t("confirm_subject", lang, title=title), self.message_id("confirm", outbox_id))
        msg.set_content(self._render("mail/confirm.txt", **ctx), cte="base64")
        msg.add_alternative(self._render("mail/confirm.html", **ctx), subtype="html", cte="base64")
        msg["Content-Language"] = lang
        return msg


# ------------------------------------------------------------------- plan
@dataclass
class Plan:
    queued: int = 0
    subscribers: int = 0  # active subscribers looked at
    messages: list[tuple[Subscriber, EmailMessage]] = field(default_factory=list)


def plan_digests(site: Site, store: Store, composer: Composer, dry_run: bool = False,
                 backfill: dt.date | None = None) -> Plan:
    """Queue one digest per subscriber with something new, all in one transaction."""
    candidates = mail_candidates(site)
    plan = Plan()
    when = site.build_time.isoformat()
    with store.transaction():
        # read inside the (IMMEDIATE) transaction: a second planner waits for the
        # first and then sees what it queued, so nothing is queued twice
        delivered = store.delivered_map()
        next_id = store.next_outbox_id()
        for subscriber in store.all("active"):
            plan.subscribers += 1
            had = delivered.get(subscriber.id, set())
            records = records_for(subscriber, candidates, had, backfill)
            issues = issues_for(subscriber, site.issues, had, backfill)
            if not records and not issues:
                continue
            msg = composer.digest(subscriber, records, next_id, issues)
            if dry_run:
                plan.messages.append((subscriber, msg))
                next_id += 1
                continue
            sent = [r.id for r in records] + [issue_delivery_key(i) for i in issues]
            next_id = store.enqueue(subscriber, "digest", msg["Message-ID"], wire_bytes(msg), when, sent) + 1
            plan.queued += 1
    return plan


def queue_confirmation(site: Site, store: Store, composer: Composer, subscriber: Subscriber) -> int:
    with store.transaction():
        next_id = store.next_outbox_id()
        msg = composer.confirmation(subscriber, next_id)
        return store.enqueue(subscriber, "confirm", msg["Message-ID"], wire_bytes(msg), site.build_time.isoformat())


def wire_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes over SMTP: CRLF line ends, folded headers; UTF-8
    headers (SMTPUTF8) only for an address with a non-ASCII local part.  The
    list headers are written as they are: folding a long URI would turn it into
    an encoded-word that mail clients do not read as a URI."""
    utf8 = not str(msg["To"]).isascii()
    return msg.as_bytes(policy=_SMTPUTF8 if utf8 else _SMTP)


_VERBATIM = {"list-unsubscribe", "list-unsubscribe-post", "list-id"}


class _ListHeadersPolicy(email.policy.EmailPolicy):
    """SMTP's policy, except that the list headers are stored and written as
    given (ASCII, already encoded where RFC 2047 allows it)."""

    def header_store_parse(self, name, value):
        if name.lower() in _VERBATIM and isinstance(value, str) and value.isascii():
            if "\n" in value.replace("\r\n ", "") or "\r" in value.replace("\r\n ", ""):
                raise ValueError(f"{name} holds a line break")
            return name, value
        return super().header_store_parse(name, value)

    def fold_binary(self, name, value):
        if name.lower() in _VERBATIM and not hasattr(value, "name"):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_SMTP = _ListHeadersPolicy(linesep="\r\n")
_SMTPUTF8 = _ListHeadersPolicy(linesep="\r\n", utf8=True)


def _phrase(text: str) -> str:
    """A display phrase for a structured header: RFC 2047 encoded-words when not
    ASCII (folded with CRLF SP between words), else a quoted string."""
    if text.isascii():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return email.header.Header(text, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def write_dry_run(plan: Plan, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for subscriber, msg in plan.messages:
        (folder / f"{subscriber.id:06d}-{subscriber.email_key.replace('@', '_at_')}.eml").write_bytes(wire_bytes(msg))
    return len(plan.messages)


# ---------------------------------------------------------------- deliver
@dataclass
class Report:
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    pending: int = 0  # still to send, and no other sender is on it
    elsewhere: int = 0  # pending, but being sent by another process right now
    connection_error: str | None = None


class Smtp:
    def __init__(self, site: Site):
        self.conf = site.config.subscriptions.smtp
        self.client: smtplib.SMTP | None = None

    def connect(self) -> smtplib.SMTP:
        conf = self.conf
        if conf.security == "ssl":
            client = smtplib.SMTP_SSL(conf.host, conf.port, timeout=conf.timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(conf.host, conf.port, timeout=conf.timeout)
            if conf.security == "starttls":
                client.starttls(context=ssl.create_default_context())
        if conf.user:
            password = os.environ.get(conf.password_env)
            if password is None:
                raise GazetteError(f"SMTP user {conf.user} is set: put the password in the environment variable {conf.password_env}")
            client.login(conf.user, password)
        self.client = client
        return client

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.client = None


TEMPORARY = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError, socket.timeout,
             ConnectionError, OSError)


def deliver(site: Site, store: Store, sender_address: str | None = None, sleep=time.sleep,
            progress: Progress = NO_PROGRESS) -> Report:
    """Send every pending message; commit each as soon as the server accepts it."""
    conf = site.config.subscriptions
    smtp = Smtp(site)
    report = Report()
    envelope_from = sender_address or conf.sender
    retries: dict[int, int] = {}
    task = None
    finished = 0
    owner = claim_owner()
    lease = max(600.0, 4 * conf.smtp.timeout)
    try:
        queue = list(store.pending())
        task = progress.task("delivering mail", len(queue), "messages")
        connect_failures = 0
        while queue:
            done = report.sent + len(report.failed)
            if done > finished:
                task.advance(done - finished)
                finished = done
            row = queue[0]
            if not store.claim(row["id"], owner, time.time(), lease):
                queue.pop(0)  # another sender (mail send, the service's worker) has it, or it went out
                continue
            if smtp.client is None:
                try:
                    smtp.connect()
                    connect_failures = 0
                except TEMPORARY + (smtplib.SMTPException,) as exc:
                    connect_failures += 1
                    if connect_failures > conf.retries:
                        report.connection_error = f"cannot reach the SMTP server {conf.smtp.host}:{conf.smtp.port}: {exc}"
                        break
                    sleep(conf.backoff * (2 ** (connect_failures - 1)))
                    continue
            try:
                client = smtp.client
                options = [] if row["email"].isascii() else ["SMTPUTF8"]
                refused = client.sendmail(envelope_from, [row["email"]], row["raw"], mail_options=options)
                if refused:
                    raise smtplib.SMTPRecipientsRefused(refused)
                store.mark_sent(row["id"], dt.datetime.now(dt.timezone.utc).isoformat())
                report.sent += 1
                queue.pop(0)
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                queue.pop(0)
                _fail_or_retry(store, report, retries, row, code, text, queue, conf, sleep, smtp)
            except smtplib.SMTPResponseException as exc:
                queue.pop(0)
                _fail_or_retry(store, report, retries, row, exc.smtp_code, exc.smtp_error, queue, conf, sleep, smtp)
            except GazetteError:
                raise
            except TEMPORARY as exc:
                smtp.client = None
                queue.pop(0)
                _fail_or_retry(store, report, retries, row, 421, str(exc) or type(exc).__name__, queue, conf, sleep, smtp)
    finally:
        smtp.close()
        store.release(owner)
        if task is not None:
            task.advance(max(0, report.sent + len(report.failed) - finished))
            task.close()
    report.pending, report.elsewhere = store.pending_counts(owner, time.time())
    return report


def _fail_or_retry(store, report, retries, row, code, text, queue, conf, sleep, smtp) -> None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    error = f"{code} {text}".strip()
    if 500 <= int(code) < 600:
        store.mark_failed(row["id"], error)
        report.failed.append((row["email"], error))
        return
    store.mark_retry(row["id"], error)
    n = retries.get(row["id"], 0) + 1
    retries[row["id"]] = n
    if n <= conf.retries:
        smtp.close()
        sleep(conf.backoff * (2 ** (n - 1)))
        queue.insert(0, row)
    # else: stays pending for the next run


# ----------------------------------------------------------------- import
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
            try:
                email, _ = normalize_email(row.get("email") or "")
            except ValueError as exc:
                report.errors.append((line, str(exc)))
                continue
            lang = (row.get("lang") or site.default_lang).strip()
            if lang not in site.languages:
                report.errors.append((line, f"language '{lang}' is not configured"))
                continue
            try:
                scopes = Scopes.of(match=(row.get("match") or "any").strip(), issues=_yes(row.get("issues")),
                                   **{k: (row.get(k) or "").split() for k in SCOPE_KINDS})
            except ValueError as exc:
                report.errors.append((line, str(exc)))
                continue
            audiences = (row.get("audiences") or "").split()
            problems = validate_scopes(site, scopes) + validate_audiences(site, audiences)
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


