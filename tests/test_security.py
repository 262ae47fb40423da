"""Content is untrusted: links out of the site, dangerous URLs, strings that
would break out of the place they land.  Each test builds a real site."""
from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from gazette.cli import main

SECRET = "OUTSIDE-SECRET-5c1e7a"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def site(tmp_path) -> Path:
    site = tmp_path / "site"
    assert run("init", site).exit_code == 0
    return site


def add_record(site: Path, rid: str, front: str, body: str = "正文。") -> Path:
    path = site / "content" / "records" / "2024" / f"{rid}.md"
    path.write_text(f"---\nid: {rid}\ntype: commendation\ntitle: 测试记录{rid}\nissuer: shanghai-gov\n"
                    f"published: 2024-05-01\ndisclosure: proactive\nreview: {{by: 审查人, date: 2024-05-01}}\n"
                    f"{front}---\n{body}\n", encoding="utf-8")
    return path


def all_output_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


# ------------------------------------------------------------------ symlinks
def test_links_out_of_the_site_are_errors_and_nothing_is_published(site, tmp_path):
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    (outside / "dir" / "hostname").write_text(SECRET, encoding="utf-8")
    add_record(site, "att-test", "attachments:\n  - {title: 口令, file: passwd.txt}\n  - {title: 主机, file: etcdir/hostname}\n")
    folder = site / "content" / "records" / "2024" / "att-test"
    folder.mkdir()
    os.symlink(outside / "secret.txt", folder / "passwd.txt")
    os.symlink(outside / "dir", folder / "etcdir")
    static = site / "themes" / "default" / "static"
    static.mkdir(parents=True)
    os.symlink(outside / "secret.txt", static / "shadow.css")
    os.symlink(outside / "secret.txt", site / "content" / "records" / "2024" / "linked.md")

    for command in ("check", "build"):
        result = run(command, "--site", site, "--no-pdf")
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        for name in ("att-test/passwd.txt", "att-test/etcdir", "static/shadow.css", "2024/linked.md"):
            assert re.search(re.escape(name) + r": error: is a symbolic link that leads outside", result.output), (name, result.output)
    assert not (site / "output").exists()


def test_an_attachment_must_stay_inside_its_record_folder(site):
    add_record(site, "att-in", "attachments:\n  - {title: 正常, file: ok.txt}\n")
    add_record(site, "att-draft", "attachments:\n  - {title: 草稿, file: draft.md}\n")
    ok = site / "content" / "records" / "2024" / "att-in"
    ok.mkdir()
    (ok / "real.txt").write_text("附件正文", encoding="utf-8")
    os.symlink("real.txt", ok / "ok.txt")  # a link inside the folder is followed
    bad = site / "content" / "records" / "2024" / "att-draft"
    bad.mkdir()
    os.symlink("../draft-unreviewed.md", bad / "draft.md")  # inside the site, outside the record's folder
    result = run("build", "--site", site, "--no-pdf", "--no-search")
    assert result.exit_code == 1
    assert re.search(r"att-draft\.md:\d+: error: attachments\[0\]\.file: attachment 'draft\.md' is a symbolic link .*outside the record's folder att-draft/", result.output), result.output
    assert "att-in" not in result.output
    (bad / "draft.md").unlink()
    (bad / "draft.md").write_text("附件", encoding="utf-8")
    result = run("build", "--site", site, "--no-pdf", "--no-search")
    assert result.exit_code == 0, result.output
    published = site / "output" / "records" / "att-in" / "files" / "ok.txt"
    assert published.read_text(encoding="utf-8") == "附件正文" and not published.is_symlink()
    assert b"UNREVIEWED-41bd2e" not in all_output_bytes(site / "output")


# ------------------------------------------------------------------ URL fields
@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
                                 "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "//evil.example/x", "/relative", "vbscript:x", "https://", "http:///x",
                                 "https://ok.example/\u0000x"])
