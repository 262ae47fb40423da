"""PDFs with real WeasyPrint and Noto CJK fonts; release, revision, tampering."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from click.testing import CliRunner

from conftest import ROOT, settings
from gazette.cli import main
from gazette.pipeline import build


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def page_texts(pdf: Path) -> list[str]:
    reader = pypdf.PdfReader(str(pdf))
    return [re.sub(r"\s+", "", p.extract_text() or "") for p in reader.pages]


def outline(pdf: Path) -> list[tuple[int, str, int]]:
    reader = pypdf.PdfReader(str(pdf))
    out = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                out.append((depth, item.title, reader.get_destination_page_number(item) + 1))
    walk(reader.outline, 0)
    return out


@pytest.fixture(scope="module")
def bundled(built_sites):
    return built_sites["bundled"]


def test_every_public_record_and_english_edition_has_a_pdf_linked_from_its_page(bundled):
    site = bundled.result.site
    for record in site.public:
        for lang in record.editions:
            prefix = "" if lang == "zh" else "en/"
            name = f"{record.id}.pdf" if lang == "zh" else f"{record.id}.en.pdf"
            pdf = bundled.out / prefix / "records" / record.id / name
            assert pdf.is_file(), pdf
            html = (pdf.parent / "index.html").read_text(encoding="utf-8")
            assert f'href="{name}" type="application/pdf"' in html


def test_record_pdf_text_is_extractable_chinese_with_embedded_subset_fonts(bundled):
    pdf = bundled.out / "records" / "hfbz-2024-5" / "hfbz-2024-5.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    assert "2024年上海市政务公开工作要点" in flat and "沪府办字〔2024〕5号" in flat
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and any("CJK" in f for f in fonts)
    for row in fonts:
        cols = row.split()
        assert cols[-5:-2] == ["yes", "yes", "yes"], row  # embedded, subset, unicode map
    assert re.search(r"第1页/共\d+页", page_texts(pdf)[0])


def test_pdfs_are_pdf_a_3b_with_document_metadata(bundled):
    pdf = bundled.out / "issues" / "2024-04" / "gazette-2024-04.pdf"
    reader = pypdf.PdfReader(str(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "<xmp:CreateDate>2024-04-15</xmp:CreateDate>" in xmp
    assert reader.metadata.title == "上海市人民政府公报（样例） 2024年第4期"
    assert reader.trailer["/Root"]["/Lang"] == "zh"
    assert reader.metadata.creation_date.date().isoformat() == "2024-04-15"


def test_issue_pdf_contents_page_numbers_match_where_records_start(bundled):
    pdf = bundled.out / "issues" / "2024-04" / "gazette-2024-04.pdf"
    texts = page_texts(pdf)
    site = bundled.result.site
    issue = next(i for i in site.issues if i.key == "2024-04")
    toc = texts[1]
    assert toc.startswith("目录") and "上海市人民政府公报（样例）2024年第4期" in toc
    assert "2024年第4期" in texts[0] and "出版日期：2024年4月15日" in texts[0]
    marks = {title: page for depth, title, page in outline(pdf) if depth == 1}
    for record in issue.records:
        title = re.sub(r"\s+", "", record.title("zh"))
        listed = int(re.search(re.escape(title) + r"\.*(\d+)", toc).group(1))
        starts = next(n for n, t in enumerate(texts, 1) if n > 2 and title[:20] in t)
        assert listed == starts == marks[record.title("zh")], record.id
        assert f"第{listed}页/共{len(texts)}页" in texts[listed - 1]
        assert "上海市人民政府公报（样例）2024年第4期" in texts[listed - 1]  # running header


def test_issue_pdf_bookmarks_one_per_section_and_record(bundled):
    pdf = bundled.out / "issues" / "2024-04" / "gazette-2024-04.pdf"
    marks = outline(pdf)
    issue = next(i for i in bundled.result.site.issues if i.key == "2024-04")
    sections = [t for d, t, p in marks if d == 0]
    assert sections == ["目录"] + [s.title["zh"] for s in issue.sections]
    assert [t for d, t, p in marks if d == 1] == [r.title("zh") for r in issue.records]


def test_english_issue_pdf_lists_chinese_only_records(bundled):
    pdf = bundled.out / "issues" / "2024-04" / "gazette-2024-04.en.pdf"
    texts = page_texts(pdf)
    assert "availableinChineseonly" in texts[1]
    assert "上海市人民政府关于王晓明等同志职务任免的通知" in texts[1]  # listed, not printed
    marks = [t for d, t, p in outline(pdf) if d == 1]
    assert "Measures of Shanghai to Further Promote Foreign Investment (sample)" in marks
    assert not any("王晓明" in m for m in marks)
    assert pypdf.PdfReader(str(pdf)).trailer["/Root"]["/Lang"] == "en"


@pytest.fixture
def site_copy(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(ROOT / "gazette.yaml", site)
    shutil.copytree(ROOT / "content", site / "content")
    monkeypatch.setenv("GAZETTE_CACHE_DIR", str(tmp_path / "cache"))
    return site


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_release_change_revise_and_tamper(site_copy, tmp_path):
    site, out = site_copy, tmp_path / "out"
    wrong = run("issue", "release", "2024-4", "--site", site)
    assert wrong.exit_code == 1 and "did you mean 2024-04?" in wrong.output
    result = run("issue", "release", "2024-04", "--site", site)
    assert result.exit_code == 0, result.output
    v1 = site / "archive" / "issues" / "2024-04" / "v1"
    manifest = json.loads((v1 / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == 1 and manifest["erratum"] is None
    assert manifest["files"]["gazette-2024-04.pdf"] == digest(v1 / "gazette-2024-04.pdf")
    assert "content/records/2024/hfbz-2024-5.md" in manifest["sources"]
    v1_pdf = digest(v1 / "gazette-2024-04.pdf")
    assert run("issue", "release", "2024-04", "--site", site).exit_code == 1  # once only

    assert run("build", "--site", site, "--out", out).exit_code == 0
    assert digest(out / "issues" / "2024-04" / "v1" / "gazette-2024-04.pdf") == v1_pdf
    assert digest(out / "issues" / "2024-04" / "gazette-2024-04.pdf") == v1_pdf
    import feedparser
    issues_feed = feedparser.parse((out / "feeds" / "issues" / "rss.xml").read_bytes())
    enclosure = issues_feed.entries[0].enclosures[0]  # a released issue's entry carries its PDF
    assert enclosure.href.endswith("/issues/2024-04/gazette-2024-04.pdf") and enclosure.type == "application/pdf"
    assert int(enclosure.length) == (v1 / "gazette-2024-04.pdf").stat().st_size

    # a released record changes: the build names the record and the issue
    record = site / "content" / "records" / "2024" / "hfbz-2024-5.md"
    text = record.read_text(encoding="utf-8").replace("请认真按照执行", "请认真贯彻执行")
    # internal changes that must never show in the public redline
    text = re.sub(r"review: \{by: [^,]+,", "review: {by: 内部审核员甲,", text, count=1)
    text = text.replace("\n---\n", "\npii_allow: [INTERNAL-PII-77]\n---\n<!-- 内部备注：勿公开 -->\n", 1)
    record.write_text(text, encoding="utf-8")
    (record.parent / "hfbz-2024-5").mkdir(exist_ok=True)
    (record.parent / "hfbz-2024-5" / "notes.md").write_text("内部草稿XYZ\n", encoding="utf-8")
    failed = run("build", "--site", site, "--out", out)
    assert failed.exit_code == 1
    assert "record hfbz-2024-5 changed since issue 2024-04 was released as v1" in failed.output
    assert "gazette issue revise 2024-04" in failed.output
    assert run("issue", "revise", "2024-04", "--site", site, "--erratum", "").exit_code != 0

    revised = run("issue", "revise", "2024-04", "--site", site, "--erratum", "更正：通知第一段“按照”应为“贯彻”。",
                  "--erratum-en", "Erratum: in the notice, “按照” should read “贯彻”.")
    assert revised.exit_code == 0, revised.output
    assert digest(v1 / "gazette-2024-04.pdf") == v1_pdf  # v1 untouched
    assert run("issue", "revise", "2024-04", "--site", site, "--erratum", "again").exit_code == 1  # nothing changed

    assert run("build", "--site", site, "--out", out).exit_code == 0
    assert digest(out / "issues" / "2024-04" / "v1" / "gazette-2024-04.pdf") == v1_pdf
    v2_pdf = out / "issues" / "2024-04" / "v2" / "gazette-2024-04.pdf"
    assert digest(v2_pdf) != v1_pdf and digest(out / "issues" / "2024-04" / "gazette-2024-04.pdf") == digest(v2_pdf)
    cover = page_texts(v2_pdf)[0]
    assert "更正说明：通知第一段“按照”应为“贯彻”。" in cover and "更正：更正" not in cover and "更正说明：更正" not in cover
    en_pdf = out / "issues" / "2024-04" / "v2" / "gazette-2024-04.en.pdf"
    assert "Erratum:inthenotice,“按照”shouldread“贯彻”." in "".join(page_texts(en_pdf)[0].split())  # (text without spaces)
    issue_page = (out / "issues" / "2024-04" / "index.html").read_text(encoding="utf-8")
    assert "第2版" in issue_page and "第1版" in issue_page and "v1/gazette-2024-04.pdf" in issue_page
    assert "更正说明：通知第一段“按照”应为“贯彻”。" in issue_page and "更正说明：更正" not in issue_page
    # the PDF buttons: the site's language first, each named by its language; dates as readers write them
    buttons = re.findall(r'<a class="pdf-link"[^>]*hreflang="(\w+)">([^<]+)</a>', issue_page)
    assert buttons == [("zh", "本期PDF（中文）"), ("en", "本期PDF（英文）")], buttons
    assert re.search(r"发布于 \d{4}年\d{1,2}月\d{1,2}日", issue_page) and not re.search(r"发布于 \d{4}-", issue_page)
    assert "（当前版本）" in issue_page
    en_page = (out / "en" / "issues" / "2024-04" / "index.html").read_text(encoding="utf-8")
    buttons = re.findall(r'<a class="pdf-link"[^>]*hreflang="(\w+)">([^<]+)</a>', en_page)
    assert buttons == [("zh", "PDF of this issue (Chinese)"), ("en", "PDF of this issue (English)")], buttons
    assert "Erratum: in the notice, “按照” should read “贯彻”." in en_page and re.search(r"released \d{1,2} [A-Z][a-z]+ \d{4}", en_page)
    record_page = (out / "records" / "hfbz-2024-5" / "index.html").read_text(encoding="utf-8")
    assert "修改记录" in record_page
    assert "<del>按照</del><ins>贯彻</ins>" in record_page
    for internal in ("内部审核员甲", "INTERNAL-PII-77", "内部备注", "内部草稿XYZ", "pii_allow", "review:"):
        assert internal not in record_page, internal

    # tampering with an archived file is a build error
    pdf = v1 / "gazette-2024-04.pdf"
    data = bytearray(pdf.read_bytes())
    data[-20] ^= 1
    pdf.write_bytes(bytes(data))
    tampered = run("build", "--site", site, "--out", out)
    assert tampered.exit_code == 1
    assert "archive/issues/2024-04/v1/gazette-2024-04.pdf: error: released file was modified after release" in tampered.output


def test_unchanged_rebuild_renders_no_pdf_and_a_change_renders_only_what_it_affects(site_copy, tmp_path):
    first = build(site_copy, tmp_path / "a", settings=settings(tmp_path / "cache"))
    assert first.pdfs_rendered == first.pdfs_written == 13
    again = build(site_copy, tmp_path / "b", settings=settings(tmp_path / "cache"))
    assert again.pdfs_rendered == 0 and again.pdfs_written == 13
    record = site_copy / "content" / "records" / "2024" / "appt-2024-04-01.md"
    record.write_text(record.read_text(encoding="utf-8").replace("以上人员均为虚构", "以上人员均系虚构"), encoding="utf-8")
    changed = build(site_copy, tmp_path / "c", settings=settings(tmp_path / "cache"))
    assert changed.pdfs_rendered == 2  # its own PDF and the Chinese issue PDF (it has no English edition)


def test_damaged_cache_entry_is_never_trusted(site_copy, tmp_path):
    build(site_copy, tmp_path / "a", settings=settings(tmp_path / "cache"))
    cache = tmp_path / "cache" / "pdf"
    victim = sorted(cache.rglob("*.pdf"))[0]
    victim.write_bytes(b"%PDF-1.7 not really")
    again = build(site_copy, tmp_path / "b", settings=settings(tmp_path / "cache"))
    assert again.pdfs_rendered == 1
    assert all(p.read_bytes()[:5] == b"%PDF-" and len(p.read_bytes()) > 1000 for p in (tmp_path / "b").rglob("*.pdf"))


def test_no_cjk_font_stops_the_build_with_the_package_to_install(site_copy, tmp_path):
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig></fontconfig>')
    env = {"FONTCONFIG_FILE": str(conf), "PATH": "/usr/bin:/bin", "SOURCE_DATE_EPOCH": "1735689600",
           "GAZETTE_CACHE_DIR": str(tmp_path / "cache2")}
    proc = subprocess.run([sys.executable, "-m", "gazette.cli", "build", "--site", str(site_copy), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert "fonts-noto-cjk" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--site", str(site_copy), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr


def test_a_character_without_a_glyph_is_reported_with_record_and_line(site_copy):
    record = site_copy / "content" / "records" / "2024" / "comm-2024-03.md"
    record.write_text(record.read_text(encoding="utf-8") + "\n私用区字符\ue000。\n", encoding="utf-8")
    result = run("check", "--site", site_copy)
    assert result.exit_code == 0
    line = len(record.read_text(encoding="utf-8").split("\n")) - 1
    assert f"comm-2024-03.md:{line}: warning: no installed font has a glyph for" in result.output
    assert "U+E000" in result.output


def test_pdf_ua_variant_is_configurable(site_copy, tmp_path):
    config = site_copy / "gazette.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "pdf: {variant: pdf/ua-1}\n", encoding="utf-8")
    build(site_copy, tmp_path / "out", settings=settings(tmp_path / "cache"))
    reader = pypdf.PdfReader(str(tmp_path / "out" / "records" / "fdi-2024-3" / "fdi-2024-3.pdf"))
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root
    assert "pdfuaid" in root["/Metadata"].get_object().get_data().decode("utf-8")


def test_withdrawal_replaces_every_public_copy_and_keeps_the_archive(site_copy, tmp_path):
    site, out = site_copy, tmp_path / "out"
    assert run("issue", "release", "2024-04", "--site", site).exit_code == 0
    v1 = site / "archive" / "issues" / "2024-04" / "v1"
    v1_pdf = digest(v1 / "gazette-2024-04.pdf")
    title = "上海市人民政府关于表彰2023年度政务公开工作先进集体的决定"
    assert any(title in t for t in page_texts(v1 / "gazette-2024-04.pdf"))
    assert run("build", "--site", site, "--out", out).exit_code == 0

    early = run("issue", "withdraw", "2024-04", "comm-2024-03", "--reason", "误发", "--site", site)
    assert early.exit_code == 1 and "first remove comm-2024-03 from content/issues/2024-04.yaml" in early.output
    issue_file = site / "content" / "issues" / "2024-04.yaml"
    issue_file.write_text(issue_file.read_text(encoding="utf-8").replace(
        "  - title: {zh: 市政府文件, en: Documents of the Municipal Government}\n    records: [comm-2024-03]\n", ""), encoding="utf-8")
    record = site / "content" / "records" / "2024" / "comm-2024-03.md"
    still_public = run("issue", "withdraw", "2024-04", "comm-2024-03", "--reason", "误发", "--site", site)
    assert still_public.exit_code == 1 and "is still public" in still_public.output
    record.write_text(record.read_text(encoding="utf-8").replace("disclosure: proactive", "disclosure: not-public"), encoding="utf-8")
    blocked = run("build", "--site", site, "--out", out)
    assert blocked.exit_code == 1 and "gazette issue withdraw 2024-04 comm-2024-03" in blocked.output

    done = run("issue", "withdraw", "2024-04", "comm-2024-03", "--reason", "该文件不属于主动公开范围", "--site", site)
    assert done.exit_code == 0, done.output
    v2 = site / "archive" / "issues" / "2024-04" / "v2"
    manifest = json.loads((v2 / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["withdrawal"] == {"record": "comm-2024-03", "date": "2025-01-01", "reason": "该文件不属于主动公开范围", "versions": [1]}
    assert digest(v1 / "gazette-2024-04.pdf") == v1_pdf  # the archive keeps the earlier bytes
    assert "comm-2024-03" not in manifest["records"]

    result = run("build", "--site", site, "--out", out)
    assert result.exit_code == 0, result.output
    published = out / "issues" / "2024-04"
    assert digest(published / "v1" / "gazette-2024-04.pdf") == digest(v2 / "gazette-2024-04.pdf")
    assert digest(published / "gazette-2024-04.pdf") == digest(v2 / "gazette-2024-04.pdf")
    for pdf in out.rglob("*.pdf"):
        assert not any(title in t for t in page_texts(pdf)), pdf
    assert "撤回通知" in "".join(page_texts(published / "gazette-2024-04.pdf"))
    page = (published / "index.html").read_text(encoding="utf-8")
    assert "撤回通知：本期原载文件一件已于2025-01-01撤回" in page and "该文件不属于主动公开范围" in page
    assert "此版本载有已撤回的文件" in page and title not in page
    assert not (out / "records" / "comm-2024-03").exists()
    en = (out / "en" / "issues" / "2024-04" / "index.html").read_text(encoding="utf-8")
    assert "Notice of withdrawal" in en
    again = run("issue", "withdraw", "2024-04", "comm-2024-03", "--reason", "x", "--site", site)
    assert again.exit_code == 1 and "already withdrawn" in again.output


def test_pdfs_state_date_dependent_validity_as_of_a_printed_date_and_english_words_stay_whole(site_copy, tmp_path):
    """A released PDF never changes, so "not yet in force" must say as of when;
    and English titles are not letter-spaced into broken words."""
    record = site_copy / "content" / "records" / "2024" / "hfbz-2024-5.md"
    record.write_text(record.read_text(encoding="utf-8").replace("status: effective\n", "status: effective\neffective: 2024-05-01\n", 1),
                      encoding="utf-8")
    result = run("issue", "release", "2024-04", "--site", site_copy)
    assert result.exit_code == 0, result.output
    v1 = site_copy / "archive" / "issues" / "2024-04" / "v1"
    text = "".join(page_texts(v1 / "gazette-2024-04.pdf"))
    assert "尚未生效（截至2024年4月15日）" in text  # true for ever: the issue's own date
    out = tmp_path / "out"
    assert run("build", "--site", site_copy, "--out", out).exit_code == 0
    record_pdf = "".join(page_texts(out / "records" / "hfbz-2024-5" / "hfbz-2024-5.pdf"))
    assert "现行有效（截至2024年5月1日）" in record_pdf and "尚未生效" not in record_pdf  # since the day it took effect
    english = pypdf.PdfReader(str(v1 / "gazette-2024-04.en.pdf")).pages[0].extract_text()
    assert "Gazette" in english and "Municipal" in english, english
    assert "：" not in "".join(p.extract_text() for p in pypdf.PdfReader(str(v1 / "gazette-2024-04.en.pdf")).pages)


def test_pdfs_rendered_on_a_dask_cluster_match_the_local_pool(site_copy, tmp_path):
    """Two Dask workers (separate processes, no shared cache) render the site's
    PDFs; they match what the local pool renders."""
    distributed = pytest.importorskip("distributed")
    local = build(site_copy, tmp_path / "local", settings=settings(tmp_path / "cache-local"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        remote = build(site_copy, tmp_path / "remote", settings=settings(tmp_path / "cache-remote"),
                       scheduler=cluster.scheduler_address)
    assert remote.pdfs_rendered == local.pdfs_rendered == 13
    pdfs = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*.pdf"))
    assert pdfs == sorted(p.relative_to(tmp_path / "remote") for p in (tmp_path / "remote").rglob("*.pdf"))
    for rel in pdfs:
        a, b = tmp_path / "local" / rel, tmp_path / "remote" / rel
        if a.read_bytes() != b.read_bytes():  # same bytes, or at least the same pages and text
            assert len(pypdf.PdfReader(str(a)).pages) == len(pypdf.PdfReader(str(b)).pages)
            assert page_texts(a) == page_texts(b), rel


def test_an_unreachable_scheduler_is_a_clear_error_and_publishes_nothing(site_copy, tmp_path):
    pytest.importorskip("distributed")
    result = run("build", "--site", site_copy, "--out", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
    bad = run("build", "--site", site_copy, "--out", tmp_path / "out", "--scheduler", "localhost")
    assert bad.exit_code == 2 and "not a Dask scheduler address" in bad.output and not (tmp_path / "out").exists()
