"""HTML pages: record pages, listings, issues, home, 404, in every language."""
from __future__ import annotations

import datetime as dt
import functools
import json
import os
from dataclasses import dataclass, field
from collections.abc import Sequence
from pathlib import Path
from typing import Iterator

from markupsafe import Markup, escape

from .. import i18n, markdown
from ..model import Issue, Record, Site
from ..schema import RECORD_TYPES
from . import theme
from .theme import template_errors
from .urls import Urls



TAXONOMY_PAGES = ("topics", "tags", "issuers")

# What a list entry's link is while the entry is rendered for the cache
# (record_items_once): each page puts its own relative URL in its place.
# Private-use characters, left as they are by HTML escaping.
_LINK_MARK = "\ue000gazette-link\ue001"


@dataclass
class Page:
    path: str  # "" (home), "records/x/", "404.html", ...
    lang: str
    template: str
    title: str
    ctx: dict = field(default_factory=dict)
    alternates: dict[str, str] = field(default_factory=dict)  # lang -> path of the same page
    lastmod: dt.date | None = None
    in_sitemap: bool = True
    # "site": links relative to the page; "service": a page of the subscription
    # service, on its own origin: links to the site absolute, static/ its own
    links: str = "site"










def pager_window(n: int, total: int, around: int = 2) -> list[int | None]:
    """Page numbers a pager shows on page n of total: the first, the last and
    `around` either side of n, None where pages are left out (a gap of one
    page shows that page instead).  Linear in the number of pages, where
    linking every page from every page is quadratic."""
    shown = sorted({1, total, *range(max(1, n - around), min(total, n + around) + 1)})
    out: list[int | None] = []
    last = 0
    for i in shown:
        if i - last == 2:
            out.append(last + 1)
        elif i - last > 2:
            out.append(None)
        out.append(i)
        last = i
    return out


@dataclass(frozen=True)
class PagerPages(Sequence):
    """Every page of a listing as (number, path), made when a template asks
    (the built-in theme shows `pager.window`): a list of them on every page
    made each listing quadratic, in its building and in its pages' keys."""

    base: str
    total: int

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index: int) -> tuple[int, str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.total))]
        if index < 0:
            index += self.total
        if not 0 <= index < self.total:
            raise IndexError(index)
        return index + 1, Urls.paged(self.base, index + 1)

    def __iter__(self):
        return (self[i] for i in range(self.total))


class ByType(Sequence):
    """A listing page's records by type, in the order of types, as (type,
    records) pairs: made when a template asks (only listings that group by
    type do)."""

    __slots__ = ("_records", "_groups")

    def __init__(self, records: list[Record]):
        self._records = records
        self._groups: list | None = None

    def _made(self) -> list[tuple[str, list[Record]]]:
        if self._groups is None:
            groups: dict[str, list[Record]] = {}
            for record in self._records:
                groups.setdefault(record.meta.type, []).append(record)
            self._groups = [(t, groups[t]) for t in RECORD_TYPES if t in groups]
        return self._groups

    def __len__(self) -> int:
        return len(self._made())

    def __getitem__(self, index):
        return self._made()[index]


