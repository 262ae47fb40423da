"""Search index: Pagefind (extended binary, which segments Chinese), run over
the written site at the end of every build.

Only record pages are indexed (they carry data-pagefind-body), and within them
only the document itself: navigation, footers and relation lists are outside
the article, and PDF links and history are marked data-pagefind-ignore.
Pagefind writes one index per <html lang>.  A small table of normalised
document numbers (data/docnumbers.json) lets the search page put the document
whose number was typed first, whatever brackets or suffix the reader used.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import GazetteError
from .markdown import normalize_width
from .model import Site
from .render.urls import Urls

INDEX_DIR = "pagefind"
_BRACKETS = str.maketrans({"[": "〔", "]": "〕", "［": "〔", "］": "〕", "【": "〔", "】": "〕",
                           "(": "〔", ")": "〕", "（": "〔", "）": "〕", "﹝": "〔", "﹞": "〕", "〈": "〔", "〉": "〕"})


def normalize_doc_number(text: str) -> str:
    """沪府办字〔2024〕5号, 沪府办字[2024]5号 and 沪府办字（2024）5 are one number."""
    text = normalize_width(text or "").translate(_BRACKETS)
    text = re.sub(r"\s+", "", text)
    return re.sub(r"号$", "", text)


def doc_number_table(site: Site, urls: Urls) -> bytes:
    table: dict[str, list[dict]] = {}
    for record in sorted(site.public, key=lambda r: r.id):
        if not record.meta.doc_number:
            continue
        entry = {"id": record.id, "doc_number": record.meta.doc_number,
                 "title": {l: record.title(l) for l in site.languages if record.has(l)},
                 "url": {l: urls.record(record.id, l) for l in site.languages if record.has(l)}}
        table.setdefault(normalize_doc_number(record.meta.doc_number), []).append(entry)
    return (json.dumps(table, ensure_ascii=False, sort_keys=True, indent=0) + "\n").encode("utf-8")


def pagefind_command() -> list[str]:
    return [sys.executable, "-m", "pagefind"]


def index(folder: Path) -> str:
    """Index the site in `folder` (the staging folder of a build); -> Pagefind's summary."""
    target = folder / INDEX_DIR
    if target.exists():
        shutil.rmtree(target)  # never mix an old index into a new one
    try:
        proc = subprocess.run([*pagefind_command(), "--site", str(folder), "--output-subdir", INDEX_DIR],
                              capture_output=True, text=True)
    except OSError as exc:
        raise GazetteError(f"cannot run Pagefind ({exc}); install it with: pip install 'pagefind[extended]'") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        if "No module named pagefind" in proc.stderr:
            raise GazetteError("Pagefind is not installed: pip install 'pagefind[extended]' (the extended binary segments Chinese)")
        raise GazetteError("Pagefind failed to index the site:\n" + "\n".join(detail))
    if "pagefind_extended" not in _binary_name():
        raise GazetteError("only the standard Pagefind binary is installed, which cannot segment Chinese: "
                           "pip install 'pagefind[extended]'")
    return proc.stdout


def _binary_name() -> str:
    proc = subprocess.run([*pagefind_command(), "--help"], capture_output=True, text=True)
    return proc.stdout
