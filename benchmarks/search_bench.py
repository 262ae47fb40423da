#!/usr/bin/env python3
"""Search index benchmark: Pagefind over gazette's output.

    python3 benchmarks/search_bench.py --sizes 1000 10000

Builds each synthetic site without a search index, then indexes the output
(a) with one Pagefind run over the whole site, and (b) as `gazette build`
does: one bundle per year, cold and then again with nothing changed (every
year from the cache).  Prints wall time and peak memory of the process tree,
the index size on disk and, in headless Chromium over 127.0.0.1, the time
from opening the search page with a query to the first results shown.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from build_bench import ensure_site, run_measured  # noqa: E402


def main() -> int:
    from gazette.search import INDEX_DIR, pagefind_command

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = ap.parse_args()
    env = dict(os.environ, SOURCE_DATE_EPOCH="1735689600")
    for n in args.sizes:
        site = ensure_site(n)
        out = HERE / "out" / f"search-{n}"
        wall, peak, proc = run_measured([sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--no-search",
                                         "--site", str(site), "--out", str(out)], env)
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return 1
        pages = sum(1 for _ in out.rglob("records/*/index.html"))
        shutil.rmtree(out / INDEX_DIR, ignore_errors=True)
        wall, peak, proc = run_measured([*pagefind_command(), "--site", str(out), "--output-subdir", INDEX_DIR])
        if proc.returncode:
            print(proc.stdout, proc.stderr, file=sys.stderr)
            return 1
        size = sum(p.stat().st_size for p in (out / INDEX_DIR).rglob("*") if p.is_file())
        print(f"{n} records ({pages} record pages): one Pagefind run {wall:.1f} s, peak {peak / 2**20:.0f} MiB, "
              f"index {size / 2**20:.0f} MiB", flush=True)
        cache = Path(tempfile.mkdtemp(prefix="searchbench-"))
        for label in ("per year, cold", "per year, unchanged (cache)"):
            wall, peak, proc = run_measured([sys.executable, __file__, "--index-only", str(site), str(out), str(cache)], env)
            if proc.returncode:
                print(proc.stdout, proc.stderr, file=sys.stderr)
                return 1
            print(f"{n} records: {label}: {wall:.1f} s, peak {peak / 2**20:.0f} MiB ({proc.stdout.strip()})", flush=True)
        first_results(site, out.with_name(out.name + "-full"), cache, env)
        shutil.rmtree(cache, ignore_errors=True)
    return 0


QUERIES = {"": ["政策", "管理办法", "上海市", "沪府办"], "en/": ["policy", "municipal government", "measures"]}


def first_results(site: Path, out: Path, cache: Path, env: dict) -> None:
    """A full build (its search bundles from the cache just made), served on
    127.0.0.1; in headless Chromium, the time from opening the search page with
    a query in its address to the first results on screen, and the index size."""
    import functools
    import http.server
    import statistics
    import threading
    import time

    from playwright.sync_api import sync_playwright

    from search_recall import CHROMIUM_ARGS, _Quiet

    proc = run_measured([sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--site", str(site), "--out", str(out)],
                        dict(env, GAZETTE_CACHE_DIR=str(cache)))[2]
    if proc.returncode:
        print(proc.stderr, file=sys.stderr)
        return
    size = sum(p.stat().st_size for p in (out / "pagefind").rglob("*") if p.is_file())
    files = sum(1 for p in (out / "pagefind").rglob("*") if p.is_file())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    times = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for prefix, queries in QUERIES.items():
            for q in queries:
                page = browser.new_page()  # a new page each time: nothing loaded yet
                start = time.perf_counter()
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/{prefix}search/?q={q}")
                page.wait_for_selector("#search-results .result-link", timeout=60000)
                times.setdefault(prefix or "zh", []).append(time.perf_counter() - start)
                page.close()
        browser.close()
    server.shutdown()
    print(f"index on disk: {size / 2**20:.1f} MiB in {files} files; time to first results in Chromium "
          + ", ".join(f"{lang.strip('/')}: median {statistics.median(t) * 1000:.0f} ms (max {max(t) * 1000:.0f} ms)"
                      for lang, t in times.items()), flush=True)


def index_only(site_dir: Path, out: Path, cache: Path) -> int:
    from gazette.model import RunSettings
    from gazette.pipeline import load_and_resolve
    from gazette.render.urls import Urls
    from gazette.search import index

    site, _ = load_and_resolve(site_dir, pdf=False, settings=RunSettings.from_environ(os.environ))
    outcome = index(out, site, Urls(site.languages, site.config.base_url), cache)
    print(f"{len(outcome)} yearly bundles: {sum(v == 'indexed' for v in outcome.values())} indexed, "
          f"{sum(v == 'cached' for v in outcome.values())} from the cache")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--index-only":
        sys.exit(index_only(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
    sys.exit(main())