def test_url_fields_accept_only_http_and_https(site, url):
    quoted = json.dumps(url)
    add_record(site, "u1", f"source_url: {quoted}\n")
    consult = site / "content" / "records" / "2024" / "consult-2024-data.md"
    text = consult.read_text(encoding="utf-8")
    consult.write_text(re.sub(r"\n---\n", lambda m: f"\nfeedback: {{url: {quoted}}}\n---\n", text.replace("feedback:", "old_feedback:"), count=1), encoding="utf-8")
    services = site / "content" / "_taxonomy" / "services.yaml"
    services.write_text(services.read_text(encoding="utf-8") + f"bad-service: {{name: 坏链接, url: {quoted}}}\n", encoding="utf-8")
    result = run("check", "--site", site, "--no-pdf")
    assert result.exit_code == 1 and "Traceback" not in result.output
    for where in ("u1.md:", "source_url", "consult-2024-data.md:", "feedback.url", "services.yaml:", "bad-service.url"):
        assert where in result.output, (where, result.output)
    assert result.output.count("not an http(s) URL") >= 3


def test_http_urls_still_work(site):
    add_record(site, "u2", 'source_url: "https://www.example.gov.cn/a?b=1&c=<2>"\n')
    result = run("build", "--site", site, "--no-pdf", "--no-search")
    assert result.exit_code == 0, result.output
    html = (site / "output" / "records" / "u2" / "index.html").read_text(encoding="utf-8")
    assert 'href="https://www.example.gov.cn/a?b=1&amp;c=&lt;2&gt;"' in html


# ------------------------------------------------------------------ JSON-LD
class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.in_ld, self.footer = [], False, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.in_ld = tag == "script" and attrs.get("type") == "application/ld+json"
        self.footer = self.footer or tag == "footer"

    def handle_data(self, data):
        if self.in_ld:
            self.scripts.append(data)

    def handle_endtag(self, tag):
        self.in_ld = False


