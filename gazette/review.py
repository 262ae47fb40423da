"""Review checks for personal data (先审查、后公开; privacy protection).

Finds 18-digit resident identity numbers with a valid checksum and mainland
mobile numbers anywhere in a record's file, full-width digits included, and in
its attachments: text, CSV, JSON, HTML and XML files, and the text layer of
PDF, Word (DOCX), Excel (XLSX) and PowerPoint (PPTX) files.  Messages never
show a whole number (build logs are kept and shared): `mask` hides its middle.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from .markdown import normalize_width

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?(1[3-9]\d[- ]?\d{4}[- ]?\d{4})(?!\d)")
# every hit holds this (\d matches full-width digits too); it starts with a digit, so it is a fast scan
_MAYBE_RE = re.compile(r"\d{3}[- \uff0d]?\d{4}")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_checksum_ok(number: str) -> bool:
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS))
    return _CHECK[total % 11] == number[17].upper()


def _digits(s: str) -> str:
    return re.sub(r"[^0-9Xx]", "", normalize_width(s)).upper()


def find_pii(text: str) -> list[tuple[int, str, str]]:
    """-> [(line, exact text as written, kind)]."""
    ids, mobiles = [], []
    seen = set()
    # A quick look first: every hit holds a run of seven digits, and no hit
    # spans lines, so only the lines holding such a run are scanned.
    for maybe in _MAYBE_RE.finditer(text):
        start = text.rfind("\n", 0, maybe.start()) + 1
        if start in seen:
            continue
        seen.add(start)
        end = text.find("\n", maybe.end())
        line_text = text[start:] if end < 0 else text[start:end]
        norm = normalize_width(line_text)  # one character for one: offsets hold
        number = text.count("\n", 0, start) + 1
        ids += [(number, line_text[m.start(1):m.end(1)], "resident identity number")
                for m in _ID_RE.finditer(norm) if id_checksum_ok(m[1])]
        mobiles += [(number, line_text[m.start(1):m.end(1)], "mobile phone number") for m in _MOBILE_RE.finditer(norm)]
    return ids + mobiles


def allowed(hit: str, pii_allow: list[str]) -> bool:
    if hit in pii_allow:
        return True
    digits = _digits(hit)
    return any(_digits(a) == digits for a in pii_allow)


def mask(hit: str) -> str:
    """The number with its middle hidden: 1101**********002X, 139****5678."""
    chars = [c for c in normalize_width(hit) if c.isalnum()]
    keep = 4 if len(chars) >= 15 else 3
    tail = 4
    if len(chars) <= keep + tail:
        return "*" * len(chars)
    return "".join(chars[:keep]) + "*" * (len(chars) - keep - tail) + "".join(chars[-tail:])


TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".json", ".md", ".html", ".htm", ".xml", ".yaml", ".yml")
OFFICE_PARTS = {
    ".docx": re.compile(r"^word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml$"),
    ".xlsx": re.compile(r"^xl/(sharedStrings|worksheets/sheet\d+)\.xml$"),
    ".pptx": re.compile(r"^ppt/(slides/slide\d+|notesSlides/notesSlide\d+)\.xml$"),
}
SCAN_LIMIT = 64 * 1024 * 1024  # bytes of a file, or of text unpacked from one
PDF_PAGES = 2000
_BREAK = re.compile(r"</(?:w:p|a:p|c|si|row|tr|td|p|div|li)>|<w:br/>|<w:tab/>", re.I)
_TAG = re.compile(r"<[^>]*>")


def attachment_text(path: Path) -> tuple[str | None, str | None]:
    """An attachment's text, for the personal-data check: (text, None), or
    (None, why it could not be read), or (None, None) for a kind of file that
    holds no text to check (an image, an archive)."""
    suffix = path.suffix.lower()
    try:
        if path.stat().st_size > SCAN_LIMIT:
            return None, f"is larger than {SCAN_LIMIT // 2**20} MiB and was not checked for personal data"
        if suffix in TEXT_SUFFIXES:
            data = path.read_bytes()
            for encoding in ("utf-8-sig", "gb18030"):
                try:
                    return data.decode(encoding), None
                except UnicodeDecodeError:
                    continue
            return data.decode("utf-8", "replace"), None
        if suffix == ".pdf":
            return _pdf_text(path), None
        if suffix in OFFICE_PARTS:
            return _office_text(path, OFFICE_PARTS[suffix]), None
    except (OSError, ValueError, zipfile.BadZipFile, KeyError, RuntimeError) as exc:
        return None, f"could not be read to check it for personal data ({type(exc).__name__})"
    return None, None


def _pdf_text(path: Path) -> str:
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported, not logged
    try:
        reader = pypdf.PdfReader(str(path), strict=False)
        pages = []
        for page in reader.pages[:PDF_PAGES]:
            pages.append(page.extract_text() or "")
        return "\n".join(pages)
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise ValueError(str(exc)[:200]) from None


def _office_text(path: Path, parts: re.Pattern) -> str:
    """The text of an Office Open XML file: its XML parts, tags dropped, a line
    break at each paragraph or cell, runs inside a paragraph joined (a number
    can be split across runs).  Bounded: a zip bomb stops at SCAN_LIMIT."""
    out, total = [], 0
    with zipfile.ZipFile(path) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if not parts.match(info.filename):
                continue
            with archive.open(info) as f:
                data = f.read(SCAN_LIMIT - total + 1)
            total += len(data)
            if total > SCAN_LIMIT:
                raise ValueError("unpacks to more than the limit")
            xml = data.decode("utf-8", "replace")
            out.append(_TAG.sub("", _BREAK.sub("\n", xml)))
    return "\n".join(out)
