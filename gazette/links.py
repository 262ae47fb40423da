"""Link health [阅办联动 不断链]: every external link a gazette publishes, checked.

`gazette check --links` collects the online-service URLs (services.yaml and
the records that link them), `source_url`, consultation `feedback.url` and
every http(s) link in record bodies, then asks each host, a bounded number at
a time: HEAD first, GET when HEAD is refused, redirects followed one by one
(and reported), timeouts and connection errors retried with back-off.  A link
that ends in 4xx/5xx, a redirect loop, a refused connection or a timeout is
broken (an error); 429 and 503 mean "try later" and are warnings.
"""
from __future__ import annotations

import html
import re
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from . import __version__
from .model import Site

MAX_REDIRECTS = 10
_HREF_RE = re.compile(r'<a\b[^>]*\bhref="(https?://[^"]+)"')


@dataclass(frozen=True)
class Use:
    """Where a link is published: file, line and field."""

    path: Path
    line: int | None
    field: str
    record: str | None = None


@dataclass
class Outcome:
    url: str
    status: int | None = None
    final_url: str | None = None
    redirects: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None
    severity: str = "ok"  # 'ok' | 'warning' | 'error'

    def describe(self) -> str:
        if self.error:
            return self.error
        text = f"HTTP {self.status}"
        if self.redirects:
            text += " after " + " -> ".join(f"{code} {url}" for code, url in self.redirects)
        return text


def collect(site: Site) -> dict[str, list[Use]]:
    """Every external URL of the public site, with where it comes from."""
    uses: dict[str, list[Use]] = {}

    def add(url: str, use: Use) -> None:
        uses.setdefault(url, []).append(use)

    services_file = site.root / "content" / "_taxonomy" / "services.yaml"
    service_lines = _key_lines(services_file)
    for key, entry in sorted(site.taxonomies.get("services", {}).items()):
        add(entry.url, Use(services_file, service_lines.get(key), f"{key}.url"))
    for record in sorted(site.public, key=lambda r: r.id):
        meta = record.meta
        for i, key in enumerate(getattr(meta, "services", []) or []):
            entry = site.taxonomies.get("services", {}).get(key)
            if entry:
                add(entry.url, Use(record.path, record.line("services", i), f"services[{i}]", record.id))
        if meta.source_url:
            add(meta.source_url, Use(record.path, record.line("source_url"), "source_url", record.id))
        feedback = getattr(meta, "feedback", None)
        if feedback is not None and feedback.url:
            add(feedback.url, Use(record.path, record.line("feedback", "url"), "feedback.url", record.id))
        for edition in record.editions.values():
            lines = edition.path.read_text(encoding="utf-8").split("\n")
            for url in sorted(set(html.unescape(u) for u in _HREF_RE.findall(edition.body_html))):
                line = next((n for n, text in enumerate(lines, 1) if url in text), None)
                add(url, Use(edition.path, line, "body", record.id))
    return uses


def _key_lines(path: Path) -> dict[str, int]:
    out = {}
    if path.is_file():
        for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            m = re.match(r"^([a-z0-9][a-z0-9-]*)\s*:", line)
            if m:
                out.setdefault(m.group(1), n)
    return out


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # answered 3xx: followed by hand, so every hop is seen


class Checker:
    """Checks URLs with bounded concurrency per host and in all."""

    def __init__(self, timeout: float = 10.0, retries: int = 2, backoff: float = 1.0, per_host: int = 2,
                 workers: int = 8, sleep=time.sleep):
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.per_host, self.workers, self.sleep = per_host, workers, sleep
        self.opener = urllib.request.build_opener(_NoRedirect)
        self.opener.addheaders = [("User-Agent", f"gazette/{__version__} link check")]
        self._hosts: dict[str, threading.Semaphore] = {}
        self._lock = threading.Lock()

    def _host(self, url: str) -> threading.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            return self._hosts.setdefault(host, threading.Semaphore(self.per_host))

    def _request(self, url: str, method: str) -> tuple[int, str | None]:
        """-> (status, Location header or None).  Raises OSError on network failure."""
        req = urllib.request.Request(url, method=method)
        with self._host(url):
            try:
                with self.opener.open(req, timeout=self.timeout) as resp:
                    return resp.status, None
            except urllib.error.HTTPError as exc:
                location = exc.headers.get("Location") if exc.headers else None
                exc.close()
                return exc.code, location

    def _once(self, url: str) -> tuple[int, str | None]:
        """HEAD, then GET where HEAD is not allowed; network errors retried with back-off."""
        attempt = 0
        while True:
            try:
                status, location = self._request(url, "HEAD")
                if status in (400, 403, 404, 405, 501) and location is None:
                    status, location = self._request(url, "GET")  # some servers refuse HEAD only
                return status, location
            except (OSError, ValueError) as exc:
                attempt += 1
                if attempt > self.retries or isinstance(exc, ValueError):
                    raise
                self.sleep(self.backoff * 2 ** (attempt - 1))

    def check(self, url: str) -> Outcome:
        out = Outcome(url)
        seen = {url}
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                status, location = self._once(current)
            except TimeoutError:
                out.error, out.severity = f"no answer within {self.timeout:g} s", "error"
                return out
            except (OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                out.error, out.severity = f"cannot connect: {reason}", "error"
                return out
            out.status = status
            if 300 <= status < 400 and location:
                target = urljoin(current, location)
                out.redirects.append((status, target))
                if target in seen:
                    out.error, out.severity = "redirect loop: " + " -> ".join(u for _, u in out.redirects), "error"
                    return out
                if urlsplit(target).scheme not in ("http", "https"):
                    out.error, out.severity = f"redirects to a non-web address {target}", "error"
                    return out
                seen.add(target)
                current = target
                continue
            out.final_url = current
            if status in (429, 503):
                out.severity = "warning"  # busy or rate-limited: try later, not broken
            elif status >= 400:
                out.severity = "error"
            elif out.redirects:
                out.severity = "warning"  # works, but the link should be updated
            return out
        out.error, out.severity = f"more than {MAX_REDIRECTS} redirects", "error"
        return out

    def check_all(self, urls: list[str], progress=None) -> dict[str, Outcome]:
        results: dict[str, Outcome] = {}
        task = progress.task("checking links", len(urls), "links") if progress else None
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(urls) or 1))) as pool:
            for url, outcome in zip(urls, pool.map(self.check, urls)):
                results[url] = outcome
                if task:
                    task.advance()
        if task:
            task.close()
        return results


def message(outcome: Outcome) -> str:
    if outcome.severity == "warning" and outcome.status in (429, 503):
        return f"{outcome.url}: HTTP {outcome.status} (busy or rate-limited; not counted as broken, check again later)"
    if outcome.severity == "warning":
        return f"{outcome.url}: redirects ({outcome.describe()}); link to {outcome.final_url} instead"
    return f"{outcome.url}: broken link ({outcome.describe()})"
