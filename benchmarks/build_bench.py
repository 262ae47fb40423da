#!/usr/bin/env python3
"""Build-time benchmark: synthetic sites of N records, HTML only.

    python3 benchmarks/build_bench.py --sizes 1000 10000 [--jobs 2]

Generates each site once with ../shared/bench/gen_corpus.py (cached under
benchmarks/out/), builds it with `gazette build --no-pdf` (and --no-search
unless --search) in a fresh process, and prints wall time and peak memory of
the whole process tree (main process and
workers: the sum of their proportional set sizes, sampled from /proc every
20 ms, so memory forked workers share with the main process counts once).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GEN = ROOT.parent / "shared" / "bench" / "gen_corpus.py"


def _pss(pid: int) -> int:
    """Proportional set size of one process (shared pages divided among the
    processes that share them), in bytes; its RSS where smaps_rollup is missing."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[21]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> int:
    """Memory of pid and all its descendants, in bytes: the sum of their PSS, so
    pages that forked workers share with their parent count once."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += _pss(p)
        stack += children.get(p, [])
    return total


def quiet(limit: float = 30.0) -> float:
    """Wait until the machine is idle: written data flushed (sync) and the
    kernel's own work done (deleting the last run's tens of thousands of
    files goes on in kernel threads, with ext4's discards, for seconds after
    `rm` returns, and would slow whichever build runs next).  -> the seconds
    waited (at most `limit`)."""
    def busy_and_total() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values) - values[3] - values[4], sum(values)

    start = time.perf_counter()
    os.sync()
    calm, last = 0, busy_and_total()
    while calm < 3 and time.perf_counter() - start < limit:
        time.sleep(0.25)
        now = busy_and_total()
        total = now[1] - last[1]
        calm = calm + 1 if total and (now[0] - last[0]) / total < 0.05 else 0
        last = now
    return time.perf_counter() - start


def run_measured(cmd: list[str], env=None, memory: bool = True) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall time and (with `memory`) peak PSS of the process tree, sampled
    every 20 ms.  Sampling reads every process's page tables
    (/proc/PID/smaps_rollup), which slows the build it measures: time a run
    without it, and take memory from a run of its own."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    peak = 0
    while memory and proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.02)
    proc.wait()
    wall = time.perf_counter() - start
    out, err = proc.communicate()
    return wall, peak, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def ensure_site(n: int) -> Path:
    site = HERE / "out" / f"site-{n}"
    stamp = site / ".generated"
    if not stamp.exists():
        if site.exists():
            import shutil
            shutil.rmtree(site)
        subprocess.run([sys.executable, str(GEN), "--flavor", "gazette", "--n", str(n), "--out", str(site),
                        "--canaries-out", str(site) + ".canaries"], check=True)
        stamp.write_text("ok\n")
    return site


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--search", action="store_true", help="also build the search index (default: HTML only)")
    args = ap.parse_args()
    env = dict(os.environ, SOURCE_DATE_EPOCH="1735689600")
    print(f"{'records':>8} {'files':>7} {'wall s':>8} {'peak MiB':>9}  output")
    for n in args.sizes:
        site = ensure_site(n)
        files = sum(1 for _ in (site / "content").rglob("*.md"))
        cmd = [sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--search" if args.search else "--no-search",
               "--site", str(site), "--out", str(HERE / "out" / f"html-{n}")]
        if args.jobs:
            cmd += ["--jobs", str(args.jobs)]
        wall, peak, proc = run_measured(cmd, env)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, file=sys.stderr)
            return 1
        print(f"{n:>8} {files:>7} {wall:>8.1f} {peak / 2**20:>9.0f}  {proc.stdout.strip().splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
