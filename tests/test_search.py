"""Search with a real Pagefind index, searched in Chromium through the search page."""
from __future__ import annotations

import gzip
import re
from urllib.parse import quote

import pytest


LINKS = "#search-results .result-link"
DONE = """([t, n]) => { const l = document.getElementById('search-results');
                        return l && +l.dataset.done > n && l.getAttribute('aria-busy') === 'false' && l.dataset.term === t; }"""


def results(page, server, path, query, wait=None):
    """The search page at ?q=query, once its answer is on the page: the result links."""
    page.goto(server.url + path + "?q=" + quote(query))
    if wait:
        page.wait_for_selector(wait, timeout=15000)
    page.wait_for_function(DONE, arg=[query.strip(), 0], timeout=15000)
    return [a.get_attribute("href") for a in page.query_selector_all(LINKS)]


def searches(page) -> int:
    """How many searches the page has answered (to wait for the next one)."""
    return int(page.locator("#search-results").get_attribute("data-done") or 0)


def settle(page, term, after=0):
    page.wait_for_function(DONE, arg=[term, after], timeout=15000)
    return [a.get_attribute("href") for a in page.query_selector_all(LINKS)]


def test_index_has_one_bundle_per_year_one_language_per_html_lang_and_only_record_pages(built_sites):
    out = built_sites["edge"].out
    assert sorted(p.name for p in (out / "pagefind").iterdir()) == ["2022", "2023", "2024"]
    pf = out / "pagefind" / "2024"
    assert (pf / "pagefind.js").is_file() and not (pf / "pagefind-ui.js").exists()  # the page's own interface
    metas = sorted(p.name for p in pf.glob("pagefind.*.pf_meta"))
    assert [m.split(".")[1].split("_")[0] for m in metas] == ["en", "zh"]
    search_page = (out / "search" / "index.html").read_text(encoding="utf-8")
    assert 'data-root="../" data-bundles="pagefind/2024/ pagefind/2023/ pagefind/2022/"' in search_page
    out = built_sites["bundled"].out
    pf = out / "pagefind" / "2024"
    fragments = [gzip.decompress(p.read_bytes()).decode("utf-8", "replace") for p in (pf / "fragment").glob("*.pf_fragment")]
    urls = {u for f in fragments for u in re.findall(r'"url":"([^"]+)"', f)}
    assert urls and all(re.match(r"^/(en/)?records/[a-z0-9-]+/$", u) for u in urls), urls
    assert len(urls) == sum(len(r.editions) for r in built_sites["bundled"].result.site.public)
    joined = "\n".join(fragments)
    assert "主办" not in joined and "本网站为政府公报电子版" not in joined  # no footer, no navigation


def test_non_public_text_never_reaches_the_index(built):
    pf = built.out / "pagefind"
    if not pf.is_dir():
        pytest.skip("search disabled for this site")
    texts = []
    for p in pf.rglob("*"):
        if p.is_file() and p.suffix.startswith(".pf_"):
            raw = p.read_bytes()
            try:
                raw = gzip.decompress(raw)
            except OSError:
                pass
            texts.append(raw.decode("utf-8", "replace"))
    blob = "\n".join(texts)
    assert "records/" in blob  # we are really looking at decompressed index data
    canaries = set(built.canaries) | {"CANARY-SECRET", "CANARY-SCHEDULED", "CANARY-REQUEST", "CANARY-TARGETED",
                                      "CANARY-UNREVIEWED", "NOTPUBLIC-7f3a9c", "UNREVIEWED-41bd2e"}
    for record in built.result.site.records.values():
        if not record.public:
            canaries.add(f"/records/{record.id}/")
    leaks = sorted(c for c in canaries if c in blob)
    assert not leaks


