"""check --links against a real local HTTP server: every kind of answer a host gives."""
from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time

import pytest
from click.testing import CliRunner

from gazette.cli import main


class Host(http.server.BaseHTTPRequestHandler):
    requests: list = []

    def _answer(self, head: bool):
        Host.requests.append((self.command, self.path))
        routes = {
            "/ok": (200, None), "/moved": (301, "/moved2"), "/moved2": (301, "/ok"),
            "/gone": (404, None), "/loop-a": (302, "/loop-b"), "/loop-b": (302, "/loop-a"),
            "/busy": (429, None), "/unavailable": (503, None), "/error": (500, None),
        }
        if self.path == "/slow":
            time.sleep(2)
            code, location = 200, None
        elif self.path == "/head-refused":
            code, location = (405, None) if head else (200, None)
        else:
            code, location = routes.get(self.path, (404, None))
        self.send_response(code)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        self._answer(True)

    def do_GET(self):
        self._answer(False)

    def log_message(self, *a):
        pass


@pytest.fixture
def host():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Host)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Host.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_links_reports_every_broken_link_with_record_field_and_line(tmp_path, host):
    site = tmp_path / "site"
    assert CliRunner().invoke(main, ["init", str(site)]).exit_code == 0
    refused = f"http://127.0.0.1:{closed_port()}/x"
    records = site / "content" / "records" / "2024"
    links = {"ok": f"{host}/ok", "moved": f"{host}/moved", "gone": f"{host}/gone", "loop": f"{host}/loop-a",
             "slow": f"{host}/slow", "busy": f"{host}/busy", "unavailable": f"{host}/unavailable",
             "head": f"{host}/head-refused", "refused": refused, "error": f"{host}/error"}
    for name, url in links.items():
        (records / f"lnk-{name}.md").write_text(
            f"---\nid: lnk-{name}\ntype: commendation\ntitle: 链接{name}\nissuer: shanghai-gov\npublished: 2024-05-01\n"
            f"disclosure: proactive\nreview: {{by: 审查人, date: 2024-05-01}}\nsource_url: {url}\n---\n"
            f"正文，另见[链接]({url}#part)。\n", encoding="utf-8")
    services = site / "content" / "_taxonomy" / "services.yaml"
    services.write_text(services.read_text(encoding="utf-8") + f"dead-service: {{name: 失效事项, url: {host}/gone}}\n", encoding="utf-8")
    report = tmp_path / "links.json"
    result = CliRunner().invoke(main, ["check", "--site", str(site), "--no-pdf", "--links", "--link-timeout", "0.5",
                                       "--report", str(report)])
    out = result.output
    assert result.exit_code == 1 and "Traceback" not in out
    assert re.search(rf"lnk-gone\.md:9: error: source_url: {re.escape(host)}/gone: broken link \(HTTP 404\)", out), out
    assert re.search(r"lnk-gone\.md:11: error: body: .*/gone#part: broken link \(HTTP 404\)", out), out
    assert re.search(r"services\.yaml:\d+: error: dead-service\.url: .*/gone: broken link", out), out
    assert re.search(r"lnk-loop\.md:9: error: source_url: .*redirect loop", out), out
    assert re.search(r"lnk-slow\.md:9: error: source_url: .*no answer within 0\.5 s", out), out
    assert re.search(r"lnk-refused\.md:9: error: source_url: .*cannot connect", out), out
    assert re.search(r"lnk-error\.md:9: error: source_url: .*HTTP 500", out), out
    assert re.search(rf"lnk-moved\.md:9: warning: source_url: .*redirects \(HTTP 200 after 301 {re.escape(host)}/moved2 -> 301 {re.escape(host)}/ok\)", out), out
    assert re.search(r"lnk-busy\.md:9: warning: source_url: .*HTTP 429 \(busy", out), out
    assert re.search(r"lnk-unavailable\.md:9: warning: source_url: .*HTTP 503", out), out
    for fine in ("lnk-ok.md", "lnk-head.md"):
        assert fine not in out, fine
    assert ("GET", "/head-refused") in Host.requests  # HEAD refused: asked again with GET
    rows = {row["url"]: row for row in json.loads(report.read_text(encoding="utf-8"))}
    assert rows[f"{host}/gone"]["severity"] == "error" and rows[f"{host}/busy"]["severity"] == "warning"
    assert {u["record"] for u in rows[f"{host}/gone"]["used"]} == {"lnk-gone", None}


def test_check_without_links_touches_no_network(tmp_path, host):
    site = tmp_path / "site"
    assert CliRunner().invoke(main, ["init", str(site)]).exit_code == 0
    (site / "content" / "records" / "2024" / "lnk.md").write_text(
        f"---\nid: lnk\ntype: commendation\ntitle: 链接\nissuer: shanghai-gov\npublished: 2024-05-01\n"
        f"disclosure: proactive\nreview: {{by: 审查人, date: 2024-05-01}}\nsource_url: {host}/gone\n---\n正文\n", encoding="utf-8")
    for args in (["check"], ["build", "--no-pdf"]):
        assert CliRunner().invoke(main, [*args, "--site", str(site)]).exit_code == 0
    assert Host.requests == []
