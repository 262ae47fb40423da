"""Shared fixtures: sample sites built once per test session.

Valid sample sites: the bundled gazette (repository root), tests/sites/valid/*,
and a synthetic site from ../shared/bench/gen_corpus.py (with canaries).
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITES = ROOT / "tests" / "sites"
SHARED = ROOT.parent / "shared"
EPOCH = "1735689600"  # 2025-01-01 08:00 in Asia/Shanghai: every build date in the tests
os.environ["SOURCE_DATE_EPOCH"] = EPOCH
# the suite's own cache folder, removed when the run ends (pytest_unconfigure)
_OWN_CACHE = None if "GAZETTE_CACHE_DIR" in os.environ else tempfile.mkdtemp(prefix="gazette-test-cache-")
if _OWN_CACHE:
    os.environ["GAZETTE_CACHE_DIR"] = _OWN_CACHE
# the library reads no environment: what the command line would read, for the
# tests that call it directly (CLI runs read the two variables above)
CACHE = Path(os.environ["GAZETTE_CACHE_DIR"])

# Set by .ci/wheel-test: the suite runs against gazette installed from its wheel
# into this environment, and must not pick up the source tree by accident.
INSTALLED = os.environ.get("GAZETTE_TEST_INSTALLED")


def settings(cache: Path | None = None):
    """RunSettings as the command line would make them here: the tests' build
    date, and the tests' cache (or `cache`)."""
    from gazette.model import RunSettings

    return RunSettings(EPOCH, cache or CACHE)


def pytest_configure(config):
    import gazette

    where = Path(gazette.__file__).resolve()
    if INSTALLED and (not where.is_relative_to(Path(INSTALLED).resolve()) or where.is_relative_to(ROOT)):
        pytest.exit(f"testing the installed gazette in {INSTALLED}, but imported {where}", returncode=3)


def pytest_unconfigure(config):
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@dataclass
class Built:
    name: str
    site_dir: Path
    out: Path
    result: object
    canaries: list[str]


def _synthetic(tmp: Path, n: int = 300) -> tuple[Path, list[str]]:
    site = tmp / "synthetic"
    canaries = tmp / "synthetic.canaries"
    gen = SHARED / "bench" / "gen_corpus.py"
    subprocess.run([sys.executable, str(gen), "--flavor", "gazette", "--n", str(n), "--out", str(site),
                    "--canaries-out", str(canaries)], check=True, capture_output=True)
    return site, [c for c in canaries.read_text(encoding="utf-8").split() if c]


def valid_site_names() -> list[str]:
    return ["bundled", "synthetic"] + sorted(p.name for p in (SITES / "valid").iterdir() if p.is_dir())


@pytest.fixture(scope="session")
def built_sites(tmp_path_factory) -> dict[str, Built]:
    from gazette.pipeline import build

    tmp = tmp_path_factory.mktemp("built")
    out: dict[str, Built] = {}
    for name in valid_site_names():
        canaries: list[str] = []
        if name == "bundled":
            site_dir = ROOT
        elif name == "synthetic":
            site_dir, canaries = _synthetic(tmp)
        else:
            site_dir = SITES / "valid" / name
        # the synthetic site has hundreds of records: HTML only (PDFs are tested on the others)
        result = build(site_dir, tmp / f"out-{name}", pdf=(name != "synthetic"), settings=settings())
        out[name] = Built(name, site_dir, tmp / f"out-{name}", result, canaries)
    return out


@pytest.fixture(params=valid_site_names())
def built(request, built_sites) -> Built:
    return built_sites[request.param]


class Server:
    """Serves a built site over HTTP at its base_url's path, as a web server would."""

    def __init__(self, root: Path, base_path: str = "/"):
        self.base_path = base_path
        parent = root.parent / f"srv-{root.name}"
        if not parent.exists():
            target = parent / base_path.strip("/") if base_path.strip("/") else parent
            target.parent.mkdir(parents=True, exist_ok=True)
            if target == parent:
                shutil.copytree(root, parent)
            else:
                os.symlink(root, target)
        handler = functools.partial(_QuietHandler, directory=str(parent))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{base_path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def end_headers(self):
        # one browser serves many test sites, and a port can come round again:
        # never let it answer from its cache with another site's files
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@pytest.fixture(scope="session")
def servers(built_sites):
    from urllib.parse import urlsplit

    made = {}

    def get(name: str) -> Server:
        if name not in made:
            b = built_sites[name]
            made[name] = Server(b.out, urlsplit(b.result.site.config.base_url).path)
        return made[name]

    yield get
    for s in made.values():
        s.close()


@pytest.fixture(scope="session")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()
