"""Internal links and anchors, checked on every build.

While pages are written, each page's relative links (`href`, `src`) and its
element ids are noted; at the end every link must name a file the build
wrote, and every `#fragment` an id on that page.  One compiled regular
expression per page: a few seconds for tens of thousands of pages.
"""
from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

_LINK_RE = re.compile(rb'\s(?:href|src)="([^"]*)"')
_ID_RE = re.compile(rb'\sid="([^"]+)"')


class InternalLinks:
    """Per page file: its links as (target file, fragment) and its element ids,
    each packed into one string (cheap to keep for tens of thousands of pages,
    and to carry over for a page an incremental build reuses)."""

    def __init__(self):
        self.pages: dict[str, tuple[str, str]] = {}  # page file -> (packed links, packed ids)

    @staticmethod
    def scan(file: str, html: bytes) -> tuple[str, str]:
        base = posixpath.dirname(file)
        ids = {m.decode("utf-8", "replace") for m in _ID_RE.findall(html)}
        found = set()
        for raw in set(_LINK_RE.findall(html)):
            link = raw.decode("utf-8", "replace").replace("&amp;", "&")
            if not link or link.startswith(("http:", "https:", "mailto:", "tel:", "data:", "//", "/")) or ":" in link.split("/")[0]:
                continue
            path, _, fragment = link.partition("#")
            path = path.split("?", 1)[0]
            if not path:
                target = file
            else:
                target = posixpath.normpath(posixpath.join(base, unquote(path)))
                if path.endswith("/") or target == ".":
                    target = (target + "/index.html") if target != "." else "index.html"
            found.add(f"{target}\0{unquote(fragment)}")
        return "\1".join(sorted(found)), "\0".join(sorted(ids))

    def page(self, file: str, html: bytes) -> None:
        self.pages[file] = self.scan(file, html)

    def add(self, file: str, packed: tuple[str, str]) -> None:
        self.pages[file] = packed

    def update(self, other: "InternalLinks") -> None:
        self.pages.update(other.pages)

    def problems(self, written: set[str]) -> list[str]:
        out = []
        ids: dict[str, set[str]] = {}
        for file in sorted(self.pages):
            links = self.pages[file][0]
            for item in links.split("\1") if links else ():
                target, _, fragment = item.partition("\0")
                if target.startswith("../") or target not in written:
                    out.append(f"{file} links to {target}, which this build does not write")
                elif fragment and target in self.pages:
                    if target not in ids:
                        ids[target] = set(self.pages[target][1].split("\0"))
                    if fragment not in ids[target]:
                        out.append(f"{file} links to {target}#{fragment}, which has no such anchor")
        return out
