"""`gazette serve`: a real server process, real HTTP, real file edits."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import SITES


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def wait_for(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def start(site, *extra, env=None):
    """`gazette serve` on a free port -> (process, URL of the site)."""
    proc = subprocess.Popen([sys.executable, "-m", "gazette.cli", "serve", "--site", str(site), "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    line = proc.stdout.readline()
    while "serving" not in line:
        assert line, "serve exited early"
        line = proc.stdout.readline()
    return proc, re.search(r"at (http://127\.0\.0\.1:\d+/\S*)", line).group(1)


def test_serve_rebuilds_on_change_and_shows_errors_in_the_page(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    proc, url = start(site)
    try:
        assert url.endswith("/gazette/")  # served at the base_url's path
        status, html = fetch(url + "records/p-6/")
        assert status == 200 and "样例市第6号通知" in html

        record = site / "content" / "records" / "2024" / "p-6.md"
        good = record.read_text(encoding="utf-8")
        record.write_text(good.replace("样例市第6号通知", "样例市第6号通知（修订）"), encoding="utf-8")
        wait_for(lambda: "（修订）" in fetch(url + "records/p-6/")[1])

        record.write_text(good.replace("published: 2024-11-06", "published: 2024-13-06"), encoding="utf-8")
        status, html = wait_for(lambda: (r := fetch(url + "records/p-6/"))[0] == 500 and r)
        assert "网站未能生成" in html and "p-6.md:6: error: published" in html  # in the site's language

        record.write_text(good, encoding="utf-8")
        status, html = wait_for(lambda: (r := fetch(url + "records/p-6/"))[0] == 200 and r)
        assert "（修订）" not in html and proc.poll() is None
        assert fetch(url + "no/such/page/")[0] == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_open_pages_reload_after_a_rebuild_and_a_build_error_shows_and_clears_in_place(tmp_path, browser):
    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    proc, url = start(site)
    try:
        page = browser.new_page()
        page.goto(url + "records/p-6/")
        page.evaluate("window.__sameDocument = true")  # gone after any reload
        record = site / "content" / "records" / "2024" / "p-6.md"
        good = record.read_text(encoding="utf-8")
        record.write_text(good.replace("样例市第6号通知", "样例市第6号通知（修订）"), encoding="utf-8")
        page.wait_for_function("() => document.querySelector('h1').textContent.includes('（修订）')", timeout=30000)
        assert page.evaluate("window.__sameDocument") is None  # it reloaded by itself
        record.write_text(good.replace("published: 2024-11-06", "published: 2024-13-06"), encoding="utf-8")
        page.wait_for_function("() => document.body.textContent.includes('网站未能生成')", timeout=30000)
        assert "p-6.md:6: error: published" in page.content()
        record.write_text(good, encoding="utf-8")
        page.wait_for_function("() => document.querySelector('h1') && document.querySelector('h1').textContent === '样例市第6号通知'",
                               timeout=30000)
        built = (site / "output" / "records" / "p-6" / "index.html")
        assert not built.exists() or "__gazette" not in built.read_text(encoding="utf-8")  # the script is the preview's only
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_edit_to_a_released_issue_previews_with_a_warning_and_build_refuses_it(tmp_path):
    from click.testing import CliRunner

    from gazette.cli import main

    site = tmp_path / "site"
    assert CliRunner().invoke(main, ["init", str(site)]).exit_code == 0
    assert CliRunner().invoke(main, ["issue", "release", "2024-04", "--site", str(site)]).exit_code == 0
    record = site / "content" / "records" / "2024" / "hfbz-2024-5.md"
    record.write_text(record.read_text(encoding="utf-8").replace("请认真按照执行", "请认真贯彻执行"), encoding="utf-8")
    proc, url = start(site, "--out", str(tmp_path / "preview"))
    try:
        status, html = fetch(url + "records/hfbz-2024-5/")
        assert status == 200 and "请认真贯彻执行" in html  # the preview shows the edit
        assert "预览提示" in html and "record hfbz-2024-5 changed since issue 2024-04 was released as v1" in html
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    built = CliRunner().invoke(main, ["build", "--site", str(site), "--out", str(tmp_path / "out")])
    assert built.exit_code == 1 and "changed since issue 2024-04 was released" in built.output


def test_a_save_rebuilds_incrementally_unchanged_pages_are_carried_over(tmp_path):
    """serve takes the build's incremental path: after one record's body
    changes, that page is a new file and the other record pages are the very
    files of the last output (hard links: the same inodes), not rendered again."""
    site, out = tmp_path / "site", tmp_path / "out"
    shutil.copytree(SITES / "valid" / "edge", site)
    proc, url = start(site, "--out", str(out))
    try:
        pages = sorted((out / "records").glob("*/index.html"))
        assert len(pages) > 5
        before = {p: p.stat().st_ino for p in pages}
        record = site / "content" / "records" / "2024" / "p-6.md"
        record.write_text(record.read_text(encoding="utf-8") + "\n\n一段后加的文字。\n", encoding="utf-8")
        wait_for(lambda: "一段后加的文字" in fetch(url + "records/p-6/")[1])
        edited = out / "records" / "p-6" / "index.html"
        assert edited.stat().st_ino != before[edited]
        kept = [p for p in pages if p != edited and p.stat().st_ino == before[p]]
        assert len(kept) >= (len(pages) - 1) // 2, f"only {len(kept)} of {len(pages) - 1} other record pages carried over"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_stopped_server_removes_its_temporary_output(tmp_path, stop):
    """Ctrl+C, a service manager's SIGTERM or a closed terminal's SIGHUP: the
    server stops cleanly and its output folder (a whole built site, in the
    temporary folder) goes with it."""
    site, temp = tmp_path / "site", tmp_path / "tmp"
    shutil.copytree(SITES / "valid" / "edge", site)
    temp.mkdir()
    proc, url = start(site, env=dict(os.environ, TMPDIR=str(temp)))
    try:
        assert fetch(url)[0] == 200
        made = [p.name for p in temp.iterdir()]
        assert len(made) == 1 and made[0].startswith("gazette-serve-")  # the output is there while it serves
        proc.send_signal(stop)
        assert proc.wait(timeout=20) == 0
        assert list(temp.iterdir()) == []
    finally:
        if proc.poll() is None:
            proc.kill()
