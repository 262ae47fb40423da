"""RSS 2.0 and Atom feeds (feedgen) for the site and every topic, tag,
issuer and record type, in each language that has content; and an OPML list.

Entry ids derive from the record id only (a tag: URI), so they survive title
and URL changes.  Dates are midnight of the publication day in the site's
time zone; a feed's own date is its newest entry's, so a rebuild of the same
content gives the same bytes.
"""
from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo

from feedgen.feed import FeedGenerator

from .. import i18n, markdown
from ..model import Issue, Record, Site
from ..schema import RECORD_TYPES
from .urls import Urls

EPOCH_ID_DATE = "2000"


@dataclass
class Feed:
    lang: str
    kind: str  # all, topics, tags, issuers, types; or issues (gazette issues, not records)
    key: str | None
    title: str
    records: list[Record]
    page: str  # the listing page it belongs to
    issues: list[Issue] = field(default_factory=list)  # kind "issues": newest first

    def base(self, urls: Urls) -> str:
        scope = self.kind if self.kind in ("all", "issues") else f"{self.kind}/{self.key}"
        return f"{urls.prefix(self.lang)}feeds/{scope}/"

    def rss(self, urls: Urls) -> str:
        return self.base(urls) + "rss.xml"

    def atom(self, urls: Urls) -> str:
        return self.base(urls) + "atom.xml"


def entry_id(site: Site, record_id: str, lang: str) -> str:
    host = urlsplit(site.config.base_url).hostname or "gazette"
    suffix = "" if lang == site.default_lang else f":{lang}"
    return f"tag:{host},{EPOCH_ID_DATE}:record:{record_id}{suffix}"


def feeds(site: Site, urls: Urls) -> list[Feed]:
    """Every feed, in every language where it has at least one record."""
    out = []
    size = site.config.feed_size
    groups = {(kind, key): records for kind, by_key in site.groups.items() for key, records in by_key.items()}
    for lang in site.languages:
        def in_lang(records):
            if lang == site.default_lang:
                return records[:size]
            chosen = []
            for r in records:
                if r.has(lang):
                    chosen.append(r)
                    if len(chosen) == size:
                        break
            return chosen

        title = site.text(site.config.title, lang)
        scopes = [("all", None, title, site.public, urls.home(lang))]
        for name in ("topics", "tags", "issuers"):
            for key, entry in sorted(site.taxonomies.get(name, {}).items()):
                scopes.append((name, key, f"{site.text(entry.name, lang)} - {title}", groups.get((name, key), []),
                               urls.taxonomy(name, key, lang)))
        for rtype in RECORD_TYPES:
            scopes.append(("types", rtype, f"{i18n.type_name(rtype, lang)} - {title}", groups.get(("types", rtype), []),
                           urls.type_(rtype, lang)))
        for kind, key, feed_title, records, page in scopes:
            chosen = in_lang(records)
            if chosen:
                out.append(Feed(lang, kind, key, feed_title, chosen, page))
        if site.issues:  # a new issue is an entry, with its PDF
            issues = sorted(site.issues, key=lambda i: (i.published, i.key), reverse=True)[:size]
            out.append(Feed(lang, "issues", None, f"{i18n.t('issues', lang)} - {title}", [], urls.issue(None, lang), issues))
    return out


def _keys(record: Record, taxonomy: str) -> list[str]:
    meta = record.meta
    return {"topics": meta.topics, "tags": meta.tags, "issuers": meta.issuers}[taxonomy]