def test_results_merge_every_year_and_an_unchanged_year_keeps_its_index(browser, servers, tmp_path):
    server, page = servers("edge"), browser.new_page()
    results(page, server, "search/", "样例市")
    while page.locator("#search-more").is_visible():  # every result, not the first page of them
        page.locator("#search-more").click()
        page.wait_for_timeout(200)
    hrefs = [a.get_attribute("href") for a in page.query_selector_all(LINKS)]
    assert any(h.endswith("/records/p-repealed/") for h in hrefs)  # 2022
    assert any(h.endswith("/records/p-old/") for h in hrefs)  # 2023
    assert any(h.endswith("/records/p-new/") for h in hrefs)  # 2024
    page.close()
    import shutil
    from conftest import SITES, settings
    from gazette.pipeline import build
    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    assert set(build(site, tmp_path / "a", pdf=False, settings=settings(tmp_path / "cache")).search.values()) <= {"indexed", "cached"}
    record = site / "content" / "records" / "2024" / "p-7.md"
    record.write_text(record.read_text(encoding="utf-8").replace("正文", "正文（修改）"), encoding="utf-8")
    assert build(site, tmp_path / "b", pdf=False, settings=settings(tmp_path / "cache")).search == {2022: "cached", 2023: "cached", 2024: "indexed"}


def test_chinese_and_english_queries_find_the_right_record(browser, servers):
    server, page = servers("bundled"), browser.new_page()
    hrefs = results(page, server, "search/", "政策留言板")
    assert hrefs[0].endswith("/records/hfbz-2024-5/")
    hrefs = results(page, server, "en/search/", "work permits")
    assert hrefs[0].endswith("/en/records/fdi-2024-3/")
    page.close()


@pytest.mark.parametrize("typed", ["沪府办字〔2024〕5号", "沪府办字[2024]5号", "沪府办字（2024）5", "沪府办字［２０２４］５号"])
def test_document_number_lands_on_its_document_first(browser, servers, typed):
    server, page = servers("bundled"), browser.new_page()
    results(page, server, "search/", typed, wait="#docno-hit:not([hidden]) a")
    first = page.locator("main a[href*='/records/']").first
    assert first.get_attribute("href").endswith("/records/hfbz-2024-5/")
    first.click()
    page.wait_for_url("**/records/hfbz-2024-5/")
    page.close()


def test_a_filter_narrows_results(browser, servers):
    server, page = servers("edge"), browser.new_page()
    before = results(page, server, "search/", "样例市")
    n = searches(page)
    page.locator("#search-filters summary").click()
    assert page.locator("#search-filters legend").all_inner_texts()[:2] == ["类型", "有效性"]
    page.get_by_label(re.compile("^人事任免")).check()
    page.wait_for_function("""() => {
        const links = [...document.querySelectorAll('#search-results .result-link')];
        return links.length > 0 && links.every(a => a.href.includes('appt-'));
    }""", timeout=15000)
    after = settle(page, "样例市", n)
    assert len(after) < len(before) and after and all("appt-" in h for h in after)
    assert "type=" in page.url  # the state is in the address: a search can be shared
    page.close()


def _all(page, term, after=0):
    hrefs = settle(page, term, after)
    while page.locator("#search-more").is_visible():
        page.locator("#search-more").click()
        page.wait_for_function("n => document.querySelectorAll('#search-results .result-link').length > n",
                               arg=len(hrefs), timeout=15000)
        hrefs = [a.get_attribute("href") for a in page.query_selector_all(LINKS)]
    return [h.strip("/").rsplit("/", 1)[-1] for h in hrefs]