class HtmlRenderer:
    @staticmethod
    def urls_for(site: Site) -> Urls:
        return Urls(site.languages, site.config.base_url)

    def __init__(self, site: Site, builtin_theme: Path, pdf: bool = False, search: bool = True, feed_list=None):
        """`feed_list`: the site's feeds (render.feeds.feeds), made once by the
        pipeline, which also writes them; made here when not given."""
        self.site = site
        self.pdf = pdf
        self.search = search
        self.urls = self.urls_for(site)
        self.env = theme.environment(site.root, site.config.theme, builtin_theme)
        self.env.filters["md"] = lambda text: Markup(markdown.render(text or ""))
        self.env.filters["pagefind_text"] = pagefind_text
        from .feeds import feeds as all_feeds

        self.feeds = feed_list if feed_list is not None else all_feeds(site, self.urls)
        self.feed_of_page = {(f.lang, f.page): f for f in self.feeds}
        self.site_feed = {f.lang: f for f in self.feeds if f.kind == "all"}
        groups = site.groups
        self._by_topic, self._by_tag, self._by_issuer = groups["topics"], groups["tags"], groups["issuers"]
        self._by_year, self._by_type = groups["years"], groups["types"]
        self._type_position: dict[str, int] | None = None  # record id -> place in its type's listing
        # list entries rendered so far, by the built-in macros.html only (a
        # site's own may show anything, the page it is on included)
        self._items: dict = {}
        self._marking = False  # rendering an entry for self._items: record_link gives _LINK_MARK
        self._builtin_macros = os.path.normpath(builtin_theme / "templates" / "macros.html")
        self._template_keys: dict[str, str | None] = {}
        # template source's SHA-256 -> the names it refers to (keys.template_refs): the last build's, and this one's
        self.template_refs: dict[str, list] = {}

    def template_key(self, name: str) -> str | None:
        """keys.template_digest of a page template, once per build."""
        if name not in self._template_keys:
            from ..keys import template_digest

            self._template_keys[name] = template_digest(self.env, name, self.template_refs)
        return self._template_keys[name]

    def template_keys(self) -> None:
        """The key of every page template, before render workers are forked
        (they inherit them, instead of each parsing the templates)."""
        for name in PAGE_TEMPLATES:
            self.template_key(name)


    # ------------------------------------------------------------ helpers
    def context(self, page: Page) -> dict:
        site, urls, lang = self.site, self.urls, page.lang
        default = site.default_lang

        def url(path: str) -> str:
            if page.links == "service":
                return path if path.startswith("static/") else urls.absolute(path)
            if page.path.endswith("404.html"):
                return urls.base_path + path
            return urls.relative(page.path, path)

        def record_link(record: Record) -> dict:
            has = record.has(lang)
            return {
                "url": _LINK_MARK if self._marking else url(urls.record(record.id, lang if has else default)),
                "title": record.title(lang),
                "lang": lang if has else default,
                "fallback": not has,
                "record": record,
            }

        return {
            **theme.base_context(site, lang, urls),
            "page": page,
            "url": url,
            "record_link": record_link,
            "record_items_once": functools.partial(self._record_items, lang, url),
            "file_info": lambda r, rel: theme.file_info(r.path.with_name(r.id) / rel),
            "record_types": RECORD_TYPES,
            "record_pdf": (lambda r, l: url(urls.record_pdf(r.id, l))) if self.pdf else (lambda r, l: None),
            "issue_pdfs": lambda issue: self.issue_pdfs(issue, url, lang),
            "releases": site.releases,
            # a listing's own feed, else the whole site's
            "page_feed": self.feed_of_page.get((lang, page.path)) or self.site_feed.get(lang),
            "history": site.history,
            # a body's images are files of its record's folder, published with its attachments
            "body": lambda edition: Markup(markdown.localize_files(edition.body_html, lambda rid: url(urls.attachment(rid, "")))),
            **page.ctx,
        }

    def _record_items(self, lang: str, url, records: list[Record], show_type, anchor, macro) -> Markup:
        """`record_items_once` of a page in `lang` whose links `url` makes:
        the built-in theme's list entries of records, each rendered once per
        language and options, with a mark where its link goes, which every
        page fills with its own relative URL (a site's own macros.html
        renders every one)."""
        code = getattr(getattr(macro, "_func", None), "__code__", None)  # jinja2's Macro: the template it is in
        if code is None or code.co_filename != self._builtin_macros:
            return Markup("").join(macro(r, show_type, anchor) for r in records)
        if self._items.get("lang") != lang:  # pages come language by language: keep one language's entries
            self._items.clear()
            self._items["lang"] = lang
        urls, default = self.urls, self.site.default_lang
        out = []
        for record in records:
            key = (record.id, bool(show_type), bool(anchor))
            parts = self._items.get(key)
            if parts is None:
                parts = self._items[key] = self._entry_parts(macro, record, show_type, anchor) or False
            if parts:
                target = urls.record(record.id, lang if record.has(lang) else default)
                out += (parts[0], escape(url(target)), parts[1])
            else:  # the mark is in the record's own text: rendered with this page's link
                out.append(str(macro(record, show_type, anchor)))
        return Markup("".join(out))

    def _entry_parts(self, macro, record: Record, show_type, anchor) -> tuple[str, str] | None:
        """A list entry rendered with _LINK_MARK for its link: the HTML before
        and after the mark; None when the mark is not there exactly once."""
        self._marking = True
        try:
            pieces = str(macro(record, show_type, anchor)).split(_LINK_MARK)
        finally:
            self._marking = False
        return (pieces[0], pieces[1]) if len(pieces) == 2 else None

    def issue_pdfs(self, issue: Issue, url, lang: str | None = None) -> dict:
        """Links to an issue's PDFs: every released version, or the current
        rendering.  Each file is {lang, name, href, label}: the site's language
        first, labelled by the language of the PDF in the page's language."""
        import datetime as dt

        site, urls = self.site, self.urls
        lang = lang or site.default_lang
        base = urls.issue(issue.key, site.default_lang)

        def files(names, prefix=""):
            out = []
            for n in names:
                pdf_lang = next((l for l in site.languages if n.endswith(f".{l}.pdf")), site.default_lang)
                out.append({"lang": pdf_lang, "name": n, "href": url(base + prefix + n),
                            "label": i18n.t("pdf_of_issue_in", lang, language=i18n.language_name(pdf_lang, lang))})
            return sorted(out, key=lambda f: (f["lang"] != site.default_lang, f["lang"]))

        versions = site.releases.get(issue.key, [])
        if versions:
            from ..archive import withdrawal_notice, withdrawn_versions

            replaced = withdrawn_versions(versions)

            def erratum(v):
                w = v.manifest.get("withdrawal")
                return withdrawal_notice(w["date"], w["reason"], lang) if isinstance(w, dict) else v.erratum_in(lang, site.default_lang)

            return {"current": files(versions[-1].pdfs),
                    "versions": [{"number": v.number, "released": i18n.format_date(dt.date.fromisoformat(v.released[:10]), lang),
                                  "erratum": erratum(v),
                                  "withdrawal": isinstance(v.manifest.get("withdrawal"), dict),
                                  "replaced": v.number in replaced,
                                  "files": files(v.pdfs, f"v{v.number}/")} for v in reversed(versions)]}
        if not self.pdf:
            return {"current": [], "versions": []}
        names = [urls.issue_pdf_name(issue.key, l, site.default_lang) for l in site.languages
                 if l == site.default_lang or any(r.has(l) for r in issue.records)]
        return {"current": files(names), "versions": []}

    def render(self, page: Page) -> bytes:
        with template_errors(page.path):
            template = self.env.get_template(page.template)
            return template.render(self.context(page)).encode("utf-8")

    # -------------------------------------------------------------- pages
    def pages(self) -> Iterator[Page]:
        return (page for _, page in self.numbered_pages())

    def numbered_pages(self, share: int = 0, shares: int = 1) -> Iterator[tuple[int, Page]]:
        """(place in pages(), page) of every `shares`-th page from `share` on:
        a render worker's share.  Record and listing pages (nearly all of a
        site's) of other shares are not even made."""
        for index, item in self.numbered_items(share, shares):
            yield index, (item() if callable(item) else item)

    def numbered_items(self, share: int = 0, shares: int = 1) -> Iterator[tuple[int, object]]:
        """numbered_pages, each a page or a maker of one (item_file, item_record)."""
        index = 0
        for lang in self.site.languages:
            for section in (self.home_pages(lang), self._record_page_makers(lang), self.listing_pages(lang),
                            self.issue_pages(lang),
                            (self.subscribe_page(lang), self.search_page(lang), self.not_found_page(lang))):
                for item in section:
                    if index % shares == share:
                        yield index, item
                    index += 1

    def item_file(self, item) -> str:
        """The output file of a page, or of a page's maker, without making it."""
        if isinstance(item, functools.partial):
            if item.func == self._record_page:
                record, lang = item.args
                return self.urls.file_of(self.urls.record(record.id, lang))
            if item.func == self._listing_page:
                base_of, lang, _chunk, n = item.args[:4]
                return self.urls.file_of(self.urls.paged(base_of(lang), n))
            item = item()
        return self.urls.file_of(item.path)

    def item_record(self, item) -> Record | None:
        """The record whose own page `item` (a page or a maker) is, if any."""
        if isinstance(item, functools.partial):
            return item.args[0] if item.func == self._record_page else None
        record = item.ctx.get("record")
        return record if isinstance(record, Record) else None

    def _alternates(self, path_of) -> dict[str, str]:
        return {lang: path_of(lang) for lang in self.site.languages}

    def home_pages(self, lang: str) -> Iterator[Page]:
        site = self.site
        topics = [(key, topic, len(self._by_topic.get(key, []))) for key, topic in sorted(site.taxonomies["topics"].items())]
        yield Page(
            path=self.urls.home(lang), lang=lang, template="home.html",
            title=site.text(site.config.title, lang),
            ctx={"latest": site.public[: site.config.home_latest],
                 "latest_issue": site.issues[0] if site.issues else None,
                 "topics": topics,
                 "types": [(t, len(self._by_type.get(t, []))) for t in RECORD_TYPES],
                 "years": sorted(self._by_year, reverse=True)},
            alternates=self._alternates(self.urls.home),
        )

    def record_pages(self, lang: str) -> Iterator[Page]:
        return (make() for make in self._record_page_makers(lang))

    def _record_page_makers(self, lang: str) -> Iterator:
        return (functools.partial(self._record_page, record, lang) for record in self.site.public if record.has(lang))

    def _record_page(self, record: Record, lang: str) -> Page:
        site = self.site
        edition = record.editions[lang]
        ctx = {"record": record, "edition": edition, "meta": record.meta,
               "is_translation": lang != site.default_lang}
        if record.type == "consultation":
            ctx["consultation"] = record.consultation_state(site.build_date)
        if record.type == "policy":
            ctx["jsonld"] = Deferred(lambda r=record, l=lang: self.jsonld(r, l))
        # a language without an edition: the switcher lands on the record's entry in
        # that language's listing of its type, marked "available in Chinese only"
        ctx["lang_switch"] = {l: self._listing_entry(record, l) for l in site.languages if not record.has(l)}
        return Page(
            path=self.urls.record(record.id, lang), lang=lang, template="record.html",
            title=edition.title, ctx=ctx,
            alternates={l: self.urls.record(record.id, l) for l in site.languages if record.has(l)},
            lastmod=record.published,
        )

    def _listing_entry(self, record: Record, lang: str) -> str:
        if self._type_position is None:
            self._type_position = {r.id: i for group in self._by_type.values() for i, r in enumerate(group)}
        n = self._type_position.get(record.id, 0) // self.site.config.page_size + 1
        return f"{self.urls.paged(self.urls.type_(record.type, lang), n)}#r-{record.id}"

    def _paginate(self, base_of, lang: str, records: list[Record], template: str, title: str, ctx: dict) -> Iterator:
        """A listing's pages, each as a maker of it (numbered_pages makes only its share's)."""
        size = self.site.config.page_size
        chunks = [records[i : i + size] for i in range(0, len(records), size)] or [[]]
        for n, chunk in enumerate(chunks, 1):
            yield functools.partial(self._listing_page, base_of, lang, chunk, n, len(chunks), len(records), template,
                                    title, ctx)

    def _listing_page(self, base_of, lang: str, chunk: list[Record], n: int, total: int, count: int, template: str,
                      title: str, ctx: dict) -> Page:
        pager = None
        if total > 1:
            pager = {
                "n": n, "total": total,
                "prev": self.urls.paged(base_of(lang), n - 1) if n > 1 else None,
                "next": self.urls.paged(base_of(lang), n + 1) if n < total else None,
                "pages": PagerPages(base_of(lang), total),
                # the first and last pages and two either side of this one; None for a gap
                "window": [(i, i and self.urls.paged(base_of(lang), i)) for i in pager_window(n, total)],
            }
        return Page(
            path=self.urls.paged(base_of(lang), n), lang=lang, template=template,
            title=title if n == 1 else f"{title} · {i18n.t('page_n', lang, n=n)}",
            ctx={**ctx, "records": chunk, "pager": pager, "count": count,
                 # made from "records" alone, so keys leave it out (keys.DERIVED)
                 "by_type": ByType(chunk)},
            alternates=self._alternates(lambda l: self.urls.paged(base_of(l), n)),
        )

    def listing_pages(self, lang: str) -> Iterator:
        """Index pages of the taxonomies, and the listings' pages (as makers: _paginate)."""
        site, urls = self.site, self.urls
        for name in TAXONOMY_PAGES:
            groups = {"topics": self._by_topic, "tags": self._by_tag, "issuers": self._by_issuer}[name]
            entries = site.taxonomies[name]
            items = [(key, entries[key], len(groups.get(key, []))) for key in sorted(entries)]
            yield Page(path=urls.taxonomy(name, None, lang), lang=lang, template="terms.html",
                       title=i18n.t(name, lang), ctx={"taxonomy": name, "items": items},
                       alternates=self._alternates(lambda l, n=name: urls.taxonomy(n, None, l)))
            for key in sorted(entries):
                entry = entries[key]
                title = site.text(entry.name, lang)
                yield from self._paginate(
                    lambda l, n=name, k=key: urls.taxonomy(n, k, l), lang, groups.get(key, []),
                    "listing.html", title,
                    {"kind": name, "key": key, "entry": entry, "group_by_type": name == "topics"})
        years = sorted(self._by_year, reverse=True)
        yield Page(path=urls.year(None, lang), lang=lang, template="terms.html", title=i18n.t("years", lang),
                   ctx={"taxonomy": "years", "items": [(y, None, len(self._by_year[y])) for y in years]},
                   alternates=self._alternates(lambda l: urls.year(None, l)))
        for year in years:
            yield from self._paginate(lambda l, y=year: urls.year(y, l), lang, self._by_year[year], "listing.html",
                                      i18n.t("year_n", lang, year=year), {"kind": "years", "key": year, "entry": None, "group_by_type": False})
        yield Page(path=urls.type_(None, lang), lang=lang, template="terms.html", title=i18n.t("types", lang),
                   ctx={"taxonomy": "types", "items": [(t, None, len(self._by_type.get(t, []))) for t in RECORD_TYPES]},
                   alternates=self._alternates(lambda l: urls.type_(None, l)))
        for rtype in RECORD_TYPES:
            yield from self._paginate(lambda l, t=rtype: urls.type_(t, l), lang, self._by_type.get(rtype, []), "listing.html",
                                      i18n.type_name(rtype, lang), {"kind": "types", "key": rtype, "entry": None, "group_by_type": False})
        in_force = [r for r in self._by_type.get("policy", []) if r.validity(site.build_date) == "effective"]
        yield from self._paginate(urls.in_force, lang, in_force, "listing.html", i18n.t("in_force_policies", lang),
                                  {"kind": "types", "key": "policy", "entry": None, "group_by_type": False, "in_force": True})

    def issue_pages(self, lang: str) -> Iterator[Page]:
        site, urls = self.site, self.urls
        by_year: dict[int, list[Issue]] = {}
        for issue in site.issues:
            by_year.setdefault(issue.year, []).append(issue)
        yield Page(path=urls.issue(None, lang), lang=lang, template="issues.html", title=i18n.t("issues", lang),
                   ctx={"by_year": sorted(by_year.items(), reverse=True)},
                   alternates=self._alternates(lambda l: urls.issue(None, l)))
        for issue in site.issues:
            yield Page(path=urls.issue(issue.key, lang), lang=lang, template="issue.html",
                       title=f"{site.text(site.config.title, lang)} {i18n.t('issue_title', lang, year=issue.year, number=issue.number)}",
                       ctx={"issue": issue}, alternates=self._alternates(lambda l, k=issue.key: urls.issue(k, l)),
                       lastmod=issue.published)

    def subscribe_page(self, lang: str) -> Page:
        mine = [f for f in self.feeds if f.lang == lang]
        groups = [(kind, [f for f in mine if f.kind == kind]) for kind in ("all", "issues", "topics", "tags", "issuers", "types")]
        service = self.site.config.subscriptions.service_url
        return Page(path=f"{self.urls.prefix(lang)}subscribe/", lang=lang, template="subscribe.html",
                    title=i18n.t("subscribe", lang),
                    ctx={"feed_groups": [(k, fs) for k, fs in groups if fs],
                         "opml": f"{self.urls.prefix(lang)}feeds/feeds.opml",
                         "service_url": service},
                    alternates=self._alternates(lambda l: f"{self.urls.prefix(l)}subscribe/"))

    def search_page(self, lang: str) -> Page:
        keys = ("zero", "many", "one", "browse_zero", "browse_many", "searching", "failed")
        translations = {k: i18n.t(f"search_{k}", lang) for k in keys}
        translations["chinese_only"] = i18n.t("chinese_only", lang)
        # filter keys are the same in every language (record.html); the labels are the page's
        filters = [["type", i18n.t("type", lang)], ["validity", i18n.t("validity", lang)],
                   ["issuer", i18n.t("issuer", lang)], ["topic", i18n.t("topics", lang)], ["year", i18n.t("year", lang)]]
        mine = [r for r in self.site.public if r.has(lang)]
        return Page(path=f"{self.urls.prefix(lang)}search/", lang=lang, template="search.html",
                    title=i18n.t("search", lang), in_sitemap=True,
                    ctx={"translations": json.dumps(translations, ensure_ascii=False, sort_keys=True),
                         "filter_groups": json.dumps(filters, ensure_ascii=False),
                         "first_date": min((r.meta.published for r in mine), default=None),
                         "last_date": max((r.meta.published for r in mine), default=None),
                         # only years with pages in this language: Pagefind would answer from another
                         # language's index for a year that has none (Chinese results on the English page)
                         "bundles": [f"pagefind/{y}/" for y in sorted({r.year for r in mine}, reverse=True)]
                                    if self.search else []},
                    alternates=self._alternates(lambda l: f"{self.urls.prefix(l)}search/"))

    def not_found_page(self, lang: str) -> Page:
        return Page(path=f"{self.urls.prefix(lang)}404.html", lang=lang, template="404.html",
                    title=i18n.t("not_found", lang), in_sitemap=False,
                    alternates=self._alternates(lambda l: f"{self.urls.prefix(l)}404.html"))

    # ----------------------------------------------------------- JSON-LD
    def jsonld(self, record: Record, lang: str) -> Markup:
        site, meta = self.site, record.meta
        force = {"effective": "InForce", "amended": "PartiallyInForce", "repealed": "NotInForce",
                 "expired": "NotInForce", "not-yet": "NotInForce"}.get(record.validity(site.build_date))
        data = {
            "@context": "https://schema.org",
            "@type": "Legislation",
            "name": record.title(lang),
            "url": self.urls.absolute(self.urls.record(record.id, lang)),
            "inLanguage": lang,
            "datePublished": meta.published.isoformat(),
            "legislationDate": (meta.written or meta.published).isoformat(),
            "legislationPassedBy": [{"@type": "GovernmentOrganization", "name": site.text(site.taxonomies["issuers"][k].name, lang)}
                                    for k in meta.issuers if k in site.taxonomies["issuers"]],
        }
        if meta.doc_number:
            data["legislationIdentifier"] = meta.doc_number
        if force:
            data["legislationLegalForce"] = force
        if meta.effective:
            data["legislationDateVersion"] = meta.effective.isoformat()
        if lang != site.default_lang:
            data["translationOfWork"] = {"@type": "Legislation", "url": self.urls.absolute(self.urls.record(record.id, site.default_lang))}
        if record.basis:
            data["isBasedOn"] = [self.urls.absolute(self.urls.record(b.id, site.default_lang)) for b in record.basis]
        return Markup(json_for_script(data))


