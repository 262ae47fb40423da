#!/usr/bin/env python3
"""Cost of running themes sandboxed: render every page of a synthetic site
with Jinja's SandboxedEnvironment (what gazette uses) and with a plain
Environment, alternating, in one process (HTML only, nothing written).

    .venv/bin/python benchmarks/sandbox_bench.py --n 10000 [--rounds 3]
"""
from __future__ import annotations

import os
import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GEN = HERE.parent.parent / "shared" / "bench" / "gen_corpus.py"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    site = HERE / "out" / f"gazette-{args.n}"
    if not (site / "gazette.yaml").is_file():
        subprocess.run([sys.executable, str(GEN), "--flavor", "gazette", "--n", str(args.n), "--out", str(site)], check=True)

    import jinja2

    from gazette import resources
    from gazette.model import RunSettings
    from gazette.pipeline import load_and_resolve
    from gazette.render import theme
    from gazette.render.html import HtmlRenderer

    site_obj, _ = load_and_resolve(site, pdf=False, settings=RunSettings.from_environ(os.environ))
    renderer = HtmlRenderer(site_obj, resources.builtin_theme(), search=False)
    from jinja2.sandbox import SandboxedEnvironment

    sandboxed = SandboxedEnvironment(loader=theme.theme_loader(site_obj.root, site_obj.config.theme, resources.builtin_theme()),
                                     autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    sandboxed.filters.update(renderer.env.filters)
    plain = jinja2.Environment(loader=theme.theme_loader(site_obj.root, site_obj.config.theme, resources.builtin_theme()),
                               autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    plain.filters.update(renderer.env.filters)
    pages = list(renderer.pages())
    times: dict[str, list[float]] = {"sandboxed": [], "plain": []}
    for _ in range(args.rounds):
        for name, env in (("sandboxed", sandboxed), ("plain", plain)):
            renderer.env = env
            start = time.perf_counter()
            for page in pages:
                renderer.render(page)
            times[name].append(time.perf_counter() - start)
    s, p = statistics.median(times["sandboxed"]), statistics.median(times["plain"])
    print(f"{len(pages)} pages of {args.n} records, median of {args.rounds} rounds: "
          f"sandboxed {s:.2f} s, plain {p:.2f} s, ratio {s / p:.3f} ({(s - p) / p * 100:+.1f}%)")


if __name__ == "__main__":
    main()
