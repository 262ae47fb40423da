#!/usr/bin/env python3
"""Search index benchmark: Pagefind (extended) over gazette's output.

    python3 benchmarks/search_bench.py --sizes 1000 10000

Builds each synthetic site without a search index, then indexes the output
(a) with one Pagefind run over the whole site, and (b) as `gazette build`
does: one bundle per year, cold and then again with nothing changed (every
year from the cache).  Prints wall time and peak memory of the process tree.
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
        shutil.rmtree(cache, ignore_errors=True)
    return 0


def index_only(site_dir: Path, out: Path, cache: Path) -> int:
    from gazette.pipeline import load_and_resolve
    from gazette.render.urls import Urls
    from gazette.search import index

    site, _ = load_and_resolve(site_dir, pdf=False)
    outcome = index(out, site, Urls(site.languages, site.config.base_url), cache)
    print(f"{len(outcome)} yearly bundles: {sum(v == 'indexed' for v in outcome.values())} indexed, "
          f"{sum(v == 'cached' for v in outcome.values())} from the cache")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--index-only":
        sys.exit(index_only(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
    sys.exit(main())
