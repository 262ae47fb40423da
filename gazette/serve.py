"""Preview server: build, serve on 127.0.0.1, rebuild when the site changes.

A failed rebuild does not stop the server: every page then shows the build's
problems until the next successful build.
"""
from __future__ import annotations

import html
import shutil
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from .errors import GazetteError


def snapshot(site_dir: Path) -> dict[str, float]:
    """mtime and size of every source file that affects the build."""
    out = {}
    for top in ("gazette.yaml", "content", "themes"):
        path = site_dir / top
        files = [path] if path.is_file() else (sorted(path.rglob("*")) if path.is_dir() else [])
        for f in files:
            try:
                st = f.stat()
            except FileNotFoundError:
                continue
            out[str(f)] = (st.st_mtime_ns, st.st_size)
    return out


class PreviewState:
    def __init__(self, site_dir: Path, out_dir: Path, base_path: str = "/"):
        self.site_dir = site_dir
        self.out_dir = out_dir
        self.base_path = base_path
        self.error: str | None = None
        self.lock = threading.Lock()
        self.builds = 0

    def rebuild(self) -> None:
        from .pipeline import build

        try:
            result = build(self.site_dir, self.out_dir)
            self.base_path = result.site.config.base_url and urlsplit(result.site.config.base_url).path or "/"
            error = None
        except GazetteError as exc:
            error = exc.format_message()
        except Exception as exc:  # a preview must survive anything a half-saved file can cause
            error = f"internal error: {type(exc).__name__}: {exc}"
        with self.lock:
            self.error = error
            self.builds += 1
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] " + ("build failed:\n" + error if error else "rebuilt"), flush=True)


def error_page(message: str) -> bytes:
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Build error</title>"
        "<style>body{font-family:sans-serif;margin:2rem}pre{background:#fdeceb;border:2px solid #a8201a;padding:1rem;white-space:pre-wrap}</style>"
        "</head><body><h1>The site did not build</h1><p>Fix the problems below and save; this page reloads the build.</p>"
        f"<pre>{html.escape(message)}</pre></body></html>"
    ).encode("utf-8")


class Handler(SimpleHTTPRequestHandler):
    state: PreviewState

    def log_message(self, format, *args):  # quiet
        pass

    def _send_html(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        state = self.state
        with state.lock:
            error = state.error
        path = urlsplit(self.path).path
        if error and (path.endswith("/") or path.endswith(".html")):
            self._send_html(500, error_page(error))
            return
        base = state.base_path
        if base != "/" and not path.startswith(base):
            if path in ("/", base.rstrip("/")):
                self.send_response(302)
                self.send_header("Location", base)
                self.end_headers()
                return
            self.send_error(404)
            return
        if base != "/":
            self.path = "/" + self.path[len(base):]
        super().do_GET()

    def send_error(self, code, message=None, explain=None):
        page = self.state.out_dir / "404.html"
        if code == 404 and page.is_file():
            self._send_html(404, page.read_bytes())
            return
        super().send_error(code, message, explain)


def serve(site_dir: Path, port: int, host: str = "127.0.0.1", interval: float = 0.5, out_dir: Path | None = None) -> None:
    site_dir = Path(site_dir).resolve()
    tmp = None
    if out_dir is None:
        tmp = Path(tempfile.mkdtemp(prefix="gazette-serve-"))
        out_dir = tmp / "site"
    state = PreviewState(site_dir, Path(out_dir))
    # Snapshot before the first build: a file saved during the build, or before
    # the watcher thread gets going, still triggers a rebuild.
    initial = snapshot(site_dir)
    state.rebuild()
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), partial(handler, directory=str(out_dir)))
    url = f"http://{host}:{server.server_address[1]}{state.base_path}"
    print(f"serving {site_dir} at {url} (Ctrl+C to stop)", flush=True)

    stop = threading.Event()

    def watch():
        before = initial
        while not stop.wait(interval):
            now = snapshot(site_dir)
            if now != before:
                before = now
                state.rebuild()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
