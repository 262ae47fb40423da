"""Review checks for personal data (先审查、后公开; privacy protection).

Finds 18-digit resident identity numbers with a valid checksum and mainland
mobile numbers anywhere in a record's file, full-width digits included.
"""
from __future__ import annotations

import bisect
import re

from .markdown import normalize_width

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?(1[3-9]\d[- ]?\d{4}[- ]?\d{4})(?!\d)")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_checksum_ok(number: str) -> bool:
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS))
    return _CHECK[total % 11] == number[17].upper()


def _digits(s: str) -> str:
    return re.sub(r"[^0-9Xx]", "", normalize_width(s)).upper()


def find_pii(text: str) -> list[tuple[int, str, str]]:
    """-> [(line, exact text as written, kind)]."""
    norm = normalize_width(text)
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"] if ("1" in norm) else [0]
    hits = []
    for m in _ID_RE.finditer(norm):
        if id_checksum_ok(m[1]):
            hits.append((bisect.bisect_right(starts, m.start(1)), text[m.start(1) : m.end(1)], "resident identity number"))
    for m in _MOBILE_RE.finditer(norm):
        hits.append((bisect.bisect_right(starts, m.start(1)), text[m.start(1) : m.end(1)], "mobile phone number"))
    return hits


def allowed(hit: str, pii_allow: list[str]) -> bool:
    if hit in pii_allow:
        return True
    digits = _digits(hit)
    return any(_digits(a) == digits for a in pii_allow)
