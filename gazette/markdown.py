"""Markdown to safe HTML.

CommonMark with tables (cmark-gfm, GitHub's C implementation, through
cmarkgfm).  Two gazette-specific rules, applied to its HTML:

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
import cmarkgfm
from cmarkgfm import cmark

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


_CJK = ("\u2e80-\u9fff"  # radicals, kana, CJK symbols & punctuation, unified ideographs
        "\uac00-\ud7af"  # Hangul
        "\uf900-\ufaff\ufe30-\ufe4f"
        "\uff00-\uffef"  # full-width forms
        "\U00020000-\U0003ffff")
_INLINE_TAGS = r"(?:</?(?:a|em|strong|code|img|del|s|span|sub|sup|b|i|u|mark|small)\b[^>]*>)*"
_PRE_RE = re.compile(r"(<pre\b.*?</pre>)", re.S)
_HEADING_RE = re.compile(r"<(/?)h([1-6])\b")
_ALIGN_RE = re.compile(r'<(th|td) align="(left|right|center)"')
_CMARK_OPTIONS = cmark.Options.CMARK_OPT_UNSAFE  # raw HTML is kept here and sanitised after


_CJK_CHAR_RE = re.compile(f"[{_CJK}]")
_ENDS_CJK_RE = re.compile(f"[{_CJK}]{_INLINE_TAGS}\\Z")
_STARTS_CJK_RE = re.compile(f"{_INLINE_TAGS}[{_CJK}]")


def _ends_cjk(s: str) -> bool:
    if s[-1] != ">":
        return _CJK_CHAR_RE.match(s[-1]) is not None
    return _ENDS_CJK_RE.search(s[-1000:]) is not None  # inline tags before it: a tail is enough


def _starts_cjk(s: str) -> bool:
    if s[0] != "<":
        return _CJK_CHAR_RE.match(s[0]) is not None
    return _STARTS_CJK_RE.match(s) is not None


def _join_cjk_lines(part: str) -> str:
    pieces = part.split("\n")
    out = [pieces[0]]
    for before, after in zip(pieces, pieces[1:]):
        if not (after and before and _starts_cjk(after) and _ends_cjk(before)):
            out.append("\n")
        out.append(after)
    return "".join(out)


def _cjk_softbreaks(html: str) -> str:
    """In CJK text a newline in the source is not a word space: a soft line
    break between two CJK characters (inline tags either side) renders as
    nothing; not a newline inside <pre>.  (Line by line: a regex over the whole
    text costs more than cmark's parse.)"""
    if "\n" not in html:
        return html
    parts = _PRE_RE.split(html)
    return "".join(part if i % 2 else _join_cjk_lines(part) for i, part in enumerate(parts))


def _shift_headings(html: str) -> str:
    """The record title is the page's only <h1>: headings move down one level."""
    return _HEADING_RE.sub(lambda m: f"<{m[1]}h{min(int(m[2]) + 1, 6)}", html)


class _Cmark:
    """cmark-gfm's own functions, called through cffi on the library cmarkgfm
    ships.  cmarkgfm's wrapper never frees the document tree nor the HTML it
    renders (about 55 KB per record: 550 MB over 10,000 records); this frees
    both.  Where the library cannot be opened this way, cmarkgfm's wrapper."""

    _CDEF = """
    typedef struct cmark_parser cmark_parser; typedef struct cmark_node cmark_node;
    typedef struct cmark_syntax_extension cmark_syntax_extension; typedef struct _cmark_llist cmark_llist;
    void cmark_gfm_core_extensions_ensure_registered(void);
    cmark_syntax_extension *cmark_find_syntax_extension(const char *name);
    cmark_parser *cmark_parser_new(int options);
    int cmark_parser_attach_syntax_extension(cmark_parser *parser, cmark_syntax_extension *extension);
    void cmark_parser_feed(cmark_parser *parser, const char *buffer, size_t len);
    cmark_node *cmark_parser_finish(cmark_parser *parser);
    cmark_llist *cmark_parser_get_syntax_extensions(cmark_parser *parser);
    char *cmark_render_html(cmark_node *root, int options, cmark_llist *extensions);
    void cmark_node_free(cmark_node *node);
    void cmark_parser_free(cmark_parser *parser);
    void free(void *ptr);
    """

    def __init__(self):
        try:
            import cffi
            from cmarkgfm import _cmark

            self.ffi = cffi.FFI()
            self.ffi.cdef(self._CDEF)
            self.lib = self.ffi.dlopen(_cmark.__file__)
            for name in ("cmark_node_free", "free", "cmark_render_html", "cmark_parser_get_syntax_extensions"):
                getattr(self.lib, name)
            self.lib.cmark_gfm_core_extensions_ensure_registered()
            self.table = self.lib.cmark_find_syntax_extension(b"table")
            if self.table == self.ffi.NULL:
                raise LookupError("no table extension")
        except Exception:  # noqa: BLE001 - any trouble: cmarkgfm's own wrapper
            self.lib = None

    def html(self, text: str, options: int) -> str:
        if self.lib is None:
            return cmarkgfm.markdown_to_html_with_extensions(text, options=options, extensions=["table"])
        lib, data = self.lib, text.encode("utf-8")
        parser = lib.cmark_parser_new(options)
        try:
            lib.cmark_parser_attach_syntax_extension(parser, self.table)
            lib.cmark_parser_feed(parser, data, len(data))
            root = lib.cmark_parser_finish(parser)
            try:
                raw = lib.cmark_render_html(root, options, lib.cmark_parser_get_syntax_extensions(parser))
                try:
                    return self.ffi.string(raw).decode("utf-8")
                finally:
                    lib.free(raw)
            finally:
                lib.cmark_node_free(root)
        finally:
            lib.cmark_parser_free(parser)


_CMARK = _Cmark()


def _commonmark(text: str) -> str:
    """CommonMark with tables (cmark-gfm), then the two gazette rules."""
    html = _CMARK.html(text, int(_CMARK_OPTIONS))
    return _ALIGN_RE.sub(r'<\1 style="text-align:\2"', _shift_headings(_cjk_softbreaks(html)))


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
    return _local_images(sanitize(_commonmark(text)), record_id, refs)


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


_HALF_WIDTH = {o: unicodedata.normalize("NFKC", chr(o)) for o in range(0xFF01, 0xFF5F)}


def normalize_width(text: str) -> str:
    """Full-width ASCII forms to half-width, one character for one."""
    return text.translate(_HALF_WIDTH)