def test_results_sort_by_date_and_narrow_to_a_date_range(browser, servers, built_sites):
    site = built_sites["edge"].result.site
    published = {r.id: r.meta.published for r in site.public}
    server, page = servers("edge"), browser.new_page()
    relevance = [h.strip("/").rsplit("/", 1)[-1] for h in results(page, server, "search/", "样例市")]
    n = searches(page)
    page.select_option("#search-sort", "newest")
    newest = _all(page, "样例市", n)
    dates = [published[i] for i in newest]
    assert len(newest) >= 5 and dates == sorted(dates, reverse=True), list(zip(newest, dates))
    assert {d.year for d in dates} >= {2022, 2023, 2024}  # across the yearly bundles
    n = searches(page)
    page.select_option("#search-sort", "oldest")
    oldest = _all(page, "样例市", n)
    assert [published[i] for i in oldest] == sorted(dates)
    # a range inside one year and across two: only documents published in it
    page.fill("#search-from", "2023-01-01")
    n = searches(page)
    page.fill("#search-to", "2024-03-31")
    ranged = _all(page, "样例市", n)
    assert ranged and all("2023-01-01" <= published[i].isoformat() <= "2024-03-31" for i in ranged), ranged
    assert set(ranged) == {i for i in oldest if "2023-01-01" <= published[i].isoformat() <= "2024-03-31"}
    assert "from=2023-01-01" in page.url and "sort=oldest" in page.url
    # the address restores the whole search
    page.goto(page.url)
    assert _all(page, "样例市") == ranged
    assert page.locator("#search-sort").input_value() == "oldest"
    # filters alone, without words: every document of the range, newest first
    page.goto(server.url + "search/?from=2024-01-01&to=2024-12-31")
    browse = _all(page, "")
    assert browse == sorted(browse, key=lambda i: published[i], reverse=True)
    assert set(browse) == {r.id for r in site.public if r.meta.published.year == 2024 and r.has("zh")}
    assert relevance  # and the default order is relevance
    page.close()


def test_no_result_from_a_non_public_record(browser, servers):
    server, page = servers("edge"), browser.new_page()
    for query in ("CANARY-SECRET-91a", "不予公开文件", "定向公开文件", "将来发布的文件"):
        hrefs = results(page, server, "search/", query)
        assert not any(h.rstrip("/").rsplit("/", 1)[-1] in ("p-secret", "p-targeted", "p-scheduled", "p-request", "p-unreviewed") for h in hrefs), (query, hrefs)
    page.close()


def test_search_quality_on_the_bundled_gazette(browser, tmp_path):
    """The search-quality benchmark (benchmarks/search_recall.py) on the bundled
    gazette, held to issue 10's targets for Chinese, the language of the originals."""
    import sys

    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from search_recall import TARGETS, measure

    data = measure(ROOT, top=10, out_dir=tmp_path / "out", browser=browser)
    for (lang, kind), (first, intop, n) in sorted(data["hits"].items()):
        if lang != "zh":
            continue
        how, target = TARGETS[kind]
        got = first / n if how == "first" else intop / n
        assert got >= target, (kind, got, [m for m in data["misses"] if m[1] == kind])
    assert {k for (lang, k) in data["hits"] if lang == "zh"} >= {"doc_number", "title", "fragment", "name", "issuer", "body", "absent"}


def _query(page, server, path, q):
    return results(page, server, path, q)


def test_what_readers_type_finds_what_they_mean(browser, servers):
    server, page = servers("bundled"), browser.new_page()
    for name in ("王晓明", "王晓明等同志", "晓明", "李静"):  # a name out of any dictionary, in context or not
        hrefs = _query(page, server, "search/", name)
        assert hrefs and hrefs[0].endswith("/records/appt-2024-04-01/"), (name, hrefs)
    hrefs = _query(page, server, "search/", "外商")  # a two-character title fragment
    assert any(h.endswith("/records/fdi-2024-3/") for h in hrefs), hrefs
    hrefs = _query(page, server, "search/", "若干措施（样例）")  # pasted with its punctuation
    assert hrefs and hrefs[0].endswith("/records/fdi-2024-3/"), hrefs
    for absent in ("未来文件", "营商环境", "TARGETED-SECRET-9911", "样例市市长"):
        assert _query(page, server, "search/", absent) == [], absent
    marks = page.locator(".result-excerpt mark")
    _query(page, server, "search/", "政务公开")
    assert set(marks.all_inner_texts()) == {"政务公开"}  # highlights mark the query, not its characters
    # a document number as readers write it
    page.goto(server.url + "search/?q=" + quote("沪府办字2024年5号"))
    page.wait_for_selector("#docno-hit:not([hidden]) a", timeout=15000)
    assert page.locator("#docno-hit a").first.get_attribute("href").endswith("/records/hfbz-2024-5/")
    page.close()


