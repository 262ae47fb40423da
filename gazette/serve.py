"""Preview server: build, serve on 127.0.0.1, rebuild when the site changes.

Open pages reload by themselves after each rebuild (a small script the
preview adds to the HTML it serves; the built files are the build's own).  A
failed rebuild does not stop the server: every page then shows the build's
problems, in the site's language, until the next successful build, which
clears them in the open page.  An edit to a record of a released issue
previews with a warning across the top (it must go out as a revision);
`gazette build` still refuses it.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .errors import GazetteError


def snapshot(site_dir: Path) -> dict[str, tuple[int, int]]:
    """mtime and size of every source file that affects the build (one scandir
    walk: polled twice a second, it stays cheap on a site of 10,000 records)."""
    from .safefs import stats_under

    out = {}
    for top in ("gazette.yaml", "content", "themes"):
        path = site_dir / top
        if path.is_file():
            try:
                st = path.stat()
            except OSError:  # replaced by a save at this very moment: the next poll sees it
                continue
            out[str(path)] = (st.st_mtime_ns, st.st_size)
        elif path.is_dir():
            for _, full, st in stats_under(path):
                if stat.S_ISLNK(st.st_mode):  # a link: the file it leads to (an edit there counts)
                    try:
                        st = os.stat(full)
                    except OSError:
                        pass
                out[full] = (st.st_mtime_ns, st.st_size)
    return out


class PreviewState:
    def __init__(self, site_dir: Path, out_dir: Path, base_path: str = "/", settings=None):
        from .model import RunSettings

        self.settings = settings or RunSettings()
        self.site_dir = site_dir
        self.out_dir = out_dir
        self.base_path = base_path
        self.error: str | None = None
        self.notices: list[str] = []  # warnings every page shows (changes to released issues)
        self.lang = "zh"  # the site's language, for the preview's own messages
        self.generation = 0  # one more after every rebuild: open pages reload on a change
        self.changed = threading.Condition()
        from .buildcache import Session

        self.session = Session()  # what a rebuild need not read again: the last build's load results and state

    def rebuild(self) -> None:
        from .pipeline import build

        notices: list[str] = []
        try:
            result = build(self.site_dir, self.out_dir, preview=True, settings=self.settings, session=self.session)
            self.base_path = result.site.config.base_url and urlsplit(result.site.config.base_url).path or "/"
            self.lang = result.site.default_lang
            notices = [d.format() for d in result.diagnostics.warnings if d.field == "released"]
            error = None
        except GazetteError as exc:
            error = exc.format_message()
        except Exception as exc:  # a preview must survive anything a half-saved file can cause
            error = f"internal error: {type(exc).__name__}: {exc}"
        with self.changed:
            self.error, self.notices = error, notices
            self.generation += 1
            self.changed.notify_all()
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] " + ("build failed:\n" + error if error else "rebuilt"), flush=True)

    def wait_for_change(self, since: int, timeout: float = 25.0) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.generation != since, timeout)
            return self.generation


RELOAD_PATH = "/__gazette/changes"
# the preview's own script: ask the server (long poll) and reload when a rebuild happened
RELOAD_SCRIPT = """<script>(function(){var g=%d;function poll(){fetch("%s?since="+g,{cache:"no-store"})
.then(function(r){return r.json()}).then(function(d){if(d.generation!==g){location.reload()}else{poll()}})
.catch(function(){setTimeout(poll,1000)})}poll()})();</script>"""


def error_page(message: str, lang: str, generation: int) -> bytes:
    from . import i18n

    return (
        f"<!DOCTYPE html><html lang=\"{html.escape(lang)}\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(i18n.t('preview_failed', lang))}</title>"
        "<style>body{font-family:sans-serif;margin:2rem}pre{background:#fdeceb;border:2px solid #a8201a;padding:1rem;white-space:pre-wrap}</style>"
        f"</head><body><h1>{html.escape(i18n.t('preview_failed', lang))}</h1><p>{html.escape(i18n.t('preview_fix', lang))}</p>"
        f"<pre>{html.escape(message)}</pre>{RELOAD_SCRIPT % (generation, RELOAD_PATH)}</body></html>"
    ).encode("utf-8")


def decorate(page: bytes, notices: list[str], lang: str, generation: int) -> bytes:
    """A served page: the reload script, and any preview warnings across the top."""
    from . import i18n

    text = page.decode("utf-8", "replace")
    if notices:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notices)
        banner = ('<div role="alert" style="background:#fff4ce;border-bottom:3px solid #8a5a00;color:#3d2a00;'
                  f'padding:.75rem 1rem;font-family:sans-serif"><strong>{html.escape(i18n.t("preview_released", lang))}</strong>'
                  f"<ul>{items}</ul></div>")
        text = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, text, count=1)
    script = RELOAD_SCRIPT % (generation, RELOAD_PATH)
    text = text.replace("</body>", script + "</body>", 1) if "</body>" in text else text + script
    return text.encode("utf-8")


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
        path = urlsplit(self.path).path
        if path == RELOAD_PATH:
            since = parse_qs(urlsplit(self.path).query).get("since", ["-1"])[0]
            generation = state.wait_for_change(int(since) if since.lstrip("-").isdigit() else -1)
            body = json.dumps({"generation": generation}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with state.changed:
            error, notices, lang, generation = state.error, list(state.notices), state.lang, state.generation
        if error and (path.endswith("/") or path.endswith(".html")):
            self._send_html(500, error_page(error, lang, generation))
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
        file = Path(self.translate_path(self.path))
        if file.is_dir() and (file / "index.html").is_file() and urlsplit(self.path).path.endswith("/"):
            file = file / "index.html"
        if file.suffix == ".html" and file.is_file():
            self._send_html(200, decorate(file.read_bytes(), notices, lang, generation))
            return
        super().do_GET()

    def send_error(self, code, message=None, explain=None):
        page = self.state.out_dir / "404.html"
        if code == 404 and page.is_file():
            state = self.state
            self._send_html(404, decorate(page.read_bytes(), state.notices, state.lang, state.generation))
            return
        super().send_error(code, message, explain)


def serve(site_dir: Path, port: int, host: str = "127.0.0.1", interval: float = 0.5, out_dir: Path | None = None,
          settings=None) -> None:
    """Build, serve and rebuild until stopped: Ctrl+C, or a termination or
    hang-up signal (a service manager, a closed terminal), after which the
    temporary output folder (without `out_dir`) is removed."""
    site_dir = Path(site_dir).resolve()
    _stop_on_signals()
    tmp = None
    try:
        if out_dir is None:
            tmp = Path(tempfile.mkdtemp(prefix="gazette-serve-"))
            out_dir = tmp / "site"
        _serve(site_dir, Path(out_dir), host, port, interval, settings)
    except KeyboardInterrupt:
        pass
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop the server as Ctrl+C does (the default action
    would end the process on the spot and leave its output folder behind).
    Only the main thread can be given signals."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, stop)


def _serve(site_dir: Path, out_dir: Path, host: str, port: int, interval: float, settings) -> None:
    state = PreviewState(site_dir, out_dir, settings=settings)
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
    finally:
        stop.set()
        server.server_close()
        watcher.join(timeout=60)  # a rebuild under way ends first: nothing is written after the folder goes
