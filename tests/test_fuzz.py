"""Fuzzing: whatever an editor (or an attacker) writes, gazette builds it or
names the file and line of every problem.  Never an internal error, never a
hang, never a file outside the output folder.

Seeded (derandomize) and bounded, so every run checks the same hundreds of
cases in about a minute.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import settings as run_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gazette.cli import main
from gazette.errors import GazetteError
from gazette.pipeline import build, check

FIELDS = ["id", "type", "title", "published", "disclosure", "review", "audience", "issuer", "doc_number", "topics",
          "tags", "priority", "summary", "attachments", "source_url", "extra", "status", "effective", "expires",
          "basis", "related", "interprets", "policy", "entries", "honorees", "opens", "closes", "feedback", "signature"]
SETTINGS = settings(max_examples=120, deadline=dt.timedelta(seconds=10), derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30), st.floats(allow_nan=True),
    st.text(max_size=40), st.sampled_from(["policy", "faq", "proactive", "targeted", "2024-02-30", "2024-05-01",
                                           "shanghai-gov", "hfbz-2024-5", "javascript:alert(1)", "https://example.org/",
                                           "<script>alert(1)</script>", "../../etc/passwd", "\u202e", "", " "]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
front_matter = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), values, max_size=12)
yaml_noise = st.text(alphabet=st.sampled_from(list("ab: -[]{}&*!|>'\"%@`#,?\n\t 中文\\0123")), max_size=200)


def _base(tmp: Path) -> Path:
    site = tmp / "site"
    assert CliRunner().invoke(main, ["init", "--empty", str(site)]).exit_code == 0
    (site / "content" / "records" / "2024").mkdir(parents=True)
    (site / "content" / "records" / "2024" / "base.md").write_text(
        "---\nid: base\ntype: policy\ntitle: 基础文件\nissuer: gov-office\npublished: 2024-05-01\n"
        "disclosure: proactive\nreview: {by: 审查人, date: 2024-05-01}\ninterpretation_required: false\n---\n正文\n",
        encoding="utf-8")
    return site


def _dump(data) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError):
        return "{}\n"


def _checked(site: Path, fuzzed: Path, do_build: bool = False, out: Path | None = None):
    start = time.monotonic()
    try:
        if do_build:
            build(site, out, pdf=False, with_search=False, settings=run_settings())
        else:
            check(site, pdf=False, settings=run_settings())
    except GazetteError as exc:
        diags = exc.diagnostics
        if diags is not None:
            for d in diags.errors:
                assert d.path is not None, d.format()
                if Path(d.path) == fuzzed:
                    assert d.line is not None or d.field is None or "must be" in d.message, d.format()
        else:
            assert str(exc)  # a one-line message in gazette's words
    assert time.monotonic() - start < 10


def _outside(tmp: Path, out: Path) -> set[str]:
    return {p.relative_to(tmp).as_posix() for p in tmp.rglob("*")
            if not p.is_relative_to(out) and not p.name.startswith(".output")}


@contextlib.contextmanager
def _replaced(path: Path, make):
    """The file's text replaced by make(original) for the duration."""
    original = path.read_text(encoding="utf-8")
    path.write_text(make(original), encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(original, encoding="utf-8")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return _base(tmp_path_factory.mktemp("fuzz"))


@SETTINGS
@given(data=front_matter, body=st.text(max_size=200))
def test_fuzzed_front_matter_builds_or_is_diagnosed(base, data, body):
    fuzzed = base / "content" / "records" / "2024" / "fuzz.md"
    fuzzed.write_text("---\n" + _dump(data) + "---\n" + body, encoding="utf-8")
    _checked(base, fuzzed)


@SETTINGS
@given(text=yaml_noise)
def test_fuzzed_yaml_text_is_diagnosed(base, text):
    fuzzed = base / "content" / "records" / "2024" / "fuzz.md"
    fuzzed.write_text("---\nid: fuzz\n" + text + "\n---\n正文\n", encoding="utf-8")
    _checked(base, fuzzed)


@settings(SETTINGS, max_examples=60)
@given(data=st.dictionaries(st.sampled_from(["year", "number", "published", "sections", "title", "x"]), values, max_size=5),
       sections=st.lists(st.dictionaries(st.sampled_from(["title", "records"]), values, max_size=2), max_size=3))
def test_fuzzed_issues_are_diagnosed(base, data, sections):
    fuzzed = base / "content" / "issues" / "2024-05.yaml"
    data = dict(data)
    data.setdefault("sections", sections)
    fuzzed.write_text(_dump(data), encoding="utf-8")
    try:
        _checked(base, fuzzed)
    finally:
        fuzzed.unlink()


@settings(SETTINGS, max_examples=60)
@given(entries=st.dictionaries(st.text(max_size=10), values, max_size=4), which=st.sampled_from(["issuers", "topics", "tags", "services"]))
def test_fuzzed_taxonomies_are_diagnosed(base, entries, which):
    fuzzed = base / "content" / "_taxonomy" / f"{which}.yaml"
    with _replaced(fuzzed, lambda original: _dump(entries)):
        _checked(base, fuzzed)


@settings(SETTINGS, max_examples=60)
@given(config=st.dictionaries(st.sampled_from(["title", "base_url", "languages", "timezone", "publisher", "theme",
                                               "page_size", "pdf", "search", "subscriptions", "feed_size"]), values, max_size=6))
def test_fuzzed_configuration_is_diagnosed(base, config):
    fuzzed = base / "gazette.yaml"
    with _replaced(fuzzed, lambda original: _dump({**yaml.safe_load(original), **config})):
        _checked(base, fuzzed)


@settings(SETTINGS, max_examples=40)
@given(data=front_matter, body=st.text(max_size=200))
def test_fuzzed_builds_write_only_inside_the_output(tmp_path_factory, data, body):
    tmp = tmp_path_factory.mktemp("fuzzbuild")
    site = _base(tmp)
    out = tmp / "out"
    fuzzed = site / "content" / "records" / "2024" / "fuzz.md"
    fuzzed.write_text("---\n" + _dump(data) + "---\n" + body, encoding="utf-8")
    before = _outside(tmp, out)
    _checked(site, fuzzed, do_build=True, out=out)
    assert _outside(tmp, out) == before