# every template a page is rendered with (HtmlRenderer.numbered_pages)
PAGE_TEMPLATES = ("home.html", "record.html", "listing.html", "terms.html", "issues.html", "issue.html",
                  "subscribe.html", "search.html", "404.html")


class Deferred:
    """Markup made only when a template shows it (`{{ jsonld }}`): most of a
    build's pages may be reused unrendered.  What it shows is made from the
    page's record and its relations (keys.py covers those)."""

    __slots__ = ("make", "_value")

    def __init__(self, make):
        self.make = make
        self._value = None

    def __html__(self) -> str:
        if self._value is None:
            self._value = Markup(self.make())
        return self._value

    def __str__(self) -> str:
        return str(self.__html__())

    def __bool__(self) -> bool:
        return True


def json_for_script(data) -> str:
    """JSON for a <script> element: '<', '>' and '&' as \\u escapes, so no
    text (`</script>`, `<!--`, `]]>`) can end or change the script block."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))  # json's C encoder: no indent
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_FILTER_SAFE = str.maketrans({'"': "\uff02", "&": "\uff06"})


def pagefind_text(text) -> str:
    """A search filter value.  Pagefind 1.5 cannot match a filter value that
    holds a double quote, and decodes character references in filter values
    twice ("&amp;" comes back as "&"); those two characters are given as their
    full-width forms (＂ ＆), which read the same.  The search page shows
    values as text (textContent), so markup in a name stays text
    (tests/test_search.py checks that in Chromium)."""
    return str(text).translate(_FILTER_SAFE)
