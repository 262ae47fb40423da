"""Internal links and anchors, checked on every build.

While pages are written, each page's relative links (`href`, `src`) and its
element ids are noted; at the end every link must name a file the build
wrote, and every `#fragment` an id on that page.  One compiled regular
expression per page: a few seconds for tens of thousands of pages.
"""
from __future__ import annotations

import functools
import posixpath
import re
from urllib.parse import unquote

# Literal searches (a fast scan), each hit kept only after white space: the
# attribute itself, not the tail of another name (data-src, data-id).
_HREF_RE = re.compile(rb'href="([^"]*)"')
_SRC_RE = re.compile(rb'src="([^"]*)"')
_ID_RE = re.compile(rb'id="([^"]+)"')
_SPACE = frozenset(b" \t\n\r\f\v")


def _values(pattern: re.Pattern, html: bytes) -> set[bytes]:
    return {m[1] for m in pattern.finditer(html) if m.start() and html[m.start() - 1] in _SPACE}


@functools.lru_cache(maxsize=65536)
def _parse(raw: bytes) -> tuple | None:
    """A link as written -> (leading '../' count, the rest normalised, names a
    folder, fragment, path as written, where it leads from a page as many
    folders deep as it climbs); None for a link that leaves the site (another
    scheme, an absolute path).  The same few thousand links recur on every
    page: each is parsed once."""
    link = raw.decode("utf-8", "replace").replace("&amp;", "&")
    if not link or link.startswith(("http:", "https:", "mailto:", "tel:", "data:", "//", "/")) or ":" in link.split("/")[0]:
        return None
    path, _, fragment = link.partition("#")
    path = path.split("?", 1)[0]
    plain = unquote(path)
    ups = 0
    while plain.startswith("../"):
        plain, ups = plain[3:], ups + 1
    rest = posixpath.normpath(plain) if plain else "."
    if rest.startswith(("..", "/")):
        ups = -1  # resolved the long way
    parsed = (ups, rest, path.endswith("/"), unquote(fragment), path)
    # most links of a page lead back to the site's root and on from there
    # ("../../records/x/"): where they lead does not depend on the page's folder
    return parsed + (_target("", (0,) + parsed[1:]) if ups >= 0 and path else None,)


def _target(base: str, parsed: tuple) -> str | None:
    """Where a parsed link on a page in folder `base` leads: "file\0fragment"."""
    ups, rest, folder, fragment, path = parsed[:5]
    if not path:
        return None  # this very page: the caller's
    parts = base.split("/") if base else []
    if 0 <= ups <= len(parts):
        head = parts[:len(parts) - ups]
        target = "/".join(head + [rest] if rest != "." else head) or "."
    else:
        target = posixpath.normpath(posixpath.join(base, unquote(path)))
    if folder or target == ".":
        target = (target + "/index.html") if target != "." else "index.html"
    return f"{target}\0{fragment}"


class InternalLinks:
    """Per page file: its links as (target file, fragment) and its element ids,
    each packed into one string (cheap to keep for tens of thousands of pages,
    and to carry over for a page an incremental build reuses)."""

    def __init__(self):
        self.pages: dict[str, tuple[str, str]] = {}  # page file -> (packed links, packed ids)

    @staticmethod
    def scan(file: str, html: bytes) -> tuple[str, str]:
        base = posixpath.dirname(file)
        depth = base.count("/") + 1 if base else 0
        ids = {m.decode("utf-8", "replace") for m in _values(_ID_RE, html)}
        found = set()
        for raw in _values(_HREF_RE, html) | _values(_SRC_RE, html):
            parsed = _parse(raw)
            if parsed is None:
                continue
            if parsed[0] == depth and parsed[5] is not None:
                found.add(parsed[5])
            else:
                found.add(_target(base, parsed) or f"{file}\0{parsed[3]}")
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
