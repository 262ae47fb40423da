"""Incremental builds: the same bytes as a clean build, only changed files
written, a killed build leaves the last output, a damaged cache is never
trusted.  Real builds of the bundled sample site (HTML only) throughout."""
from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EPOCH, settings


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _inodes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_ino for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def site(tmp_path) -> Path:
    from gazette import resources

    folder = tmp_path / "site"
    sample = resources.sample_site()  # in a source checkout, the repository itself: copy the site's parts only
    folder.mkdir()
    shutil.copy2(sample / "gazette.yaml", folder / "gazette.yaml")
    for part in ("content", "themes"):
        shutil.copytree(sample / part, folder / part)
    return folder


def _build(site: Path, out: Path, cache: Path, clean: bool = False, session=None):
    from gazette.pipeline import build

    return build(site, out, pdf=False, with_search=False, settings=settings(cache), clean=clean, workers=1,
                 session=session)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _edits(site: Path):
    """A day of an editor's changes, one at a time: (what, change)."""
    folder = site / "content" / "records" / "2024"
    first, second = folder / "hfbz-2024-5-jd.md", folder / "hfbz-2024-5-faq.md"  # both linked to the policy
    theme = site / "themes" / "default" / "templates"

    def body():
        first.write_text(first.read_text(encoding="utf-8") + "\n\nA paragraph added later.\n", encoding="utf-8")

    def title():
        _edit(second, "title: ", "title: 修订：")

    def add():
        text = first.read_text(encoding="utf-8")
        rid = first.stem
        (first.parent / "zz-added-1.md").write_text(text.replace(f"id: {rid}", "id: zz-added-1", 1), encoding="utf-8")

    def remove():
        (first.parent / "zz-added-1.md").unlink()

    def template():
        theme.mkdir(parents=True, exist_ok=True)
        from gazette import resources

        base = (resources.builtin_theme() / "templates" / "base.html").read_text(encoding="utf-8")
        (theme / "base.html").write_text(base.replace("</footer>", "<p>local note</p></footer>", 1), encoding="utf-8")

    def listing():  # one page template: the listings render again, nothing else
        from gazette import resources

        own = (resources.builtin_theme() / "templates" / "listing.html").read_text(encoding="utf-8")
        (theme / "listing.html").write_text(own.replace("{% block main %}", '{% block main %}<p class="note">listing note</p>', 1),
                                            encoding="utf-8")

    def taxonomy():
        path = site / "content" / "_taxonomy" / "topics.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("zh: ", "zh: 新", 1), encoding="utf-8")

    def config():
        path = site / "gazette.yaml"
        path.write_text(path.read_text(encoding="utf-8") + "\nhome_latest: 3\n", encoding="utf-8")

    def unpublish():
        _edit(second, "disclosure: proactive", "disclosure: on-request")

    def bodies_listed():  # a site's listing that shows what built-in listings do not: each record's body
        text = (theme / "listing.html").read_text(encoding="utf-8")
        (theme / "listing.html").write_text(text.replace(
            "{% block main %}", "{% block main %}{% for r in records %}<div hidden>"
            "{% for e in r.editions.values() %}{{ e.body_html }}{% endfor %}</div>{% endfor %}", 1), encoding="utf-8")

    return [("body", body), ("title", title), ("add", add), ("remove", remove), ("template", template),
            ("listing", listing), ("taxonomy", taxonomy), ("config", config), ("unpublish", unpublish),
            ("bodies listed", bodies_listed), ("body again", body)]


