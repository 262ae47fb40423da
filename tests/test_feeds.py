"""Feeds, read back by feedparser."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import feedparser
import pytest


@pytest.fixture(scope="module")
def edge(built_sites):
    return built_sites["edge"]


def all_feeds(out):
    return sorted(p for p in out.rglob("feeds/**/*.xml"))


def test_every_feed_parses_without_bozo_and_holds_only_public_records(built):
    site = built.result.site
    public = {r.id for r in site.public}
    feeds = all_feeds(built.out)
    assert feeds
    for path in feeds:
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        assert parsed.entries, path
        for entry in parsed.entries:
            if ":issue:" in entry.id:  # the feed of gazette issues
                key = entry.id.split(":issue:")[1].split(":")[0]
                assert key in {i.key for i in site.issues}, (path, key)
                continue
            rid = entry.id.split(":record:")[1].split(":")[0]
            assert rid in public, (path, rid)


def test_feed_entries_are_newest_first_with_zoned_dates_links_summaries_and_categories(edge):
    parsed = feedparser.parse((edge.out / "feeds" / "all" / "atom.xml").read_bytes())
    assert parsed.version == "atom10"
    dates = [e.published for e in parsed.entries]
    stamps = [dt.datetime.fromisoformat(d) for d in dates]
    assert stamps == sorted(stamps, reverse=True)
    assert all(s.utcoffset() == dt.timedelta(hours=8) for s in stamps)
    new = next(e for e in parsed.entries if e.id.endswith(":record:p-new"))
    assert new.link == "https://example.gov.cn/gazette/records/p-new/"
    assert new.summary == "新版管理办法的摘要。"
    assert {t.term for t in new.tags} == {"openness", "foreign", "citizens", "enterprises"}
    rss = feedparser.parse((edge.out / "feeds" / "all" / "rss.xml").read_bytes())
    assert rss.version == "rss20" and rss.feed.link == "https://example.gov.cn/gazette/"
    assert [e.id for e in rss.entries] == [e.id for e in parsed.entries]


def test_entry_ids_do_not_depend_on_title_or_url(edge):
    parsed = feedparser.parse((edge.out / "feeds" / "types" / "policy" / "rss.xml").read_bytes())
    ids = {e.id for e in parsed.entries}
    assert "tag:example.gov.cn,2000:record:p-new" in ids
    assert not any("样例" in i or "/records/" in i for i in ids)


def test_scoped_feeds_and_english_feeds(edge):
    topic = feedparser.parse((edge.out / "feeds" / "topics" / "openness" / "rss.xml").read_bytes())
    assert {e.id.rsplit(":", 1)[1] for e in topic.entries} == {"p-new", "p-new-jd", "p-old"}
    en = feedparser.parse((edge.out / "en" / "feeds" / "all" / "atom.xml").read_bytes())
    titles = {e.title for e in en.entries}
    assert "Measures of Sample City on Administration (new edition)" in titles
    assert all(e.id.endswith(":en") for e in en.entries)
    assert not (edge.out / "en" / "feeds" / "issuers" / "city-finance").exists()  # no English content there
    assert (edge.out / "feeds" / "issuers" / "city-finance" / "rss.xml").is_file()


def test_listing_pages_advertise_their_feeds_and_subscribe_page_lists_all(edge):
    html = (edge.out / "topics" / "openness" / "index.html").read_text(encoding="utf-8")
    assert '<link rel="alternate" type="application/rss+xml"' in html and "feeds/topics/openness/rss.xml" in html
    home = (edge.out / "index.html").read_text(encoding="utf-8")
    assert 'href="feeds/all/atom.xml"' in home
    subscribe = (edge.out / "subscribe" / "index.html").read_text(encoding="utf-8")
    feeds = all_feeds(edge.out)
    zh_feeds = [p for p in feeds if not p.relative_to(edge.out).as_posix().startswith("en/")]
    linked = set(re.findall(r'href="\.\./(feeds/[^"]+\.xml)"', subscribe))
    assert linked == {p.relative_to(edge.out).as_posix() for p in zh_feeds}
    opml = ET.fromstring((edge.out / "feeds" / "feeds.opml").read_bytes())
    urls = {o.get("xmlUrl") for o in opml.iter("outline")}
    assert "https://example.gov.cn/gazette/feeds/topics/openness/rss.xml" in urls
    assert len(urls) == len([p for p in zh_feeds if p.name == "rss.xml"])


def test_markup_in_a_record_stays_text_in_every_feed_reader(tmp_path):
    """A code span `<img onerror=…>` is text on the page; RSS readers treat
    <description> as HTML, so it must arrive there escaped as HTML, not as markup."""
    from click.testing import CliRunner

    from gazette.cli import main

    site = tmp_path / "site"
    assert CliRunner().invoke(main, ["init", str(site)]).exit_code == 0
    record = site / "content" / "records" / "2024" / "comm-2024-03.md"
    text = record.read_text(encoding="utf-8").split("---\n")
    text[2] = '代码 `<img src=x onerror="alert(1)">` 与 R&D 说明。\n'
    record.write_text("---\n".join(text), encoding="utf-8")
    assert CliRunner().invoke(main, ["build", "--site", str(site), "--no-pdf", "--no-search"]).exit_code == 0
    rss_bytes = (site / "output" / "feeds" / "all" / "rss.xml").read_bytes()
    item = rss_bytes.split(b"comm-2024-03/</link>", 1)[1].split(b"</item>", 1)[0]
    description = item.split(b"<description>", 1)[1].split(b"</description>", 1)[0].decode()
    # XML-decoded once, the description is HTML whose text is the code span
    assert description == '代码 &amp;lt;img src=x onerror="alert(1)"&amp;gt; 与 R&amp;amp;D 说明。'
    rss = feedparser.parse(rss_bytes)
    entry = next(e for e in rss.entries if e.id.endswith(":record:comm-2024-03"))
    assert "<img" not in entry.summary and "&lt;img" in entry.summary  # feedparser keeps it as HTML text
    atom = feedparser.parse((site / "output" / "feeds" / "all" / "atom.xml").read_bytes())
    entry = next(e for e in atom.entries if e.id.endswith(":record:comm-2024-03"))
    assert entry.summary_detail.type == "text/plain"
    assert entry.summary == '代码 <img src=x onerror="alert(1)"> 与 R&D 说明。'
    assert "content" not in entry  # Atom carries the summary once, as text


def test_a_feed_of_gazette_issues_newest_first_in_each_language(edge):
    for prefix, label in (("", "2024年第12期"), ("en/", "2024, No. 12")):
        parsed = feedparser.parse((edge.out / prefix / "feeds" / "issues" / "rss.xml").read_bytes())
        assert not parsed.bozo
        assert [e.id.rsplit(":issue:", 1)[1].split(":")[0] for e in parsed.entries] == ["2024-12", "2024-01"]
        first = parsed.entries[0]
        assert first.title.startswith(label) and first.link.endswith(f"/gazette/{prefix}issues/2024-12/")
    subscribe = (edge.out / "subscribe" / "index.html").read_text(encoding="utf-8")
    assert "feeds/issues/rss.xml" in subscribe
    opml = (edge.out / "feeds" / "feeds.opml").read_text(encoding="utf-8")
    assert "feeds/issues/rss.xml" in opml
