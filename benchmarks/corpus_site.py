#!/usr/bin/env python3
"""Make gazette sites from the real documents in ../shared/corpus.

    python3 benchmarks/corpus_site.py --out benchmarks/out/corpus

writes two sites:
  corpus-zh/  the 60 State Council documents (gov.cn) and the 8 Shanghai
              documents, as policies, languages [zh];
  corpus-en/  the 38 documents of the Federal Register of 15 April 2016,
              languages [en].
Every document keeps its real title, number, issuer, dates and text.  They
were published by governments, so a phone number in them is listed under
pii_allow (the review check would otherwise stop the build).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
CORPUS = HERE.parent.parent / "shared" / "corpus"

from gazette.review import find_pii  # noqa: E402


def key_for(name: str, known: dict) -> str:
    if name not in known:
        known[name] = "issuer-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return known[name]


def front_matter(data: dict) -> str:
    return "---\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000) + "---\n"


def record(rid, title, number, issuer, published, written, source, body, extra=None) -> str:
    data = {"id": rid, "type": "policy", "title": title[:500], "issuer": issuer, "published": published,
            "disclosure": "proactive", "review": {"by": "import", "date": published}, "interpretation_required": False}
    if number:
        data["doc_number"] = number
    if written and written <= published:
        data["written"] = written
    if source:
        data["source_url"] = source
    if extra:
        data.update(extra)
    hits = sorted({text for _, text, _ in find_pii(body + title)})
    if hits:
        data["pii_allow"] = hits
    # the corpus has the documents' text, not their image files: a reference to a
    # missing file would (rightly) stop the build, so images keep their alt text only
    body = re.sub(r"!\[([^\]]*)\]\((?!https?:)[^)]*\)", r"\1", body)
    return front_matter(data) + "\n" + body.strip() + "\n"


def split(text: str) -> tuple[dict, str]:
    _, fm, body = text.split("---\n", 2)
    return yaml.safe_load(fm), body


def write_site(folder: Path, title: dict, lang: str, issuers: dict, records: dict[str, str]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "content" / "_taxonomy").mkdir(parents=True)
    (folder / "content" / "records").mkdir()
    (folder / "gazette.yaml").write_text(yaml.safe_dump(
        {"title": title, "base_url": "https://corpus.example.gov.cn/", "languages": [lang],
         "timezone": "Asia/Shanghai" if lang == "zh" else "America/New_York", "pdf": {"enabled": False}},
        allow_unicode=True, sort_keys=False), encoding="utf-8")
    (folder / "content" / "_taxonomy" / "issuers.yaml").write_text(
        yaml.safe_dump({key: {"name": name} for name, key in sorted(issuers.items(), key=lambda x: x[1])},
                       allow_unicode=True, sort_keys=True), encoding="utf-8")
    for rid, text in records.items():
        (folder / "content" / "records" / f"{rid}.md").write_text(text, encoding="utf-8")


def chinese_site(out: Path) -> int:
    issuers = {"国务院": "state-council", "国务院办公厅": "state-council-office"}
    records = {}
    for path in sorted((CORPUS / "zh-gov-cn-state-council" / "md").glob("*.md")):
        meta, body = split(path.read_text(encoding="utf-8"))
        records[meta["id"]] = record(meta["id"], meta["title"], meta.get("document_number") or None,
                                     key_for(meta["issuing_authority"], issuers), meta["date_published"],
                                     meta.get("date_written"), meta.get("source_url"), body,
                                     {"index_number": meta["index_number"]} if meta.get("index_number") else None)
    index = json.loads((CORPUS / "zh-shanghai-gov-docs-index" / "index.json").read_text(encoding="utf-8"))
    for i, entry in enumerate(index, 1):
        text = (CORPUS / "zh-shanghai-gov-docs-index" / entry["path"]).read_text(encoding="utf-8")
        body = split(text)[1] if text.startswith("---\n") else text
        meta = entry  # the index has every field, also for the file without front matter
        rid = f"sh-{i:03d}"
        body = "\n".join(l for l in body.splitlines() if not l.startswith(">"))
        issuer = meta.get("发布单位") or meta.get("制定机关")  # a local regulation names its legislature
        date = str(meta.get("发布日期") or meta.get("公布日期"))
        records[rid] = record(rid, meta["标题"], meta.get("文号") or None, key_for(issuer, issuers),
                              date, None, meta.get("官方链接") or meta.get("国家法规库"), body)
    write_site(out / "corpus-zh", {"zh": "真实文件样例公报"}, "zh", issuers, records)
    return len(records)


def english_site(out: Path) -> int:
    issuers: dict = {}
    records = {}
    for path in sorted((CORPUS / "en-us-federal-register-2016-04-15" / "json").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        rid = f"fr-{doc['document_number']}"
        records[rid] = record(rid, doc["title"], doc["document_number"], key_for(doc["agency"], issuers),
                              doc["publication_date"], None, None, doc["body_text"])
    write_site(out / "corpus-en", {"en": "Federal Register sample"}, "en", issuers, records)
    return len(records)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "out" / "corpus")
    args = ap.parse_args()
    print(f"corpus-zh: {chinese_site(args.out)} records; corpus-en: {english_site(args.out)} records in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
