"""Composing digests and confirmations from the theme's mail templates, and
queueing them in the outbox: one transaction per run, so nothing is planned
twice.  Each message has a Message-ID unique across sites and databases that
stays the same on a retry (it is stored with the message)."""
from __future__ import annotations

import datetime as dt
import email.header
import email.policy
import hashlib
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from .. import i18n, markdown
from ..errors import GazetteError
from ..model import Record, Site
from ..render import theme
from ..render.urls import Urls
from .choose import issue_delivery_key, issues_for, mail_candidates, records_for
from .store import Store, Subscriber
from .tokens import Tokens


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
        context = theme.base_context(self.site, lang, self.urls)
        # a mail names one record's type at a time: singular by default
        context.update(type_name=lambda r, p=False: i18n.type_name(r, lang, p), **ctx)
        return self.env.get_template(name).render(context)

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
    text = " ".join(text.split())  # one line: a header phrase never holds a line break
    if text.isascii():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return email.header.Header(text, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def write_dry_run(plan: Plan, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for subscriber, msg in plan.messages:
        (folder / f"{subscriber.id:06d}-{subscriber.email_key.replace('@', '_at_')}.eml").write_bytes(wire_bytes(msg))
    return len(plan.messages)
