#!/usr/bin/env python3
"""Search quality, measured in a real browser.

    .venv/bin/python benchmarks/search_recall.py SITE [SITE ...] [--top 10]

Builds each site (HTML and search index, no PDF), serves it on 127.0.0.1 and,
in headless Chromium on the site's own search page (its bundles, merged as the
page merges them, and its query rule), searches with queries made from the
records themselves, per class: document number (the number table first, as
the page does), full title, title fragment (2-6 Han characters or 1-3 English
words), person name (appointees, honourees), issuer name (the top N, or as many
as it issued, must be that issuer's), body phrase (4-8 characters or 2-4 words), and
strings that occur in no public record (which must find nothing).  Prints,
per class, the share at rank 1 and in the top N against issue 10's targets.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import random
import re
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
_CJK_WORD = re.compile(r"[\u3400-\u9fff]{2,}")  # Chinese characters only, two or more
_EN_WORD = re.compile(r"[A-Za-z]{5,}")
_STOP = set("which there their about would these other after first could where being those under while shall "
            "should section federal register notice department office people government measures".split())


def plain(html: str) -> str:
    from gazette.markdown import plain_text
    return plain_text(html)


HAN_RUN = re.compile(r"[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
EN_WORDS = re.compile(r"[A-Za-z][A-Za-z'-]*")
CLASSES = ["doc_number", "title", "fragment", "name", "issuer", "body", "absent"]
TARGETS = {"doc_number": ("first", 1.0), "title": ("first", 0.98), "name": ("top", 1.0), "fragment": ("top", 0.98),
           "issuer": ("top", 0.98), "body": ("top", 0.98), "absent": ("zero", 0.95)}


def _pieces(text: str, lang: str, rng: random.Random, lo: int, hi: int) -> list[str]:
    """Contiguous pieces a reader would type: lo..hi Han characters, or lo..hi English words."""
    out = []
    if lang.startswith("zh"):
        for run in HAN_RUN.findall(text):
            for _ in range(3):
                n = rng.randint(lo, min(hi, len(run))) if len(run) >= lo else 0
                if n:
                    i = rng.randint(0, len(run) - n)
                    out.append(run[i:i + n])
    else:
        words = EN_WORDS.findall(text)
        for _ in range(12):
            if len(words) >= lo:
                n = rng.randint(lo, min(hi, len(words)))
                i = rng.randint(0, len(words) - n)
                out.append(" ".join(words[i:i + n]))
    rng.shuffle(out)
    return out


def _rare(pieces: list[str], texts: list[str], limit: int = 3) -> str | None:
    for piece in pieces:
        if 1 <= sum(piece in t for t in texts) <= limit:
            return piece
    return None


def make_queries(site) -> dict[str, list[dict]]:
    """lang -> [{record, kind, text}]: per record, one query of each class that applies,
    made from the record itself; plus absent strings per language."""
    by_lang: dict[str, list[dict]] = defaultdict(list)
    texts = {lang: [" ".join([r.title(lang), plain(r.editions[lang].body_html), r.meta.doc_number or "",
                              " ".join(_names(r, lang)), " ".join(_issuers(site, r, lang))])
                    for r in site.public if r.has(lang)] for lang in site.languages}
    for record in site.public:
        for lang, edition in record.editions.items():
            rng = random.Random(f"{record.id}:{lang}")
            add = lambda kind, text: by_lang[lang].append({"record": record.id, "kind": kind, "text": text})
            if record.meta.doc_number and lang == site.default_lang:
                add("doc_number", record.meta.doc_number)
            add("title", edition.title)
            piece = _rare(_pieces(edition.title, lang, rng, 2 if lang.startswith("zh") else 1, 6 if lang.startswith("zh") else 3), texts[lang])
            if piece:
                add("fragment", piece)
            for name in _names(record, lang):
                add("name", name)
            piece = _rare(_pieces(plain(edition.body_html), lang, rng, 4 if lang.startswith("zh") else 2, 8 if lang.startswith("zh") else 4), texts[lang])
            if piece:
                add("body", piece)
    for lang in site.languages:
        issued = defaultdict(int)
        for r in site.public:
            if r.has(lang):
                for name in set(_issuers(site, r, lang)):
                    issued[name] += 1
        for name in sorted(issued):
            by_lang[lang].append({"record": None, "kind": "issuer", "text": name,
                                  "count": sum(n for other, n in issued.items() if name in other)})
        rng = random.Random(f"absent:{lang}")
        blob = "\n".join(texts[lang])
        if lang.startswith("zh"):
            chars = sorted(set("".join(HAN_RUN.findall(blob))))
            made = 0
            while chars and made < 20:
                cand = "".join(rng.choice(chars) for _ in range(rng.randint(2, 4)))
                if cand not in blob:
                    by_lang[lang].append({"record": None, "kind": "absent", "text": cand})
                    made += 1
        else:
            words = sorted(set(w.lower() for w in EN_WORDS.findall(blob) if len(w) > 3))
            made = 0
            while len(words) > 2 and made < 20:
                cand = " ".join(rng.sample(words, 2))
                if cand not in blob.lower():
                    by_lang[lang].append({"record": None, "kind": "absent", "text": cand + " zqxv"})
                    made += 1
    return by_lang


def _names(record, lang: str) -> list[str]:
    edition = record.editions[lang]
    entries = (edition.entries or getattr(record.meta, "entries", None)) if record.meta.type == "appointment" else None
    names = [e.name for e in entries or []]
    if record.meta.type == "commendation":
        names += [h.name for h in (edition.honorees or record.meta.honorees or []) if h.kind == "person"]
    return names


def _issuers(site, record, lang: str) -> list[str]:
    out = []
    for key in record.meta.issuers:
        entry = site.taxonomies.get("issuers", {}).get(key)
        if entry:
            out.append(site.text(entry.name, lang))
    return out


SEARCH_JS = """
async ({queries, top}) => {
  // what the search page itself finds, in its order (static/search.js)
  const form = document.getElementById("search-form");
  while (form.dataset.ready !== "true") await new Promise(r => setTimeout(r, 20));
  const out = [];
  for (const q of queries) {
    const r = await window.gazetteSearch.query(q, {top});
    out.push({urls: r.results.map(d => d.url), count: r.count, exact: r.exact === null ? r.count : r.exact,
              issuers: r.results.map(d => d.issuer), titles: r.results.map(d => d.title)});
  }
  return out;
}
"""


def measure(site_dir: Path, top: int = 10, out_dir: Path | None = None, browser=None) -> dict:
    """Build, serve and search; `browser` is a Playwright Chromium (one is started if None)."""
    from gazette.model import RunSettings
    from gazette.pipeline import build

    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="recall-")) / "out"
    result = build(site_dir, out_dir, pdf=False, with_search=True, settings=RunSettings.from_environ(os.environ))
    site = result.site
    table = json.loads((out_dir / "data" / "docnumbers.json").read_text(encoding="utf-8"))
    queries = make_queries(site)
    handler = functools.partial(_Quiet, directory=str(out_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hits = defaultdict(lambda: [0, 0, 0])  # kind -> [first, in top, total]
    misses = []
    try:
        if browser is None:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                _search_all(chromium, server, site, queries, table, top, hits, misses)
                chromium.close()
        else:
            _search_all(browser, server, site, queries, table, top, hits, misses)
    finally:
        server.shutdown()
    return {"hits": dict(hits), "misses": misses, "records": len(site.public)}


def _search_all(browser, server, site, queries, table, top, hits, misses) -> None:
    from gazette.search import normalize_doc_number

    for lang, items in sorted(queries.items()):
        prefix = "" if lang == site.default_lang else f"{lang}/"
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/{prefix}search/")
        answers = page.evaluate(SEARCH_JS, {"queries": [q["text"] for q in items], "top": top})
        page.close()
        for q, found in zip(items, answers):
            ids = [u.strip("/").rsplit("/", 1)[-1] for u in found["urls"]]
            h = hits[(lang, q["kind"])]
            h[2] += 1
            if q["kind"] == "absent":  # no result, or the page's "no exact match" notice
                ok_first = ok_top = found["count"] == 0 or found["exact"] == 0
            elif q["kind"] == "issuer":  # the issuer's own records come first: as many of the top N as it has
                want = min(top, q["count"])
                ok_first = bool(found["issuers"]) and q["text"] in found["issuers"][0]
                ok_top = len(found["issuers"]) >= want and all(q["text"] in i for i in found["issuers"][:want])
            else:
                if q["kind"] == "doc_number":  # as the search page does: the number table first
                    table_ids = [e["id"] for e in table.get(normalize_doc_number(q["text"]), [])]
                    ids = table_ids + [i for i in ids if i not in table_ids]
                ok_first, ok_top = ids[:1] == [q["record"]], q["record"] in ids[:top]
                if q["kind"] == "title" and found["titles"][:1] == [q["text"]]:
                    ok_first = True  # another record with the very same title (synthetic corpora repeat titles)
            h[0] += ok_first
            h[1] += ok_top
            if not ok_top:
                misses.append((lang, q["kind"], q["text"], q["record"], ids[:3]))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def report(name: str, data: dict, top: int) -> str:
    """Per class: share at rank 1 and in the top N (absent strings: share with no result;
    issuers: the first result / the top N, or as many as it issued, all by that issuer)."""
    lines = [f"{name}: {data['records']} public records"]
    for (lang, kind), (first, intop, n) in sorted(data["hits"].items(), key=lambda kv: (kv[0][0], CLASSES.index(kv[0][1]))):
        measure_, target = TARGETS[kind]
        got = {"first": first / n, "top": intop / n, "zero": intop / n}[measure_]
        flag = "ok" if got >= target else f"below {target:.0%}"
        label = "zero results" if kind == "absent" else f"first {first / n:6.1%}  top-{top} {intop / n:6.1%}"
        lines.append(f"  {lang} {kind:<10} {n:>5} queries  {label:<28} target {measure_} >= {target:.0%}: {flag}"
                     if kind != "absent" else f"  {lang} {kind:<10} {n:>5} queries  zero results {intop / n:6.1%}  target >= {target:.0%}: {flag}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sites", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--misses", type=int, default=0, help="print this many missed queries")
    args = ap.parse_args()
    os.environ.setdefault("GAZETTE_CACHE_DIR", tempfile.mkdtemp(prefix="recall-cache-"))
    for site in args.sites:
        data = measure(site, args.top)
        print(report(site.resolve().name, data, args.top), flush=True)
        for miss in data["misses"][: args.misses]:
            print("   missed:", *miss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
