"""What readers see: record pages, relations both ways, listings, English
section, data files.  Built from tests/sites/valid/edge at build date 2025-01-01."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest


@pytest.fixture(scope="module")
def edge(built_sites):
    return built_sites["edge"]


def page(edge, path: str) -> str:
    file = edge.out / path
    if path == "" or path.endswith("/"):
        file = file / "index.html"
    return file.read_text(encoding="utf-8")


def main_text(html: str) -> str:
    body = html.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_policy_page_shows_official_metadata(edge):
    html = page(edge, "records/p-new/")
    text = main_text(html)
    for expected in ("索引号", "000000-2024-00002", "发文机关", "样例市人民政府", "样例市人民政府办公厅",
                     "发文字号", "样府〔2024〕2号", "成文日期", "2024年12月1日", "发布日期", "2024年12月2日",
                     "生效日期", "2024年12月15日", "有效性", "现行有效", "2024年第12期", "政务公开", "市民",
                     "主题分类", "综合政务"):
        assert expected in text, expected
    assert re.search(r'<h1 data-pagefind-weight="\d+" data-pagefind-meta="title:样例市新版管理办法">样例市新版管理办法</h1>', html)


def test_markdown_body_tables_and_cjk_line_breaks(edge):
    html = page(edge, "records/p-new/")
    assert "为规范管理，制定本办法。" in html  # the source breaks the line between 理， and 制
    assert "<table>" in html and "<td>5个工作日</td>" in html
    assert "<h2>第一章 总则</h2>" in html  # body headings sit below the page's <h1>


def test_services_are_prominent_do_it_links(edge):
    html = page(edge, "records/p-new/")
    assert re.search(r'<a class="button" href="https://service\.example\.gov\.cn/item/1">去办理：许可办理</a>', html)


def test_relations_are_shown_both_ways(edge):
    new, old = page(edge, "records/p-new/"), page(edge, "records/p-old/")
    raw, jd, faq = page(edge, "records/p-raw/"), page(edge, "records/p-new-jd/"), page(edge, "records/p-new-faq/")
    # basis and supersedes from p-new; p-old shows both back
    assert 'id="rel-basis"' in new and "../p-old/" in new.split('id="rel-basis"')[1]
    assert 'id="rel-basis_of"' in old and "../p-new/" in old.split('id="rel-basis_of"')[1]
    assert 'id="rel-superseded_by"' in old
    # related is symmetric
    assert "../p-raw/" in new.split('id="rel-related"')[1]
    assert "../p-new/" in raw.split('id="rel-related"')[1]
    # interpretation and FAQ link to the policy and back
    assert "../p-new-jd/" in new.split('id="rel-interpretations"')[1]
    assert "../p-new-faq/" in new.split('id="rel-faqs"')[1]
    assert "../p-new/" in jd.split('id="rel-interprets"')[1]
    assert "../p-new/" in faq.split('id="rel-faq_of"')[1]


def test_validity_banners(edge):
    assert "banner-superseded" in page(edge, "records/p-old/")
    assert "banner-expired" in page(edge, "records/p-expired/") and "已失效" in page(edge, "records/p-expired/")
    assert "banner-repealed" in page(edge, "records/p-repealed/")
    assert "banner" not in page(edge, "records/p-new/").split("doc-meta")[0].split("</header>")[1].replace("notice", "")


def test_consultation_open_and_closed(edge):
    open_ = main_text(page(edge, "records/consult-open/"))
    assert "正在征询意见" in open_ and "剩余 9 天" in open_  # closes 2025-01-10, build date 2025-01-01
    assert "yijian@example.gov.cn" in open_ and "样例路1号" in open_
    assert "此时尚未结束" not in open_  # no outcome while open
    closed = page(edge, "records/consult-closed/")
    assert "征询已结束" in closed and "<strong>12</strong>" in closed and "意见采纳情况" in closed


def test_appointments_table_commendation_and_faq(edge):
    appt = page(edge, "records/appt-2024-12/")
    assert re.search(r"<td>任命</td><td data-pagefind-weight=\"5\">张三</td><td>样例局局长</td>", appt)
    assert re.search(r"<td>免去</td><td data-pagefind-weight=\"5\">李四</td><td>样例局副局长</td><td>样例局</td>", appt)
    appt_en = page(edge, "en/records/appt-2024-12/")
    assert re.search(r"<td>Appointed</td><td data-pagefind-weight=\"5\">Zhang San</td>", appt_en)
    comm = main_text(page(edge, "records/comm-2024-12/"))
    assert "样例区政务服务中心" in comm and "先进个人" in comm
    faq = page(edge, "records/p-new-faq/")
    assert "何时施行？" in faq and "<strong>2024年12月15日</strong>" in faq
    assert "When does it take effect?" in page(edge, "en/records/p-new-faq/")


def test_type_listing_lists_every_appointment(edge):
    html = page(edge, "types/appointment/")
    assert "../../records/appt-2024-12/" in html


def test_listings_paginate(edge):
    first, second = page(edge, "types/policy/"), page(edge, "types/policy/page/2/")
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert first.count('class="record-item"') == 5 and second.count('class="record-item"') == 2


def test_english_listing_marks_chinese_only_records(edge):
    html = page(edge, "en/types/policy/")
    item = re.search(r'<li class="record-item" id="r-p-6">\s*<a href="([^"]+)" lang="zh" hreflang="zh">样例市第6号通知</a>\s*'
                     r'<span class="badge badge-zh-only">available in Chinese only</span>', html)
    assert item and item.group(1) == "../../../records/p-6/"
    assert '<a href="../../records/p-new/">Measures of Sample City on Administration (new edition)</a>' in html


def test_language_switcher_and_hreflang(edge):
    zh, en = page(edge, "records/p-new/"), page(edge, "en/records/p-new/")
    for html in (zh, en):
        assert '<link rel="alternate" hreflang="zh" href="https://example.gov.cn/gazette/records/p-new/">' in html
        assert '<link rel="alternate" hreflang="en" href="https://example.gov.cn/gazette/en/records/p-new/">' in html
    assert '<a href="../../en/records/p-new/" hreflang="en" lang="en">English</a>' in zh
    assert '<a href="../../../records/p-new/" hreflang="zh" lang="zh">中文</a>' in en
    assert '<html lang="en">' in en and "English editions are provided for reference" in en
    only_zh = page(edge, "records/p-6/")
    assert 'hreflang="en" href=' not in only_zh.split("</head>")[0]
    assert not (edge.out / "en" / "records" / "p-6").exists()


def test_raw_html_is_sanitised(edge):
    html = page(edge, "records/p-raw/")
    body = html.split('class="doc-body"')[1].split("</div>")[0]
    assert "服务热线" in body and "点击" in body
    for bad in ("<script", "RAW-SCRIPT-MARKER", "onclick", "onmouseover", "javascript:", "<iframe", "<style"):
        assert bad not in body, bad


def test_policy_pages_carry_legislation_json_ld(edge):
    html = page(edge, "records/p-new/")
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert data["@type"] == "Legislation"
    assert data["legislationIdentifier"] == "样府〔2024〕2号"
    assert data["legislationLegalForce"] == "InForce"
    assert [o["name"] for o in data["legislationPassedBy"]] == ["样例市人民政府", "样例市人民政府办公厅"]
    assert "application/ld+json" not in page(edge, "records/p-new-faq/")


def test_catalog_and_record_json(edge):
    catalog = json.loads(page(edge, "data/catalog.json"))
    site = edge.result.site
    assert sorted(r["id"] for r in catalog["records"]) == sorted(r.id for r in site.public)
    new = next(r for r in catalog["records"] if r["id"] == "p-new")
    assert new["title"] == {"zh": "样例市新版管理办法", "en": "Measures of Sample City on Administration (new edition)"}
    assert new["url"]["en"] == "https://example.gov.cn/gazette/en/records/p-new/"
    assert new["issuer"] == ["city-gov", "city-office"] and new["doc_number"] == "样府〔2024〕2号"
    assert new["topics"] == ["openness", "foreign"] and new["tags"] == ["citizens", "enterprises"]
    record = json.loads(page(edge, "data/records/p-new.json"))
    assert record["relations"]["supersedes"] == ["p-old"] and record["relations"]["interpretations"] == ["p-new-jd"]
    assert json.loads(page(edge, "data/records/p-old.json"))["relations"]["superseded_by"] == ["p-new"]


def test_sitemap_robots_and_404_work_from_a_sub_path(edge):
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.fromstring((edge.out / "sitemap.xml").read_bytes())
    locs = [e.text for e in root.findall("s:url/s:loc", ns)]
    assert "https://example.gov.cn/gazette/records/p-new/" in locs
    assert "https://example.gov.cn/gazette/en/records/p-new/" in locs
    assert all(l.startswith("https://example.gov.cn/gazette/") for l in locs)
    assert not any("404" in l for l in locs)
    assert "Sitemap: https://example.gov.cn/gazette/sitemap.xml" in page(edge, "robots.txt")
    not_found = page(edge, "404.html")
    assert 'href="/gazette/static/style.css"' in not_found and 'href="/gazette/issues/"' in not_found


def test_issue_pages(edge):
    issue = page(edge, "issues/2024-12/")
    text = main_text(issue)
    assert "2024年第12期" in text
    order = [text.index(s) for s in ("市政府文件", "政策解读", "人事任免")]
    assert order == sorted(order)
    assert "../../records/p-new/" in issue and "../../records/appt-2024-12/" in issue
    index = page(edge, "issues/")
    assert "2024-12/" in index and "2024-01/" in index
    assert "2024-12/" in page(edge, "") and "2024, No. 12" in page(edge, "en/")


def test_attachments_are_published_and_markdown_in_their_folder_is_not_a_record(edge):
    assert (edge.out / "records" / "p-new" / "files" / "annex.txt").read_text(encoding="utf-8").startswith("申请表")
    assert "files/annex.txt" in page(edge, "records/p-new/")
    assert "notes" not in {r.id for r in edge.result.site.records.values()}


def test_topic_collection_groups_records_by_type(edge):
    html = page(edge, "topics/openness/")
    assert "政务公开相关文件。" in html
    assert html.index('id="g-policy"') < html.index('id="g-interpretation"')


def test_in_force_documents_rank_first_at_equal_relevance(edge):
    """Pagefind weights: a repealed or expired title weighs less than one in force; priority weighs most."""
    weight = lambda path: int(re.search(r'<h1 data-pagefind-weight="(\d+)"', page(edge, path)).group(1))
    assert weight("records/p-repealed/") == weight("records/p-expired/") == 8
    assert weight("records/p-7/") == 9 and weight("records/p-new/") == 10  # p-new has priority 5


def _items(html: str) -> dict[str, str]:
    """record id -> the text of its listing item."""
    return {m.group(1): re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(0)))
            for m in re.finditer(r'<li class="record-item"(?: id="r-[a-z0-9-]+")?>\s*<a href="[^"]*records/([a-z0-9-]+)/".*?</li>', html, re.S)}


def test_listings_show_validity_and_consultation_state_and_in_force_lists_only_those(edge):
    site = edge.result.site
    policies = {**_items(page(edge, "types/policy/")), **_items(page(edge, "types/policy/page/2/"))}
    assert "已废止" in policies["p-repealed"] and "已失效" in policies["p-expired"]
    assert not any(s in policies["p-new"] for s in ("已废止", "已失效", "已修订", "尚未生效"))
    consultations = _items(page(edge, "types/consultation/"))
    assert "正在征询意见 · 2025年1月10日截止" in consultations["consult-open"]
    assert "征询已结束" in consultations["consult-closed"]
    in_force = page(edge, "types/policy/in-force/")
    listed = set(_items(in_force))
    expected = {r.id for r in site.public if r.type == "policy" and r.validity(site.build_date) == "effective"}
    assert listed == expected and "p-repealed" not in listed and "p-new" in listed
    assert "现行有效政策文件" in in_force and "只看现行有效" in page(edge, "types/policy/")
    en = page(edge, "en/types/policy/in-force/")
    assert "Policies in force" in en and "Only those in force" in page(edge, "en/types/policy/")


def test_attachments_show_kind_and_size_and_english_editions_translate_extra_and_attachment_titles(edge):
    size = (edge.out / "records" / "p-new" / "files" / "annex.txt").stat().st_size
    zh = page(edge, "records/p-new/")
    assert re.search(r'<a href="files/annex.txt" type="text/plain">附件一：申请表</a> <span class="file-info">（TXT、'
                     + str(size) + r" B）</span>", zh), re.findall(r'<section class="attachments".*?</section>', zh, re.S)
    assert "<dt>主题分类</dt><dd>综合政务</dd>" in zh
    en = page(edge, "en/records/p-new/")
    assert re.search(r'>Annex 1: application form</a> <span class="file-info"> \(TXT, \d+ B\)</span>', en), en
    assert "<dt>Subject category</dt><dd>General government affairs</dd>" in en
    assert "附件一" not in main_text(en) and "主题分类" not in main_text(en)


def test_signature_block_after_the_body_on_the_page_and_in_the_pdf(built_sites):
    """spec v1.2 `signature: auto`: the issuers' names and the written date, one
    line each, right-aligned after the body (GB/T 9704), not run into one line."""
    import pypdf

    bundled = built_sites["bundled"]
    zh = (bundled.out / "records" / "hfbz-2024-5" / "index.html").read_text(encoding="utf-8")
    assert '<div class="signature"><p>上海市人民政府办公厅</p><p>2024年3月28日</p></div>' in zh
    assert zh.index('class="doc-body"') < zh.index('class="signature"')
    en = (bundled.out / "en" / "records" / "hfbz-2024-5" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<div class="signature"><p>[A-Z][^<]*Office[^<]*</p><p>28 March 2024</p></div>', en), en
    pdf = bundled.out / "records" / "hfbz-2024-5" / "hfbz-2024-5.pdf"
    if pdf.exists():
        text = "\n".join(p.extract_text() for p in pypdf.PdfReader(str(pdf)).pages)
        lines = [line.strip() for line in text.splitlines()]
        at = lines.index("上海市人民政府办公厅", len(lines) // 2)
        assert lines[at + 1] == "2024年3月28日", lines[at - 2: at + 3]


def test_english_on_a_chinese_only_record_lands_on_its_entry_in_the_english_listing(edge):
    html = page(edge, "records/p-6/")
    switch = re.search(r'<a href="([^"]+)" hreflang="en" lang="en">English</a>', html).group(1)
    assert switch.endswith("#r-p-6"), switch
    from urllib.parse import urljoin
    target = urljoin("https://x/records/p-6/", switch)
    listing = page(edge, target.split("https://x/", 1)[1].split("#")[0])
    item = re.search(r'<li class="record-item" id="r-p-6">.*?</li>', listing, re.S).group(0)
    assert "available in Chinese only" in item and 'hreflang="en"' not in html.split("<body")[0]  # no claimed translation
