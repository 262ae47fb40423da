#!/usr/bin/env python3
"""PDF benchmark on the synthetic corpus.

    python3 benchmarks/pdf_bench.py [--n 1000] [--records 120]

1. throughput: record PDFs for the first R public records, cold cache, with
   one and with two worker processes -> pages per second and the speed-up;
2. one 60-record issue PDF: time and peak memory (in its own process);
3. a full build with PDFs of the N-record site, cold, then again with nothing
   changed (every PDF from the cache).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from build_bench import ensure_site, run_measured  # noqa: E402

os.environ.setdefault("SOURCE_DATE_EPOCH", "1735689600")


def load(site_dir: Path):
    from gazette.model import RunSettings
    from gazette.pipeline import load_and_resolve

    site, _ = load_and_resolve(site_dir, pdf=False, settings=RunSettings.from_environ(os.environ))
    return site


def throughput(site_dir: Path, count: int, workers: int) -> tuple[float, int]:
    import pypdf
    from gazette import resources
    from gazette.render.pdf import PdfJob, PdfRenderer

    site = load(site_dir)
    cache = Path(tempfile.mkdtemp(prefix="pdfbench-"))
    try:
        renderer = PdfRenderer(site, resources.builtin_theme(), cache, workers)
        records = site.public[:count]
        jobs = [PdfJob(r.id, renderer.record_html(r, site.default_lang)) for r in records]
        start = time.perf_counter()
        out = renderer.run(jobs)
        wall = time.perf_counter() - start
        pages = sum(len(pypdf.PdfReader(str(p)).pages) for p in out.values())
        return wall, pages
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def vm_hwm() -> int:
    """Peak resident memory of this process image, in bytes (VmHWM is reset on
    exec, unlike ru_maxrss, which a spawned child inherits from its parent)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _issue_child(site_dir: str, size: int, queue) -> None:
    import pypdf
    from gazette import resources
    from gazette.model import Issue, IssueSection
    from gazette.render.pdf import PdfRenderer, render_pdf_bytes

    site = load(Path(site_dir))
    records = [r for r in site.public if r.type == "policy"][:size]
    issue = Issue(key="2099-01", year=2099, number=1, published=site.build_date,
                  sections=[IssueSection(title={"zh": "市政府文件"}, records=records)], path=Path(site_dir))
    renderer = PdfRenderer(site, resources.builtin_theme(), Path(tempfile.mkdtemp()), 1)
    html = renderer.issue_html(issue, site.default_lang)
    before = vm_hwm()
    start = time.perf_counter()
    data = render_pdf_bytes(html, site.config.base_url, site.config.pdf.variant)
    wall = time.perf_counter() - start
    import io
    pages = len(pypdf.PdfReader(io.BytesIO(data)).pages)
    queue.put((wall, pages, vm_hwm(), before))


def issue_pdf(site_dir: Path, size: int):
    queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_issue_child, args=(str(site_dir), size, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="records in the synthetic site")
    ap.add_argument("--records", type=int, default=120, help="record PDFs for the throughput test")
    ap.add_argument("--skip-full", action="store_true", help="skip the full build with PDFs")
    args = ap.parse_args()
    site_dir = ensure_site(args.n)

    results = {}
    for workers in (1, 2):
        wall, pages = throughput(site_dir, args.records, workers)
        results[workers] = (wall, pages)
        print(f"record PDFs, {workers} worker(s): {args.records} PDFs, {pages} pages in {wall:.1f} s = "
              f"{pages / wall:.1f} pages/s, {wall / args.records:.3f} s per record", flush=True)
    print(f"parallel speed-up (2 vs 1 workers): {results[1][0] / results[2][0]:.2f}x", flush=True)

    wall, pages, peak, base = issue_pdf(site_dir, 60)
    print(f"60-record issue PDF: {pages} pages in {wall:.1f} s, peak RSS {peak / 2**20:.0f} MiB "
          f"(process before rendering: {base / 2**20:.0f} MiB)", flush=True)

    if not args.skip_full:
        cache = Path(tempfile.mkdtemp(prefix="pdfbench-full-"))
        env = dict(os.environ, GAZETTE_CACHE_DIR=str(cache))
        out = HERE / "out" / f"pdf-{args.n}"
        cmd = [sys.executable, "-m", "gazette.cli", "build", "--pdf", "--site", str(site_dir), "--out", str(out)]
        for label in ("cold (every PDF rendered)", "unchanged rebuild"):
            wall, peak, proc = run_measured(cmd, env)
            if proc.returncode:
                print(proc.stdout, proc.stderr, file=sys.stderr)
                return 1
            print(f"full build with PDFs, {label}: {wall:.1f} s, peak {peak / 2**20:.0f} MiB: {proc.stdout.strip().splitlines()[-1]}", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
