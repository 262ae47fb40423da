#!/usr/bin/env python3
"""Search index benchmark: Pagefind (extended) over gazette's output.

    python3 benchmarks/search_bench.py --sizes 1000 10000

Builds each synthetic site without a search index, then runs Pagefind over
the output exactly as `gazette build` does, and prints its wall time and the
peak memory of its process tree.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
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
        print(f"{n} records ({pages} record pages): Pagefind {wall:.1f} s, peak {peak / 2**20:.0f} MiB, "
              f"index {size / 2**20:.0f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