def test_every_incremental_build_is_byte_identical_to_a_clean_build(site, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = _build(site, out, cache)
    assert first.reused == 0 and first.up_to_date is None
    assert _build(site, out, cache).up_to_date is not None  # nothing changed
    from gazette.buildcache import BuildState

    for what, change in _edits(site):
        before = _tree(out)
        inodes = _inodes(out)
        catalog_key = BuildState.load(cache, out).files["data/catalog.json"].key
        change()
        result = _build(site, out, cache)
        # the catalogue shows front matters: made again for a title, not for a body
        if what in ("body", "title"):
            assert (BuildState.load(cache, out).files["data/catalog.json"].key == catalog_key) == (what == "body")
        clean_out = tmp_path / f"clean-{what}"
        _build(site, clean_out, tmp_path / f"clean-cache-{what}", clean=True)
        got, want = _tree(out), _tree(clean_out)
        assert got.keys() == want.keys(), f"after '{what}': files differ: {sorted(got.keys() ^ want.keys())[:5]}"
        differ = [rel for rel in want if got[rel] != want[rel]]
        assert not differ, f"after '{what}': incremental output differs from a clean build in {differ[:5]}"
        # only files whose bytes changed were written: the rest are the very same files
        now = _inodes(out)
        rewritten = {rel for rel in now if rel in inodes and now[rel] != inodes[rel]} - {".gazette-output"}  # the marker
        changed = {rel for rel in got if rel in before and got[rel] != before[rel]}
        assert rewritten == changed, f"after '{what}': rewritten but unchanged: {sorted(rewritten - changed)[:5]}"
        if what == "body":
            assert changed and result.reused > 0.8 * result.files, (what, result.reused, result.files)
            # listings, the home page and related records' pages show its front matter, not its body:
            # only its own pages render again
            pages = {rel for rel in changed if rel.endswith(".html")}
            assert pages and all("hfbz-2024-5-jd" in rel for rel in pages) and result.rendered == len(pages), (
                sorted(pages), result.rendered)
        if what == "listing":  # exactly the pages made with listing.html were rendered
            listings = {rel for rel in changed if rel.endswith(".html")}
            assert listings and all(b"listing note" in got[rel] for rel in listings)
            assert sum(b"listing note" in data for data in got.values()) == len(listings) == result.rendered


def test_a_build_with_nothing_changed_says_so_and_writes_nothing(site, tmp_path):
    _edit(site / "content" / "records" / "2024" / "hfbz-2024-5-faq.md", "title: ", "colour_of_cover: blue\ntitle: ")  # a warning
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, GAZETTE_CACHE_DIR=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--no-search", "--site", str(site),
           "--out", str(tmp_path / "out")]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    inodes = _inodes(tmp_path / "out")
    second = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "up to date: nothing changed since the last build" in second.stdout
    assert "warning" in first.stderr and second.stderr == first.stderr  # the same warnings, again
    assert _inodes(tmp_path / "out") == inodes
    # an output file touched by hand is not "up to date": it is rebuilt
    page = tmp_path / "out" / "index.html"
    page.write_bytes(page.read_bytes() + b"<!-- edited -->")
    third = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert third.returncode == 0 and "up to date" not in third.stdout
    assert b"edited" not in page.read_bytes()


def test_a_build_by_other_gazette_code_reuses_nothing(site, tmp_path, monkeypatch):
    """Caches and keys carry gazette's version and a digest of its code: the
    same version number with other code (a source checkout between releases,
    whose output may differ) loads, keys and renders everything anew."""
    from gazette import buildcache, keys, load

    out, cache = tmp_path / "out", tmp_path / "cache"
    first = _build(site, out, cache)
    again = _build(site, out, cache)
    assert again.up_to_date is not None  # the same code: nothing to do
    loaded = []
    monkeypatch.setattr(load, "load_record_file", lambda *a, f=load.load_record_file, **k: loaded.append(a[1]) or f(*a, **k))
    for module in (buildcache, keys):
        monkeypatch.setattr(module, "code_identity", lambda: "0.1.0+other-code")
    other = _build(site, out, cache)
    assert other.up_to_date is None
    assert len(loaded) == len(list((site / "content" / "records").rglob("*.md")))  # none from the load cache
    assert other.rendered == first.pages == other.pages  # no page kept under its old key
    assert _tree(out) == _tree(_build(site, tmp_path / "clean", tmp_path / "clean-cache", clean=True).out_dir)


