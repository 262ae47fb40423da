"""Markdown to safe HTML.

CommonMark with tables (markdown-it-py).  Two gazette-specific rules:

* a soft line break between two CJK characters renders as nothing (in CJK
  text a newline in the source is not a word space);
* headings shift down one level: the record title is the page's only <h1>.

Everything then passes through nh3 (the Ammonia sanitiser) with an allow-list,
so raw HTML from an editor or an import cannot bring scripts, event handlers,
`javascript:` URLs or frames into a page.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import nh3
from markdown_it import MarkdownIt

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del",
    "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr",
    "u", "ul", "var",
}
_ALLOWED_ATTRIBUTES = {
    "*": {"lang", "title", "dir"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start", "reversed", "type"},
    "td": {"colspan", "rowspan", "style"},
    "th": {"colspan", "rowspan", "scope", "style"},
    "time": {"datetime"},
    "abbr": {"title"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel"}
_ALLOWED_STYLES = {"text-align"}


def _is_cjk(ch: str) -> bool:
    if not ch:
        return False
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF  # radicals, kana, CJK symbols & punctuation, unified ideographs
        or 0xAC00 <= o <= 0xD7AF  # Hangul
        or 0xF900 <= o <= 0xFAFF
        or 0xFE30 <= o <= 0xFE4F
        or 0xFF00 <= o <= 0xFFEF  # full-width forms
        or 0x20000 <= o <= 0x3FFFF
    )


def _cjk_softbreaks(state) -> None:
    for token in state.tokens:
        if token.type != "inline" or not token.children:
            continue
        children = token.children
        for i, child in enumerate(children):
            if child.type != "softbreak":
                continue
            before = _edge_text(children, i, -1)
            after = _edge_text(children, i, +1)
            if _is_cjk(before) and _is_cjk(after):
                child.type = "text"
                child.content = ""


def _edge_text(children, i: int, step: int) -> str:
    j = i + step
    while 0 <= j < len(children):
        tok = children[j]
        if tok.type in ("text", "code_inline") and tok.content:
            return tok.content[-1] if step < 0 else tok.content[0]
        if tok.type in ("softbreak", "hardbreak"):
            return ""
        j += step
    return ""


def _shift_headings(state) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + 1, 6)
            token.tag = f"h{level}"


def _make_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable("table")
    md.core.ruler.push("cjk_softbreaks", _cjk_softbreaks)
    md.core.ruler.push("shift_headings", _shift_headings)
    return md


_PARSER = _make_parser()


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
        filter_style_properties=_ALLOWED_STYLES,
    )


FILE_SCHEME = "gazette-file:"
_IMG_RE = re.compile(r"<img\b([^>]*)>")
_ATTR_RE = re.compile(r'([a-z-]+)="([^"]*)"')
_FILE_REF_RE = re.compile(re.escape(FILE_SCHEME) + r"([a-z0-9][a-z0-9-]*)/")


@dataclass
class ImageRefs:
    """What a body's images ask for: files of the record's own folder, and
    URLs on other hosts (never loaded: nothing on the site comes from elsewhere)."""

    files: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _local_images(html: str, record_id: str | None, refs: ImageRefs) -> str:
    import html as _html
    from posixpath import normpath
    from urllib.parse import unquote, urlsplit

    def one(m: re.Match) -> str:
        attrs = dict(_ATTR_RE.findall(m.group(1)))
        src = _html.unescape(attrs.get("src", ""))
        alt = attrs.get("alt", "")
        parts = urlsplit(src)
        if parts.scheme or src.startswith("//"):
            refs.external.append(src)
            return f'<span class="image-removed">{alt}</span>' if alt else ""
        rel = normpath(unquote(parts.path)) if parts.path else ""
        if not record_id or not rel or rel.startswith(("/", "..")) or rel == ".":
            refs.refused.append(src)
            return f'<span class="image-removed">{alt}</span>' if alt else ""
        refs.files.append(rel)
        attrs["src"] = _html.escape(f"{FILE_SCHEME}{record_id}/{rel}")
        return "<img " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + ">"

    return _IMG_RE.sub(one, html)


def render(text: str, record_id: str | None = None, refs: ImageRefs | None = None) -> str:
    """Markdown source to sanitised HTML.

    Images: a relative `src` names a file in the record's own folder (ID/) and
    becomes `gazette-file:ID/PATH`, which each output turns into its own link
    (`localize_files`); an image from another host is removed (its alt text
    stays), so no page, PDF or mail loads anything from elsewhere."""
    if not text or not text.strip():
        return ""
    refs = refs if refs is not None else ImageRefs()
    return _local_images(sanitize(_PARSER.render(text)), record_id, refs)


_FILE_IMG_RE = re.compile(r'<img\b[^>]*\bsrc="' + re.escape(FILE_SCHEME) + r'[^"]*"[^>]*>')


def drop_file_images(html: str) -> str:
    """For mail: a targeted record's files are not published, so its images
    become their alt text."""
    def alt(m: re.Match) -> str:
        found = re.search(r'\balt="([^"]*)"', m.group(0))
        return f'<span class="image-removed">{found.group(1)}</span>' if found and found.group(1) else ""
    return _FILE_IMG_RE.sub(alt, html)


def localize_files(html: str, url_of) -> str:
    """Turn `gazette-file:ID/` references into links: url_of(ID) -> the URL
    prefix of that record's published files (ending in '/')."""
    if FILE_SCHEME not in html:
        return html
    return _FILE_REF_RE.sub(lambda m: url_of(m.group(1)), html)


_TAG_RE = re.compile(r"<[^>]+>")
_WS_RE = re.compile(r"\s+")


def plain_text(html: str, limit: int | None = None) -> str:
    """Visible text of rendered HTML, whitespace collapsed (for summaries)."""
    import html as _html

    text = _WS_RE.sub(" ", _html.unescape(_TAG_RE.sub(" ", html))).strip()
    if limit and len(text) > limit:
        cut = text[:limit].rstrip()
        return cut + "…"
    return text


def normalize_width(text: str) -> str:
    """Full-width ASCII forms to half-width, one character for one."""
    return "".join(unicodedata.normalize("NFKC", c) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in text)
