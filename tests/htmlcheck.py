"""Reading built HTML for the invariant tests (links, anchors, resources)."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit


class PageScan(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.loads: list[tuple[str, str]] = []  # resources the browser fetches: (tag, url)
        self.ids: set[str] = set()
        self.lang: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        for attr in ("href", "src"):
            if a.get(attr) is not None:
                self.links.append((tag, attr, a[attr]))
        if tag in ("script", "img", "iframe", "source", "video", "audio", "embed", "object") and a.get("src"):
            self.loads.append((tag, a["src"]))
        if tag == "link" and set((a.get("rel") or "").split()) & {"stylesheet", "icon", "preload", "modulepreload"}:
            self.loads.append((tag, a.get("href") or ""))


def scan(path: Path) -> PageScan:
    p = PageScan()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def html_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def target_file(out: Path, base_path: str, url: str) -> Path | None:
    """The output file an absolute same-site URL path points at."""
    path = unquote(urlsplit(url).path)
    if not path.startswith(base_path):
        return None
    rel = path[len(base_path):]
    if rel == "" or rel.endswith("/"):
        rel += "index.html"
    return out / rel


def page_url(out: Path, base_path: str, file: Path) -> str:
    rel = file.relative_to(out).as_posix()
    if rel.endswith("index.html"):
        rel = rel[: -len("index.html")]
    return "http://site.test" + base_path + rel


def resolve(page: str, link: str) -> str:
    return urljoin(page, link)