def test_json_ld_cannot_be_broken_out_of(site):
    title = "标题<!--<script>alert(1)</script>]]>&amp;"
    issuers = site / "content" / "_taxonomy" / "issuers.yaml"
    issuers.write_text(issuers.read_text(encoding="utf-8").replace("上海市人民政府,", "上海市人民政府</script><!--,", 1), encoding="utf-8")
    path = add_record(site, "ld1", "doc_number: 沪府〔2024〕99号\n")
    text = path.read_text(encoding="utf-8").replace("title: 测试记录ld1", f"title: {json.dumps(title, ensure_ascii=False)}")
    path.write_text(text.replace("type: commendation", "type: policy"), encoding="utf-8")
    result = run("build", "--site", site, "--no-pdf", "--no-search")
    assert result.exit_code == 0, result.output
    html = (site / "output" / "records" / "ld1" / "index.html").read_text(encoding="utf-8")
    parser = _Scripts()
    parser.feed(html)
    assert parser.footer, "the page after the JSON-LD block was swallowed"
    assert len(parser.scripts) == 1
    data = json.loads(parser.scripts[0])
    assert data["name"] == title
    assert "上海市人民政府</script><!--" in json.dumps(data, ensure_ascii=False)
    block = html.split('application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block and ">" not in block and "&" not in block


# ------------------------------------------------------------------ the output folder
def test_the_output_never_holds_the_subscriber_database_or_the_archive(site, tmp_path):
    assert run("subscribers", "add", "reader@example.org", "--site", site).exit_code == 0
    database = site / ".gazette" / "subscribers.sqlite3"
    before = database.read_bytes()
    for out in (site / ".gazette", site, site / "archive", tmp_path):
        (site / "archive").mkdir(exist_ok=True)
        result = run("build", "--site", site, "--out", out, "--no-pdf", "--no-search")
        assert result.exit_code == 1 and "refusing to write output" in result.output and "Traceback" not in result.output, (out, result.output)
    config = site / "gazette.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "subscriptions: {database: public/subs.sqlite3}\n", encoding="utf-8")
    result = run("build", "--site", site, "--out", site / "public", "--no-pdf", "--no-search")
    assert result.exit_code == 1 and "subs.sqlite3" in result.output
    assert database.read_bytes() == before


@pytest.mark.parametrize("out", ["/", "~"])
def test_unreasonable_output_folders_are_refused(site, out):
    result = run("build", "--site", site, "--out", os.path.expanduser(out), "--no-pdf", "--no-search")
    assert result.exit_code == 1 and "refusing to write output" in result.output and "internal error" not in result.output


def test_folders_beside_the_output_are_replaced_only_if_gazette_made_them(site):
    mine = site / ".output.staging"
    mine.mkdir()
    (mine / "notes.txt").write_text("an editor's notes", encoding="utf-8")
    result = run("build", "--site", site, "--no-pdf", "--no-search")
    assert result.exit_code == 1 and ".output.staging" in result.output
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "an editor's notes"
    (mine / "notes.txt").unlink()
    mine.rmdir()
    # what an interrupted build leaves (a staging folder with a Pagefind mirror) is cleared
    assert run("build", "--site", site, "--no-pdf").exit_code == 0
    leftover = site / ".output.staging"
    (leftover / ".pagefind-x").mkdir(parents=True)
    (leftover / ".gazette-output").write_text("", encoding="utf-8")
    assert run("build", "--site", site, "--no-pdf").exit_code == 0
    assert not leftover.exists() and not list(site.glob(".pagefind-*"))


def test_the_swap_is_one_step_and_a_half_done_swap_is_recovered(site, tmp_path):
    from gazette.writer import _exchange

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a"), (b / "x").write_text("b")
    assert _exchange(a, b)  # renameat2(RENAME_EXCHANGE) on this kernel
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"
    assert run("build", "--site", site, "--no-pdf", "--no-search").exit_code == 0
    out = site / "output"
    os.replace(out, site / ".output.old")  # killed between the fallback's two renames
    broken = site / "content" / "records" / "2024" / "hfbz-2024-5.md"
    broken.write_text(broken.read_text(encoding="utf-8").replace("published:", "published: 2024-13-45\nx:", 1), encoding="utf-8")
    result = run("build", "--site", site, "--no-pdf", "--no-search")
    assert result.exit_code == 1
    assert (out / "index.html").is_file()  # the previous output is back, although this build failed


# ------------------------------------------------------------------ malformed input
BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" \
       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" \
       "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"


@pytest.mark.parametrize("front, expected", [
    (BOMB, r"att\.md:\d+: error: .*anchors and aliases"),
    ("x: " + "[" * 500 + "]" * 500 + "\n", r"att\.md:\d+: error: .*nested"),
    ("priority: " + "9" * 5000 + "\n", r"att\.md:\d+: error: priority: the number 999999999999… has 5000 digits"),
    ("type: [policy]\n", r"att\.md:\d+: error: type: \['policy'\] is not a record type"),
    ("type: {a: b}\n", r"att\.md:\d+: error: type: \{'a': 'b'\} is not a record type"),
    ('title: " "\n', r"att\.md:\d+: error: title: must not be blank"),
    ('title: "一\\n二"\n', r"att\.md:\d+: error: title: must be one line"),
])
def test_malformed_front_matter_is_a_diagnostic(site, front, expected):
    defaults = {"id": "att", "type": "commendation", "title": "测试", "issuer": "shanghai-gov",
                "published": "2024-05-01", "disclosure": "proactive"}
    own = {line.split(":", 1)[0] for line in front.splitlines() if line[:1].isalpha()}
    head = "".join(f"{k}: {v}\n" for k, v in defaults.items() if k not in own)
    path = site / "content" / "records" / "2024" / "att.md"
    path.write_text(f"---\n{head}{front}---\n正文\n", encoding="utf-8")
    result = run("check", "--site", site, "--no-pdf")
    assert result.exit_code == 1 and "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert re.search(expected, result.output), result.output


def test_other_careless_input_is_reported(site, tmp_path):
    faq = site / "content" / "records" / "2024" / "hfbz-2024-5-faq.md"
    text = faq.read_text(encoding="utf-8")
    faq.write_text(re.sub(r"^policy: .*$", "policy: hfbz-2024-5-jd", text, count=1, flags=re.M), encoding="utf-8")
    issues = site / "content" / "issues"
    for p in issues.iterdir():
        p.unlink()
    issues.rmdir()
    issues.write_text("not a folder", encoding="utf-8")
    result = run("check", "--site", site, "--no-pdf")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "content/issues: error: content/issues must be a folder" in result.output, result.output
    issues.unlink()
    result = run("check", "--site", site, "--no-pdf")
    assert re.search(r"hfbz-2024-5-faq\.md:\d+: error: policy: 'hfbz-2024-5-jd' is a interpretation; a FAQ list belongs to a policy", result.output), result.output
    config = site / "gazette.yaml"
    config.write_text(config.read_text(encoding="utf-8") + 'subscriptions: {reply_to: "a@b.example\\nBcc: x@y.example"}\n', encoding="utf-8")
    result = run("check", "--site", site, "--no-pdf")
    assert re.search(r"gazette\.yaml:\d+: error: subscriptions\.reply_to: .* is not an email address", result.output)
    big = tmp_path / "big.csv"
    big.write_text("email,lang\n\"" + "x" * 200_000 + "\",zh\n", encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8").rsplit("subscriptions:", 1)[0], encoding="utf-8")
    faq.write_text(text, encoding="utf-8")
    result = run("subscribers", "import", big, "--site", site)
    assert result.exit_code == 1 and "not valid CSV" in result.output and "big.csv:2" in result.output, result.output


# ------------------------------------------------------------------ themes
@pytest.mark.parametrize("payload", [
    "{{ cycler.__init__.__globals__.os.popen('touch PWNED').read() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch PWNED').read() }}",
])
def test_site_themes_run_sandboxed(site, payload, monkeypatch):
    monkeypatch.chdir(site)
    templates = site / "themes" / "default" / "templates"
    templates.mkdir(parents=True)
    (templates / "404.html").write_text('{% extends "base.html" %}\n{% block main %}\n' + payload + "\n{% endblock %}\n", encoding="utf-8")
    result = run("build", "--site", site, "--no-pdf", "--no-search")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(r"404\.html:3: not allowed in a theme \(templates run sandboxed\)", result.output), result.output
    assert not (site / "PWNED").exists() and not (site / "output").exists()


# ------------------------------------------------------------------ PDF fetches
def _png() -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_images_come_only_from_the_record_folder_and_nothing_is_fetched(site, tmp_path):
    import http.server
    import subprocess
    import threading

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(_png())

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        body = (f"图一\n\n![外部图片](http://127.0.0.1:{port}/a.png)\n\n![协议相对](//127.0.0.1:{port}/b.png)\n\n"
                "![本地图表](chart.png)\n\n![越界](../hfbz-2024-5.md)\n\n![根路径](/etc/hostname)\n")
        path = add_record(site, "img1", "", body)
        folder = path.with_name("img1")
        folder.mkdir()
        (folder / "chart.png").write_bytes(_png())
        result = run("build", "--site", site, "--no-search")
        assert result.exit_code == 0, result.output
    finally:
        server.shutdown()
    assert hits == []  # neither the page build nor WeasyPrint fetched anything
    out = result.output
    assert re.search(rf"img1\.md:12: warning: body: the image http://127\.0\.0\.1:{port}/a\.png is on another host", out), out
    assert re.search(rf"img1\.md:14: warning: body: the image //127\.0\.0\.1:{port}/b\.png is on another host", out), out
    assert re.search(r"img1\.md:18: warning: body: the image \.\./hfbz-2024-5\.md is not a file of the record's folder", out), out
    assert re.search(r"img1\.md:20: warning: body: the image /etc/hostname is not a file", out), out
    html = (site / "output" / "records" / "img1" / "index.html").read_text(encoding="utf-8")
    assert '<img src="files/chart.png" alt="本地图表">' in html
    assert "127.0.0.1" not in html and "gazette-file" not in html and "外部图片" in html
    assert (site / "output" / "records" / "img1" / "files" / "chart.png").read_bytes() == _png()
    pdf = site / "output" / "records" / "img1" / "img1.pdf"
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert len(images.strip().splitlines()) == 3  # two header lines and one image: the chart
    data = (site / "output" / "data" / "records" / "img1.json").read_text(encoding="utf-8")
    assert "https://gazette.example.gov.cn/records/img1/files/chart.png" in data and "gazette-file" not in data


def test_a_missing_body_image_is_an_error(site):
    add_record(site, "img2", "", "![图](missing.png)\n")
    result = run("check", "--site", site, "--no-pdf")
    assert result.exit_code == 1
    assert re.search(r"img2\.md:\d+: error: body: the image 'missing\.png' is not in the record folder img2/", result.output), result.output


@pytest.mark.parametrize("name", ["page.html", "chart.SVG", "x.xhtml", "feed.xml", "a.js"])
def test_attachments_that_would_run_on_the_site_are_refused(site, name):
    add_record(site, "act1", f"attachments:\n  - {{title: 文件, file: {name}}}\n", "正文\n\n![图](pic.svg)\n")
    folder = site / "content" / "records" / "2024" / "act1"
    folder.mkdir()
    (folder / name).write_text("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", encoding="utf-8")
    (folder / "pic.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", encoding="utf-8")
    result = run("build", "--site", site, "--no-pdf", "--no-search")
    assert result.exit_code == 1
    assert re.search(rf"act1\.md:10: error: attachments\[0\]\.file: attachment '{re.escape(name)}' is a web document", result.output), result.output
    assert re.search(r"act1\.md:\d+: error: body: the image 'pic\.svg' is a web document", result.output), result.output
    assert not (site / "output").exists()


# ------------------------------------------------------------------ signed, verifiable output
def test_every_build_has_a_manifest_and_a_signed_one_verifies(site, tmp_path):
    keys = tmp_path / "keys"
    made = run("keys", "new", "--out", keys)
    assert made.exit_code == 0, made.output
    private, public = keys / "gazette-signing.pem", keys / "gazette-signing.pub.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    assert run("keys", "new", "--out", site / "keys").exit_code == 1  # never inside a site
    inside = site / "k.pem"
    inside.write_bytes(private.read_bytes())
    refused = run("build", "--site", site, "--no-pdf", "--no-search", "--sign-key", inside)
    assert refused.exit_code == 1 and "keep private keys outside the site" in refused.output
    inside.unlink()

    result = run("build", "--site", site, "--no-pdf", "--sign-key", private)
    assert result.exit_code == 0, result.output
    out = site / "output"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json", "manifest.sig"}
    assert set(manifest["files"]) == files and "index.html" in files
    assert private.read_bytes() not in all_output_bytes(out)
    ok = run("verify", out, "--key", public)
    assert ok.exit_code == 0 and "ok: signature valid; 0 missing, 0 changed, 0 extra files" in ok.output, ok.output

    deployed = tmp_path / "deployed"
    import shutil
    shutil.copytree(out, deployed)
    (deployed / "records" / "hfbz-2024-5" / "index.html").write_text("defaced", encoding="utf-8")
    (deployed / "robots.txt").unlink()
    (deployed / "extra.html").write_text("<p>planted</p>", encoding="utf-8")
    bad = run("verify", deployed, "--key", public)
    assert bad.exit_code == 1
    for line in ("changed: records/hfbz-2024-5/index.html", "missing: robots.txt", "extra: extra.html"):
        assert line in bad.output, bad.output
    # a manifest rewritten to match the defacement no longer matches the signature
    forged = json.loads((deployed / "manifest.json").read_text(encoding="utf-8"))
    forged["files"].pop("robots.txt")
    (deployed / "manifest.json").write_text(json.dumps(forged), encoding="utf-8")
    assert "signature INVALID" in run("verify", deployed, "--key", public).output
    other = tmp_path / "other"
    run("keys", "new", "--out", other)
    assert "signature INVALID" in run("verify", out, "--key", other / "gazette-signing.pub.pem").output
    unsigned = tmp_path / "unsigned"
    assert run("build", "--site", site, "--out", unsigned, "--no-pdf", "--no-search").exit_code == 0
    assert "manifest.sig is missing" in run("verify", unsigned, "--key", public).output
    assert run("verify", unsigned).exit_code == 0


# ------------------------------------------------------------------ list entries
def test_list_entries_link_from_every_page_even_with_the_link_mark_in_a_title(site):
    """A listing's entries are rendered once, with a mark where the link goes,
    and each page puts its own relative URL there: a title that holds the
    mark itself is rendered with each page's link instead, escaped."""
    from gazette.render.html import _LINK_MARK

    title = f"标题{_LINK_MARK}<b>&"
    for rid, name in (("mk1", json.dumps(title, ensure_ascii=False)), ("mk2", "普通标题")):
        path = add_record(site, rid, "")
        path.write_text(path.read_text(encoding="utf-8").replace(f"title: 测试记录{rid}", f"title: {name}"), encoding="utf-8")
    result = run("build", "--site", site, "--no-pdf", "--no-search")
    assert result.exit_code == 0, result.output
    shown = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for listing, up in (("index.html", ""), ("types/commendation/index.html", "../../"),
                        ("years/2024/index.html", "../../")):
        html = (site / "output" / listing).read_text(encoding="utf-8")
        assert f'<a href="{up}records/mk1/">{shown}</a>' in html, listing
        assert f'<a href="{up}records/mk2/">普通标题</a>' in html, listing
        assert html.count(_LINK_MARK) == 1, listing  # the title's own, once