def test_a_killed_build_leaves_the_last_output_whole(site, tmp_path):
    """Kill the build at many moments; every time the output is exactly the last
    good one, and the next build is exactly a clean build."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(site, out, cache)
    good = _tree(out)
    body = site / "content" / "records" / "2024" / "hfbz-2024-5-jd.md"
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, GAZETTE_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-m", "gazette.cli", "build", "--no-pdf", "--no-search", "--site", str(site), "--out", str(out)]
    probe = time.monotonic()
    subprocess.run(cmd, env=env, capture_output=True, check=True)  # nothing changed: how long a run takes here
    span = max(time.monotonic() - probe, 0.5)
    killed = 0
    for i in range(8):
        body.write_text(body.read_text(encoding="utf-8") + f"\n\nEdit {i}.\n", encoding="utf-8")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(span * (i + 1) / 8)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        now = _tree(out)
        if now != good:  # it got as far as publishing: then the new output is whole
            clean = tmp_path / f"clean-{i}"
            _build(site, clean, tmp_path / f"clean-cache-{i}", clean=True)
            assert now == _tree(clean), f"run {i} (exit {proc.returncode}): the output is neither the last one nor the new one"
            good = now
    assert killed, "no build was killed mid-way"
    _build(site, out, cache)
    _build(site, tmp_path / "clean", tmp_path / "clean-cache", clean=True)
    assert _tree(out) == _tree(tmp_path / "clean")


def test_a_damaged_or_planted_cache_is_never_trusted(site, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(site, out, cache)
    shards = sorted((cache / "load").glob("*.cache"))
    states = sorted((cache / "builds").glob("*.state"))
    assert shards and states
    # flip a byte in a load-cache shard and in the build state; truncate another shard
    for path in (shards[0], states[0]):
        data = bytearray(path.read_bytes())
        data[-10] ^= 0xFF
        path.write_bytes(bytes(data))
    shards[-1].write_bytes(shards[-1].read_bytes()[:50])
    # a planted shard, properly sealed, whose pickle would run a command
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    from gazette import buildcache, resources

    payload = pickle.dumps({"gazette": resources.code_identity(), "entries": {"ab" + "0" * 62: Evil()}})
    (cache / "load" / "ab.cache").write_bytes(buildcache._seal(payload))
    # and a page of the output edited by hand, same size
    page = out / "index.html"
    html = page.read_bytes()
    page.write_bytes(html.replace(b"<title>", b"<title>X", 1)[:-1])
    # the content changes too, so the build has to look at everything
    body = site / "content" / "records" / "2024" / "hfbz-2024-5-jd.md"
    body.write_text(body.read_text(encoding="utf-8") + "\n\nLater.\n", encoding="utf-8")
    _build(site, out, cache)
    assert not marker.exists()
    _build(site, tmp_path / "clean", tmp_path / "clean-cache", clean=True)
    assert _tree(out) == _tree(tmp_path / "clean")


def test_an_edit_that_keeps_size_and_modification_time_is_built(site, tmp_path):
    """The digest index trusts a file whose status is unchanged: an edit that
    keeps the size and puts the old modification time back still moves the
    change time, and the build sees it."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    time.sleep(2.2)  # the site's files older than the index's margin: trusted from the first build on
    _build(site, out, cache)
    body = site / "content" / "records" / "2024" / "hfbz-2024-5-jd.md"
    st = body.stat()
    text = body.read_text(encoding="utf-8")
    at = text.rindex("。")  # in the body: the last full stop becomes a comma, the same three bytes
    body.write_text(text[:at] + "，" + text[at + 1:], encoding="utf-8")
    os.utime(body, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert body.stat().st_size == st.st_size and body.stat().st_mtime_ns == st.st_mtime_ns
    result = _build(site, out, cache)
    assert result.up_to_date is None
    _build(site, tmp_path / "clean", tmp_path / "clean-cache", clean=True)
    assert _tree(out) == _tree(tmp_path / "clean")


def test_the_next_build_changes_the_spare_in_place_and_trusts_nothing_in_it(site, tmp_path):
    """The replaced output stays beside the new one as the spare, and the next
    build is made in it.  Whatever is planted there (a link where a folder
    belongs, a link in a page's place, a page edited into a new file, a stray
    file, a link to a folder) is replaced or removed: nothing is written
    outside it, and the output is a clean build's, file for file."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    _build(site, out, cache)
    body = site / "content" / "records" / "2024" / "hfbz-2024-5-jd.md"
    body.write_text(body.read_text(encoding="utf-8") + "\n\nLater.\n", encoding="utf-8")
    _build(site, out, cache)
    spare = tmp_path / ".out.spare"
    assert (spare / ".gazette-output").is_file() and (spare / "index.html").is_file()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not gazette's", encoding="utf-8")
    folders = sorted(p for p in spare.iterdir() if p.is_dir())
    victim = folders[0]
    shutil.rmtree(victim)
    victim.symlink_to(outside, target_is_directory=True)  # a folder's place: a link out
    page = spare / "index.html"
    page.unlink()
    page.symlink_to(outside / "keep.txt")  # a page's place: a link out
    other = next(p for p in sorted(spare.rglob("*.html")) if p.is_file() and not p.is_symlink() and victim not in p.parents)
    data = other.read_bytes()
    other.unlink()
    other.write_bytes(data.replace(b"<title>", b"<title>planted ", 1))  # a new file: the same page edited
    (spare / "planted.html").write_text("<p>planted</p>", encoding="utf-8")
    (spare / "more").symlink_to(outside, target_is_directory=True)
    body.write_text(body.read_text(encoding="utf-8") + "\n\nLater still.\n", encoding="utf-8")
    result = _build(site, out, cache)
    assert result.reused > 0.8 * result.files
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "not gazette's"
    _build(site, tmp_path / "clean", tmp_path / "clean-cache", clean=True)
    assert _tree(out) == _tree(tmp_path / "clean")
    assert not [p for p in out.rglob("*") if p.is_symlink()]


def test_a_session_reads_nothing_it_holds_and_builds_the_same_bytes(site, tmp_path, monkeypatch):
    """What `serve` does: one process builds again and again with a Session
    (the last build's load results and state kept in memory).  Every build
    equals a clean build; a build with nothing else changed unpickles nothing
    (the load results and the state come from memory); a build by another
    process in between (a new state file) is noticed, not overwritten by
    what the session remembers."""
    from gazette import buildcache
    from gazette.buildcache import Session

    unpickled, read = [], []  # load results unpickled; cache files read
    real_unpickle, real_read = buildcache.unpickle, buildcache._read_sealed
    monkeypatch.setattr(buildcache, "unpickle", lambda payload: unpickled.append(1) or real_unpickle(payload))
    monkeypatch.setattr(buildcache, "_read_sealed", lambda path: read.append(path) or real_read(path))
    out, cache, session = tmp_path / "out", tmp_path / "cache", Session()
    _build(site, out, cache, session=session)
    for i, (what, change) in enumerate(_edits(site)):
        change()
        unpickled.clear(), read.clear()
        other = i % 4 == 3  # now and then, a build by another process (no session)
        _build(site, out, cache, session=None if other else session)
        if not other and what in ("body", "title"):
            held = [p for p in read if p.parent.name in ("load", "builds")]
            assert not held and len(unpickled) == len(read), f"after '{what}': read {held[:3]}, unpickled {len(unpickled)}"
        _build(site, tmp_path / f"clean-{what}", tmp_path / f"clean-cache-{what}", clean=True)
        assert _tree(out) == _tree(tmp_path / f"clean-{what}"), f"after '{what}' ({'another process' if other else 'session'})"


def test_worker_processes_give_the_same_bytes_as_one_process(tmp_path, monkeypatch):
    """Loading and rendering in forked worker processes (what a large site
    does) gives the very files one process gives, and fills the load cache a
    later build reuses.  The thresholds are lowered so a small site takes the
    worker path."""
    from gazette import load
    from gazette.pipeline import build
    from gazette.render import batch
    from conftest import _synthetic

    site, _ = _synthetic(tmp_path, n=60)
    serial = build(site, tmp_path / "one", pdf=False, with_search=False, settings=settings(tmp_path / "c1"), workers=1)
    monkeypatch.setattr(load, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(batch, "PARALLEL_PAGES", 10)
    forked = build(site, tmp_path / "two", pdf=False, with_search=False, settings=settings(tmp_path / "c2"), workers=2)
    assert forked.pages == serial.pages > 100
    assert _tree(tmp_path / "two") == _tree(tmp_path / "one")
    assert len(list((tmp_path / "c2" / "load").glob("*.cache"))) > 10
    # the load cache the workers filled serves the next build: every record file from it
    record = sorted((site / "content" / "records").rglob("*.md"))[0]
    record.write_text(record.read_text(encoding="utf-8") + "\n\nA line added.\n", encoding="utf-8")
    again = build(site, tmp_path / "two", pdf=False, with_search=False, settings=settings(tmp_path / "c2"), workers=2)
    clean = build(site, tmp_path / "one", pdf=False, with_search=False, settings=settings(tmp_path / "c1"), workers=1, clean=True)
    assert _tree(tmp_path / "two") == _tree(tmp_path / "one")
    assert again.reused > 0.9 * again.files and clean.reused == 0
