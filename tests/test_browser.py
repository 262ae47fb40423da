"""Real checkers on the built pages: the Nu HTML checker (vnu), axe-core in
Chromium, and a reader clicking through the site."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import ROOT

VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def test_every_page_is_valid_html(built_sites):
    if not VNU.is_file() or not shutil.which("java"):
        pytest.fail("vnu is not installed: run setup.sh (npm ci) first")
    files = []
    for name in ("bundled", "edge"):
        files += sorted(str(p) for p in built_sites[name].out.rglob("*.html"))
    synthetic = sorted(built_sites["synthetic"].out.rglob("*.html"))
    files += [str(p) for p in synthetic[:: max(1, len(synthetic) // 300)]]  # a spread of the large site
    proc = subprocess.run(["java", "-jar", str(VNU), "--errors-only", "--format", "json", *files],
                          capture_output=True, text=True)
    messages = json.loads(proc.stderr or '{"messages": []}')["messages"]
    errors = [f"{m.get('url', '').rsplit('/out-', 1)[-1]}:{m.get('lastLine')}: {m['message']}" for m in messages if m.get("type") == "error"]
    assert not errors, "\n".join(errors[:40])
    assert len(files) > 100


AXE_PAGES = [
    ("bundled", ""),
    ("bundled", "records/hfbz-2024-5/"),
    ("bundled", "issues/2024-04/"),
    ("bundled", "en/records/fdi-2024-3/"),
    ("bundled", "en/topics/foreign-affairs/"),
    ("edge", "records/p-new/"),
    ("edge", "records/appt-2024-12/"),
    ("edge", "records/consult-open/"),
    ("bundled", "search/?q=政务公开"),
    ("bundled", "en/search/?q=investment"),
    ("bundled", "subscribe/"),
]


@pytest.mark.parametrize("site,path", AXE_PAGES)
def test_no_serious_accessibility_violations(browser, servers, site, path):
    server = servers(site)
    for width in (1280, 390):  # desktop and phone
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(server.url + path)
        if "search/" in path:
            page.wait_for_selector("#search-results .result-link", timeout=15000)  # check the page with its results
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        page.close()
        bad = [f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
               for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{path} at {width}px:\n" + "\n".join(bad)


def test_reader_opens_a_policy_switches_to_english_and_back(browser, servers):
    server = servers("bundled")
    page = browser.new_page()
    page.goto(server.url)
    assert page.locator("html").get_attribute("lang") == "zh"
    page.get_by_role("link", name="上海市人民政府办公厅关于印发《2024年上海市政务公开工作要点》的通知").first.click()
    page.wait_for_url("**/records/hfbz-2024-5/")
    assert "沪府办字〔2024〕5号" in page.locator(".doc-meta").inner_text()
    page.get_by_role("link", name="English", exact=True).click()
    page.wait_for_url("**/en/records/hfbz-2024-5/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Key Points of Shanghai's Government Openness Work in 2024" in page.locator("h1").inner_text()
    page.get_by_role("link", name="中文", exact=True).click()
    page.wait_for_url("**/records/hfbz-2024-5/")
    assert page.url.endswith("/records/hfbz-2024-5/") and "/en/" not in page.url
    assert page.locator("html").get_attribute("lang") == "zh"
    page.close()


def test_phone_layout_has_no_horizontal_scroll(browser, servers):
    server = servers("bundled")
    page = browser.new_page(viewport={"width": 360, "height": 740})
    for path in ("", "records/hfbz-2024-5/", "records/appt-2024-04-01/", "en/"):
        page.goto(server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, (path, overflow)
    page.close()


@pytest.mark.parametrize("path", ["", "en/"])
def test_masthead_search_placeholder_fits_and_every_page_has_an_icon(browser, servers, path):
    server = servers("bundled")
    for width in (1280, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(server.url + path)
        fits = page.evaluate("""() => {
            const input = document.getElementById('site-q');
            const style = getComputedStyle(input);
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = style.font;
            const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
            return [ctx.measureText(input.placeholder).width, room];
        }""")
        assert fits[0] <= fits[1], (path, width, fits)  # the whole placeholder shows
        status, kind = page.evaluate("""async () => {
            const r = await fetch(document.querySelector('link[rel=icon]').href);
            return [r.status, r.headers.get('content-type')];
        }""")
        assert status == 200 and "svg" in kind, (status, kind)
        page.close()
