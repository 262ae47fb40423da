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
    def __init__(self):
        self.links: list[tuple[str, str, str]] = []  # (page file, target file, fragment)
        self.ids: dict[str, set[str]] = {}

    def page(self, file: str, html: bytes) -> None:
        base = posixpath.dirname(file)
        self.ids[file] = {m.decode("utf-8", "replace") for m in _ID_RE.findall(html)}
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
            self.links.append((file, target, unquote(fragment)))

    def problems(self, written: set[str]) -> list[str]:
        out = []
        for file, target, fragment in sorted(set(self.links)):
            if target.startswith("../") or target not in written:
                out.append(f"{file} links to {target}, which this build does not write")
            elif fragment and target in self.ids and fragment not in self.ids[target]:
                out.append(f"{file} links to {target}#{fragment}, which has no such anchor")
        return out
