#!/usr/bin/env python3
"""Scale, stage by stage: synthetic sites of 1,000, 10,000 and 30,000 records.

    .venv/bin/python benchmarks/scale_bench.py [--sizes 1000 10000 30000] [--pdfs 40]

For each size, one clean cold build with HTML and search (no PDFs) in a fresh
process, timed per stage:

  load      read, parse and validate every record file (worker processes)
  resolve   relations, issues, the archive, publication rules
  render    pages (worker processes), data files, feeds, sitemap
  search    Pagefind, one index per year, a year per core
  finish    link check, manifest, publishing the output, the build cache

with each stage's wall time, CPU time (the build process and its workers)
and peak memory (PSS of the process tree, sampled every 50 ms: the samples
taken while the stage ran).  Then, with --pdfs N, N record PDFs of the site
with the local pool (2 workers): seconds per PDF, for the projection.

The build runs in a child process that reports its stage boundaries on a
pipe; the parent samples memory, so the sampling is not in the build's
process.  Figures feed docs/scale.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from build_bench import ensure_site, tree_rss  # noqa: E402

EPOCH = "1735689600"
STAGES = ("load", "resolve", "render", "search", "finish")


def driver(site: Path, out: Path, cache: Path) -> None:
    """In the child: the build, with a line on stdout at each stage's end."""
    import functools

    from gazette import pipeline
    from gazette.model import RunSettings

    def mark(stage: str) -> None:
        t = os.times()
        print(json.dumps({"stage": stage, "t": time.monotonic(), "cpu": t.user + t.system,
                          "children": t.children_user + t.children_system}), flush=True)

    def after(owner, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def wrapped(*args, **kwargs):
            result = inner(*args, **kwargs)
            mark(stage)
            return result
        setattr(owner, name, wrapped)

    after(pipeline, "load_site", "load")
    after(pipeline, "load_and_resolve", "resolve")
    after(pipeline, "write_site", "render")
    after(pipeline.search, "index", "search")
    mark("start")
    result = pipeline.build(site, out, pdf=False, with_search=True, clean=True,
                            settings=RunSettings(source_date_epoch=EPOCH, cache_dir=cache))
    mark("finish")
    print(json.dumps({"done": True, "pages": result.pages, "files": result.files, "records": len(result.site.public)}),
          flush=True)


def measure(site: Path, work: Path) -> dict:
    """One build in a child process: per stage wall, CPU and peak memory."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--driver", str(site), str(work / "out"), str(work / "cache")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, SOURCE_DATE_EPOCH=EPOCH))
    marks: list[dict] = []
    done: dict = {}

    def read() -> None:
        for line in proc.stdout:
            item = json.loads(line)
            (done.update if "done" in item else marks.append)(item)
    reader = threading.Thread(target=read)
    reader.start()
    samples: list[tuple[float, int]] = []
    while proc.poll() is None:
        samples.append((time.monotonic(), tree_rss(proc.pid)))
        time.sleep(0.05)
    reader.join()
    if proc.returncode or not done:
        raise SystemExit(f"the build of {site} failed ({proc.returncode})")
    rows = {}
    for before, now in zip(marks, marks[1:]):
        inside = [pss for t, pss in samples if before["t"] <= t <= now["t"]]
        rows[now["stage"]] = {"wall": now["t"] - before["t"],
                              "cpu": (now["cpu"] - before["cpu"]) + (now["children"] - before["children"]),
                              "peak": max(inside, default=0)}
    return {"rows": rows, "total": marks[-1]["t"] - marks[0]["t"], "peak": max(p for _, p in samples), **done}


def allow_lookalikes(site: Path) -> int:
    """The generator's canary strings (CANARY-ID-NNNNNNNN) sometimes hold a
    run of digits that reads as a mobile number, and gazette refuses to build
    a record with one.  As an editor would, list each such string under the
    record's pii_allow.  -> records changed."""
    from gazette import review

    changed = 0
    for path in sorted((site / "content" / "records").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        hits = sorted({hit for _, hit, _ in review.find_pii(text)})
        if hits and "\npii_allow:" not in text:
            allow = "pii_allow: [" + ", ".join(json.dumps(h, ensure_ascii=False) for h in hits) + "]\n"
            path.write_text(text.replace("\n---\n", "\n" + allow + "---\n", 1), encoding="utf-8")
            changed += 1
    return changed


def pdf_seconds(site: Path, count: int) -> float:
    """Seconds per record PDF, the local pool with 2 workers, cold cache."""
    from gazette import resources
    from gazette.model import RunSettings
    from gazette.pipeline import load_and_resolve
    from gazette.render.pdf import PdfJob, PdfRenderer

    loaded, _ = load_and_resolve(site, pdf=False, settings=RunSettings(source_date_epoch=EPOCH))
    cache = Path(tempfile.mkdtemp(prefix="scale-pdf-"))
    try:
        renderer = PdfRenderer(loaded, resources.builtin_theme(), cache, 2)
        jobs = [PdfJob(r.id, renderer.record_html(r, loaded.default_lang)) for r in loaded.public[:count]]
        start = time.perf_counter()
        renderer.run(jobs)
        return (time.perf_counter() - start) / len(jobs)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--driver":
        driver(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 30000])
    ap.add_argument("--pdfs", type=int, default=0, help="also time N record PDFs per size (local pool, 2 workers)")
    args = ap.parse_args()
    print(f"{'records':>8} {'stage':>8} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9}", flush=True)
    for n in args.sizes:
        site = ensure_site(n)
        allow_lookalikes(site)
        work = Path(tempfile.mkdtemp(prefix=f"scale-{n}-"))
        try:
            got = measure(site, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for stage in STAGES:
            row = got["rows"].get(stage)
            if row:
                print(f"{n:>8} {stage:>8} {row['wall']:>8.1f} {row['cpu']:>8.1f} {row['peak'] / 2**20:>9.0f}", flush=True)
        print(f"{n:>8} {'total':>8} {got['total']:>8.1f} {'':>8} {got['peak'] / 2**20:>9.0f}  "
              f"({got['records']} public records, {got['pages']} pages, {got['files']} files)", flush=True)
        if args.pdfs:
            print(f"{n:>8} {'pdf':>8} {pdf_seconds(site, args.pdfs):>8.2f} s per record PDF (2 workers, {args.pdfs} PDFs)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
