"""Machine-readable output: data/catalog.json, data/records/ID.json,
sitemap.xml and robots.txt.  Public records only; stable key order."""
from __future__ import annotations

import json
from xml.sax.saxutils import escape, quoteattr

from .. import markdown
from ..model import Record, Site
from .html import Page
from .urls import Urls


def _dumps(data) -> bytes:
    """Compact JSON (json's C encoder runs only without indentation: tens of
    thousands of files), one line and a newline."""
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def catalog_entry(record: Record, site: Site, urls: Urls) -> dict:
    meta = record.meta
    langs = [l for l in site.languages if record.has(l)]
    return {
        "id": record.id,
        "type": meta.type,
        "title": {l: record.title(l) for l in langs},
        "url": {l: urls.absolute(urls.record(record.id, l)) for l in langs},
        "published": meta.published.isoformat(),
        "issuer": meta.issuers,
        "doc_number": meta.doc_number,
        "topics": meta.topics,
        "tags": meta.tags,
    }


def catalog(site: Site, urls: Urls) -> bytes:
    records = sorted(site.public, key=lambda r: r.id)
    return _dumps({"generated": site.build_time.isoformat(), "records": [catalog_entry(r, site, urls) for r in records]})


def _ids(records: list[Record]) -> list[str]:
    return [r.id for r in records]


def record_json(record: Record, site: Site, urls: Urls) -> bytes:
    meta = record.meta
    data = catalog_entry(record, site, urls)
    data.update({
        "index_number": meta.index_number,
        "written": meta.written.isoformat() if meta.written else None,
        "priority": meta.priority,
        "summary": {l: e.summary for l, e in record.editions.items() if e.summary},
        "body_html": {l: markdown.localize_files(e.body_html, lambda rid: urls.absolute(urls.attachment(rid, "")))
                      for l, e in record.editions.items()},
        "issue": record.issue.key if record.issue else None,
        "relations": {
            "basis": _ids(record.basis), "basis_of": _ids(record.basis_of), "related": _ids(record.related),
            "supersedes": _ids(record.supersedes), "superseded_by": _ids(record.superseded_by),
            "interpretations": _ids(record.interpretations), "faqs": _ids(record.faqs),
            "interprets": record.interprets.id if record.interprets else None,
            "policy": record.faq_of.id if record.faq_of else None,
        },
        "extra": meta.extra,
    })
    if meta.type == "policy":
        data.update({"status": meta.status, "validity": record.validity(site.build_date),
                     "effective": meta.effective.isoformat() if meta.effective else None,
                     "expires": meta.expires.isoformat() if meta.expires else None,
                     "services": meta.services})
    elif meta.type == "faq":
        data["entries"] = [e.model_dump() for e in meta.entries]
    elif meta.type == "appointment":
        data["entries"] = [e.model_dump() for e in meta.entries]
    elif meta.type == "commendation":
        data["honorees"] = [h.model_dump() for h in meta.honorees]
    elif meta.type == "consultation":
        data.update({"opens": meta.opens.isoformat(), "closes": meta.closes.isoformat(),
                     "feedback": meta.feedback.model_dump() if meta.feedback else None, "outcome": meta.outcome})
    elif meta.type == "interpretation":
        data["form"] = meta.form
    return _dumps(data)


def sitemap(pages: list[Page], urls: Urls) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">']
    for page in sorted(pages, key=lambda p: p.path):
        out.append(f"<url><loc>{escape(urls.absolute(page.path))}</loc>")
        if page.lastmod:
            out.append(f"<lastmod>{page.lastmod.isoformat()}</lastmod>")
        if len(page.alternates) > 1:
            for lang, path in sorted(page.alternates.items()):
                out.append(f'<xhtml:link rel="alternate" hreflang={quoteattr(lang)} href={quoteattr(urls.absolute(path))}/>')
        out.append("</url>")
    out.append("</urlset>")
    return ("\n".join(out) + "\n").encode("utf-8")


def robots(urls: Urls) -> bytes:
    return f"User-agent: *\nAllow: /\nSitemap: {urls.absolute('sitemap.xml')}\n".encode("utf-8")