def _when(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def summary(record: Record, lang: str) -> str:
    edition = record.editions.get(lang) or record.editions[next(iter(record.editions))]
    return edition.summary or markdown.plain_text(edition.body_html, 200) or record.title(lang)


def _generator(feed: Feed, site: Site, urls: Urls, newest_day: dt.date) -> FeedGenerator:
    """A feed's head: id, title, language, publisher; its date is its newest entry's."""
    fg = FeedGenerator()
    fg.id(f"tag:{urlsplit(site.config.base_url).hostname or 'gazette'},{EPOCH_ID_DATE}:feed:{feed.base(urls)}")
    fg.title(feed.title)
    fg.language(feed.lang)
    fg.description(feed.title)
    fg.subtitle(feed.title)
    if site.config.publisher:
        fg.author({"name": site.text(site.config.publisher, feed.lang)})
    fg.generator("gazette")
    newest = _when(newest_day, ZoneInfo(site.config.timezone))
    fg.updated(newest)
    fg.lastBuildDate(newest)
    return fg


def render(feed: Feed, site: Site, urls: Urls, issue_pdfs=None) -> tuple[bytes, bytes]:
    """(RSS, Atom).  `issue_pdfs(issue, lang)` -> (absolute URL, size in bytes)
    or None: the PDF an issue's entry encloses (released issues)."""
    if feed.kind == "issues":
        return _render_issues(feed, site, urls, issue_pdfs or (lambda issue, lang: None))
    tz = ZoneInfo(site.config.timezone)
    lang = feed.lang
    fg = _generator(feed, site, urls, feed.records[0].published if feed.records else site.build_date)
    for record in feed.records:  # newest first
        entry = fg.add_entry(order="append")
        has = record.has(lang)
        link = urls.absolute(urls.record(record.id, lang if has else site.default_lang))
        entry.id(entry_id(site, record.id, lang))
        entry.guid(entry_id(site, record.id, lang), permalink=False)
        title = record.title(lang)
        if not has:
            title += f" ({i18n.t('chinese_only', lang)})"
        entry.title(title)
        entry.link(href=link)
        # Atom: the summary is plain text (type="text"), escaped once by feedgen.
        entry.summary(summary(record, lang))
        when = _when(record.published, tz)
        entry.published(when)
        entry.updated(when)
        for name in ("topics", "tags"):
            for key in _keys(record, name):
                tax = site.taxonomies.get(name, {}).get(key)
                if tax:
                    entry.category(term=key, label=site.text(tax.name, lang))
    page = {"href": urls.absolute(feed.page), "rel": "alternate"}  # the last link is RSS's <link>
    fg.link([{"href": urls.absolute(feed.atom(urls)), "rel": "self", "type": "application/atom+xml"}, page], replace=True)
    atom = fg.atom_str(pretty=True)
    # RSS: readers treat <description> as HTML, so the plain-text summary is
    # HTML-escaped before feedgen escapes it for XML: `<img onerror=…>` in a
    # record stays text in every reader.  (Set after the Atom feed is written:
    # feedgen would copy it into Atom's <content>.)
    for entry, record in zip(fg.entry(), feed.records):
        entry.description(html.escape(summary(record, lang), quote=False))
    fg.link([{"href": urls.absolute(feed.rss(urls)), "rel": "self", "type": "application/rss+xml"}, page], replace=True)
    rss = fg.rss_str(pretty=True)
    return rss, atom


def _render_issues(feed: Feed, site: Site, urls: Urls, issue_pdfs) -> tuple[bytes, bytes]:
    tz = ZoneInfo(site.config.timezone)
    lang = feed.lang
    host = urlsplit(site.config.base_url).hostname or "gazette"
    fg = _generator(feed, site, urls, feed.issues[0].published if feed.issues else site.build_date)
    texts = []
    for issue in feed.issues:
        entry = fg.add_entry(order="append")
        entry.id(f"tag:{host},{EPOCH_ID_DATE}:issue:{issue.key}{'' if lang == site.default_lang else ':' + lang}")
        entry.guid(f"tag:{host},{EPOCH_ID_DATE}:issue:{issue.key}{'' if lang == site.default_lang else ':' + lang}", permalink=False)
        label = i18n.t("issue_title", lang, year=issue.year, number=issue.number)
        entry.title(f"{label} · {site.text(issue.title, lang)}" if issue.title else label)
        entry.link(href=urls.absolute(urls.issue(issue.key, lang)))
        titles = [r.title(lang) for r in issue.records]
        text = f"{i18n.t('records_count', lang, n=len(titles))}{i18n.t('colon', lang)}" + i18n.t("sep", lang).join(titles)
        texts.append(text)
        entry.summary(text)
        pdf = issue_pdfs(issue, lang)
        if pdf:
            entry.enclosure(pdf[0], str(pdf[1]), "application/pdf")
        when = _when(issue.published, tz)
        entry.published(when)
        entry.updated(when)
    page = {"href": urls.absolute(feed.page), "rel": "alternate"}
    fg.link([{"href": urls.absolute(feed.atom(urls)), "rel": "self", "type": "application/atom+xml"}, page], replace=True)
    atom = fg.atom_str(pretty=True)
    for entry, text in zip(fg.entry(), texts):
        entry.description(html.escape(text, quote=False))
    fg.link([{"href": urls.absolute(feed.rss(urls)), "rel": "self", "type": "application/rss+xml"}, page], replace=True)
    return fg.rss_str(pretty=True), atom


def opml(feeds_in_lang: list[Feed], site: Site, urls: Urls, lang: str) -> bytes:
    title = site.text(site.config.title, lang)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"<head><title>{_esc(title)}</title></head>", "<body>"]
    for feed in feeds_in_lang:
        lines.append(f'<outline type="rss" text={quoteattr(feed.title)} title={quoteattr(feed.title)} '
                     f'xmlUrl={quoteattr(urls.absolute(feed.rss(urls)))} htmlUrl={quoteattr(urls.absolute(feed.page))}/>')
    lines += ["</body>", "</opml>"]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
