#!/usr/bin/env python3
"""Search recall, measured in a real browser.

    python3 benchmarks/search_recall.py SITE [SITE ...] [--top 10]

Builds each site (HTML and search index, no PDF), serves it on 127.0.0.1 and,
in headless Chromium with Pagefind's own JavaScript API, searches for every
public record (and English edition): its document number (as the search page
does it: the number table first, then Pagefind), two words from its title and
three from its body, chosen among those rare in the site.  Prints the share of
queries whose record comes first and is in the top N, per kind of query.
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


def candidates(text: str, lang: str, rng: random.Random, want: int, texts: list[str]) -> list[str]:
    if lang.startswith("zh"):
        # words as a reader types them: jieba's segmentation (Pagefind's extended
        # binary segments with a jieba dictionary too); single words and pairs
        import jieba

        jieba.setLogLevel(60)
        words = [w for w in jieba.cut(text) if _CJK_WORD.fullmatch(w)]
        pool = words + [a + b for a, b in zip(words, words[1:])]
    else:
        words = [w for w in _EN_WORD.findall(text) if w.lower() not in _STOP]
        pool = [w for w in words]
    rng.shuffle(pool)
    chosen, seen = [], set()
    for cand in pool:
        if cand in seen:
            continue
        seen.add(cand)
        if sum(cand in t for t in texts) <= 3:  # rare in this site: a query that names this record
            chosen.append(cand)
        if len(chosen) == want or len(seen) > 60:
            break
    return chosen


def make_queries(site) -> dict[str, list[dict]]:
    """lang -> [{record, kind, text}]"""
    by_lang: dict[str, list[dict]] = defaultdict(list)
    texts = {lang: [plain(r.editions[lang].body_html) + r.title(lang) for r in site.public if r.has(lang)] for lang in site.languages}
    for record in site.public:
        for lang, edition in record.editions.items():
            rng = random.Random(f"{record.id}:{lang}")
            if record.meta.doc_number:
                by_lang[lang].append({"record": record.id, "kind": "doc_number", "text": record.meta.doc_number})
            for word in candidates(edition.title, lang, rng, 2, texts[lang]):
                by_lang[lang].append({"record": record.id, "kind": "title", "text": word})
            for word in candidates(plain(edition.body_html), lang, rng, 3, texts[lang]):
                by_lang[lang].append({"record": record.id, "kind": "body", "text": word})
    return by_lang


SEARCH_JS = """
async ({queries, top}) => {
  // the search page's own bundles: one per year, newest first, merged as the page does
  const box = document.getElementById("search");
  const root = new URL(box.dataset.root, location.href);
  const bundles = box.dataset.bundles.split(" ").map(b => new URL(b, root).pathname);
  const pf = await import(bundles[0] + "pagefind.js");
  await pf.options({bundlePath: bundles[0]});
  for (const b of bundles.slice(1)) await pf.mergeIndex(b);
  await pf.init();
  const out = [];
  for (const q of queries) {
    const r = await pf.search(q);
    const data = await Promise.all(r.results.slice(0, top).map(x => x.data()));
    out.push(data.map(d => d.url));
  }
  return out;
}
"""


def measure(site_dir: Path, top: int = 10, out_dir: Path | None = None, browser=None) -> dict:
    """Build, serve and search; `browser` is a Playwright Chromium (one is started if None)."""
    from gazette.pipeline import build

    out_dir = out_dir or Path(tempfile.mkdtemp(prefix="recall-")) / "out"
    result = build(site_dir, out_dir, pdf=False, with_search=True)
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
        urls = page.evaluate(SEARCH_JS, {"queries": [q["text"] for q in items], "top": top})
        page.close()
        for q, found in zip(items, urls):
            ids = [u.strip("/").rsplit("/", 1)[-1] for u in found]
            if q["kind"] == "doc_number":  # as the search page does: the number table first
                table_ids = [e["id"] for e in table.get(normalize_doc_number(q["text"]), [])]
                ids = table_ids + [i for i in ids if i not in table_ids]
            h = hits[(lang, q["kind"])]
            h[2] += 1
            if ids[:1] == [q["record"]]:
                h[0] += 1
            if q["record"] in ids[:top]:
                h[1] += 1
            else:
                misses.append((lang, q["kind"], q["text"], q["record"]))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def report(name: str, data: dict, top: int) -> str:
    lines = [f"{name}: {data['records']} public records"]
    total = [0, 0, 0]
    for (lang, kind), (first, intop, n) in sorted(data["hits"].items()):
        lines.append(f"  {lang} {kind:<10} {n:>5} queries  first {first / n:6.1%}  top-{top} {intop / n:6.1%}")
        total = [a + b for a, b in zip(total, (first, intop, n))]
    if total[2]:
        lines.append(f"  all           {total[2]:>5} queries  first {total[0] / total[2]:6.1%}  top-{top} {total[1] / total[2]:6.1%}")
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
        print(report(site.name, data, args.top), flush=True)
        for miss in data["misses"][: args.misses]:
            print("   missed:", *miss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
