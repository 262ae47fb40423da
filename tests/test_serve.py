"""`gazette serve`: a real server process, real HTTP, real file edits."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

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


def test_serve_rebuilds_on_change_and_shows_errors_in_the_page(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    proc = subprocess.Popen([sys.executable, "-m", "gazette.cli", "serve", "--site", str(site), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        while "serving" not in line:
            assert line, "serve exited early"
            line = proc.stdout.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+/\S*)", line).group(1)
        assert url.endswith("/gazette/")  # served at the base_url's path
        status, html = fetch(url + "records/p-6/")
        assert status == 200 and "样例市第6号通知" in html

        record = site / "content" / "records" / "2024" / "p-6.md"
        good = record.read_text(encoding="utf-8")
        record.write_text(good.replace("样例市第6号通知", "样例市第6号通知（修订）"), encoding="utf-8")
        wait_for(lambda: "（修订）" in fetch(url + "records/p-6/")[1])

        record.write_text(good.replace("published: 2024-11-06", "published: 2024-13-06"), encoding="utf-8")
        status, html = wait_for(lambda: (r := fetch(url + "records/p-6/"))[0] == 500 and r)
        assert "The site did not build" in html and "p-6.md:6: error: published" in html

        record.write_text(good, encoding="utf-8")
        status, html = wait_for(lambda: (r := fetch(url + "records/p-6/"))[0] == 200 and r)
        assert "（修订）" not in html and proc.poll() is None
        assert fetch(url + "no/such/page/")[0] == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)
