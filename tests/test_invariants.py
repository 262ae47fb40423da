"""Invariants every built sample site must keep."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from htmlcheck import html_files, page_url, resolve, scan, target_file

from gazette.sources import read_text, split_front_matter


def _base(built) -> tuple[str, str]:
    parts = urlsplit(built.result.site.config.base_url)
    return parts.netloc, parts.path


def test_every_internal_link_and_anchor_resolves(built):
    out = built.out
    host, base_path = _base(built)
    pages = {f: scan(f) for f in html_files(out)}
    broken = []
    for file, page in pages.items():
        here = page_url(out, base_path, file)
        for tag, attr, value in page.links:
            url = resolve(here, value)
            parts = urlsplit(url)
            if parts.scheme in ("mailto", "tel"):
                continue
            if parts.netloc not in ("site.test", host):
                assert tag == "a", f"{file}: {tag} {attr}={value} loads from another host"
                continue
            target = target_file(out, base_path, url)
            if target is None:  # same host, outside the site's path: another site
                assert tag == "a", f"{file}: {tag} {attr}={value} loads from outside the site"
                continue
            if not target.is_file():
                broken.append(f"{file.relative_to(out)}: {value}")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else scan(target).ids
                if parts.fragment not in ids:
                    broken.append(f"{file.relative_to(out)}: {value} (no anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken[:50])


def test_nothing_is_loaded_from_other_hosts(built):
    """The site must work on an intranet: no fonts, scripts or styles from elsewhere."""
    for css in built.out.rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", css.read_text(encoding="utf-8")), css
    for file in html_files(built.out):
        for tag, url in scan(file).loads:
            assert not urlsplit(url).netloc and not url.startswith("//"), f"{file}: <{tag}> loads {url}"


def test_every_public_record_has_a_page_in_each_of_its_languages(built):
    site = built.result.site
    assert site.public, "a sample site must publish something"
    for record in site.public:
        for lang in site.languages:
            prefix = "" if lang == site.default_lang else f"{lang}/"
            page = built.out / prefix / "records" / record.id / "index.html"
            assert page.is_file() == record.has(lang), (record.id, lang)
        assert (built.out / "data" / "records" / f"{record.id}.json").is_file()


def test_html_lang_matches_the_section(built):
    site = built.result.site
    for file in html_files(built.out):
        rel = file.relative_to(built.out).as_posix()
        first = rel.split("/")[0]
        expected = first if first in site.languages[1:] else site.default_lang
        assert scan(file).lang == expected, rel


def _unique_texts(built) -> list[str]:
    """Text of non-public records that no public record shares."""
    site = built.result.site
    public_text = []
    for record in site.public:
        for ed in record.editions.values():
            public_text.append(read_text(ed.path))
    public_blob = "\n".join(public_text)
    needles = set(built.canaries)
    for record in site.records.values():
        if record.public:
            continue
        if record.id not in public_blob:
            needles.add(f"/{record.id}/")
            needles.add(f'"{record.id}"')
        for ed in record.editions.values():
            if ed.title not in public_blob:
                needles.add(ed.title)
            _, body, _ = split_front_matter(read_text(ed.path))
            for segment in re.split(r"[。\n；;.!?！？]", body):
                segment = segment.strip(" #*|-")
                if len(segment) >= 12 and segment not in public_blob:
                    needles.add(segment)
    return sorted(needles)


def test_no_non_public_record_reaches_any_output_file(built):
    needles = _unique_texts(built)
    site = built.result.site
    if any(not r.public for r in site.records.values()):
        assert needles, "the sample site has non-public records, so there must be something to look for"
    leaks = []
    for file in sorted(p for p in built.out.rglob("*") if p.is_file()):
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for needle in needles:
            if needle in text:
                leaks.append(f"{file.relative_to(built.out)}: {needle[:60]}")
    assert not leaks, "non-public text in output:\n" + "\n".join(leaks[:30])