def test_the_english_search_page_speaks_english(browser, servers):
    import re as _re

    server, page = servers("edge"), browser.new_page()
    _query(page, server, "en/search/", "Sample")
    page.locator("#search-filters summary").click()
    groups = page.locator("#search-filters legend").all_inner_texts()
    labels = page.locator("#search-filters label").all_inner_texts()
    interface = [page.locator("main h1").inner_text(), page.locator("#search-status").inner_text(),
                 page.locator("#search-q").get_attribute("placeholder") or "",
                 *page.locator("#search-form label, #search-form option, #search-form button, #search-form summary").all_inner_texts(),
                 *groups, *labels]
    assert groups and labels and not any(_re.search(r"[\u4e00-\u9fff]", text) for text in interface), interface
    assert "results for Sample" in page.locator("#search-status").inner_text()
    page.close()


def test_names_and_text_with_markup_stay_text_on_the_search_page(browser, tmp_path):
    """A taxonomy name or a code span with markup shows as text on the search
    page (filter labels, result lines, excerpts) and runs nothing."""
    from click.testing import CliRunner

    from conftest import Server
    from gazette.cli import main

    site = tmp_path / "site"
    assert CliRunner().invoke(main, ["init", str(site)]).exit_code == 0
    evil = '<img src=x onerror="window.__pwned=1">办公厅&amp;'
    issuers = site / "content" / "_taxonomy" / "issuers.yaml"
    text = issuers.read_text(encoding="utf-8").replace("zh: 上海市人民政府办公厅,", f"zh: '{evil}',", 1)
    issuers.write_text(text, encoding="utf-8")
    topics = site / "content" / "_taxonomy" / "topics.yaml"
    topics.write_text(topics.read_text(encoding="utf-8").replace("zh: 政务公开,", "zh: '<b onmouseover=\"window.__pwned=2\">政务公开</b>',", 1), encoding="utf-8")
    record = site / "content" / "records" / "2024" / "hfbz-2024-5.md"
    record.write_text(record.read_text(encoding="utf-8") + '\n示例代码 `<img src=y onerror="window.__pwned=3">` 结束\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "--site", str(site), "--no-pdf"])
    assert result.exit_code == 0, result.output
    server = Server(site / "output")
    try:
        page = browser.new_page()
        assert results(page, server, "search/", "示例代码")
        excerpts = page.locator(".result-excerpt").all_inner_texts()
        assert any('<img src=y onerror="window.__pwned=3">' in e for e in excerpts), excerpts
        page.locator("#search-filters summary").click()
        labels = page.locator("#search-filters label").all_inner_texts()
        # the name as text, whatever it holds (quotes and ampersands full-width: Pagefind cannot match them)
        shown = '<img src=x onerror=＂window.__pwned=1＂>办公厅＆amp;'
        assert any(label.startswith(shown) for label in labels), labels
        assert any(label.startswith('<b onmouseover=＂window.__pwned=2＂>政务公开</b>') for label in labels), labels
        assert page.locator("main img, main b").count() == 0
        titles = page.locator(".result-link").all_inner_texts()
        page.get_by_label(re.compile("^" + re.escape(shown))).check()  # the filter still works
        page.wait_for_function("""() => {
            const links = [...document.querySelectorAll('#search-results .result-link')];
            return links.length > 0 && links.every(a => a.href.includes('hfbz-2024-5'));
        }""", timeout=15000)
        assert titles
        assert page.evaluate("window.__pwned") is None
        page.close()
    finally:
        server.close()


@pytest.mark.parametrize("text, spaced", [
    ("措施2024年", "措 施 2024 年"),            # a digit after a character, a character after a digit
    ("关于 印发", "关 于 印 发"),               # a space already there is not doubled
    ("上海市A级\n政府", "上 海 市 A 级\n政 府"),  # ASCII letters become words; a line break stays one
    ("（样例）措施", "（ 样 例） 措 施"),         # punctuation stays glued to the character before it
    ("\U00020001字x", "\U00020001 字 x"),       # characters beyond the BMP too
    ("plain text", "plain text"),
])
def test_every_han_character_is_a_word_of_its_own_in_the_index_copy(text, spaced):
    """The rule static/search.js applies to a query (spaceHan): the index copy
    Pagefind reads must split text the same way, or a phrase is never found."""
    from gazette.search import space_han

    assert space_han(text) == spaced
