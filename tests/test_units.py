"""Small pieces with sharp edges: YAML 1.2, PII detection, Markdown."""
from __future__ import annotations

from pathlib import Path

import pytest

from gazette import markdown, review, yamlload


def test_yaml_12_scalars_keep_yes_no_on_as_strings():
    data = yamlload.load("a: yes\nb: no\nc: on\nd: true\ne: 2024-01-02\nf: 010\ng: ~\n").data
    assert data == {"a": "yes", "b": "no", "c": "on", "d": True, "e": "2024-01-02", "f": 10, "g": None}


def test_yaml_duplicate_keys_are_errors_with_lines():
    with pytest.raises(yamlload.YamlError) as exc:
        yamlload.load("a: 1\nb:\n  x: 1\n  x: 2\n", line_offset=1)
    assert exc.value.line == 5 and exc.value.field == "b.x" and "duplicate key 'x'" in exc.value.message


def test_yaml_lines_of_nested_fields():
    doc = yamlload.load("a:\n  - {q: 1}\n  - q: 2\n")
    assert doc.line_of(("a", 1, "q")) == 3 and doc.line_of(("a", 0, "q")) == 2


def _valid_id(base17: str) -> str:
    total = sum(int(d) * w for d, w in zip(base17, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)))
    return base17 + "10X98765432"[total % 11]


def test_pii_finds_resident_ids_with_valid_checksum_only():
    good = _valid_id("31010419800101123")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    hits = review.find_pii(f"第一行\n身份证 {good}\n另一个 {bad}\n")
    assert hits == [(2, good, "resident identity number")]


def test_pii_finds_mobile_numbers_in_full_width_and_with_separators():
    text = "电话：１３８００１３８０００\n手机 139-1234-5678；座机 021-12345678；编号 2013912345678901\n"
    found = [(line, s) for line, s, kind in review.find_pii(text) if kind == "mobile phone number"]
    assert found == [(1, "１３８００１３８０００"), (2, "139-1234-5678")]


def test_pii_allow_matches_the_exact_string_or_its_digits():
    assert review.allowed("138 0013 8000", ["138 0013 8000"])
    assert review.allowed("１３８００１３８０００", ["13800138000"])
    assert not review.allowed("13800138001", ["13800138000"])


def test_markdown_cjk_soft_breaks_and_latin_soft_breaks():
    html = markdown.render("中文第一行\n中文第二行\n\nEnglish line\nnext line")
    assert "中文第一行中文第二行" in html
    assert "English line\nnext line" in html


@pytest.mark.parametrize("evil", [
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    '<img src="x" onerror="alert(1)">',
    '<iframe src="https://evil.example"></iframe>',
    '[x](javascript:alert(1))',
    '<svg onload="alert(1)"></svg>',
    '<object data="x"></object>',
    '<p style="background:url(https://evil.example/x)">x</p>',
])
def test_sanitiser_removes_active_content(evil):
    html = markdown.render(evil).lower()
    for bad in ("<script", 'href="javascript', "onerror", "onload", "<iframe", "<svg", "<object", "evil.example"):
        assert bad not in html, (evil, html)


def test_library_code_reads_no_environment():
    """The environment is read once, at the command line (gazette/cli.py), and
    handed to the library (RunSettings, the secret, the SMTP password)."""
    import ast

    import gazette

    package = Path(gazette.__file__).parent
    readers = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                readers.append(f"{path.relative_to(package)}:{node.lineno}")
    assert not readers, readers


def test_validated_models_are_frozen_and_their_text_is_normalised_as_validated():
    import pydantic

    from gazette.schema import SiteConfig, Topic

    config = SiteConfig.model_validate({"title": "公报", "base_url": "https://example.gov.cn/", "languages": ["zh", "en"]},
                                       context={"languages": ["zh", "en"]})
    assert config.title == {"zh": "公报"}  # a plain string is the first language's, at once
    with pytest.raises(pydantic.ValidationError):
        config.title = {"zh": "改"}  # what a file said is never changed afterwards
    with pytest.raises(pydantic.ValidationError, match="language 'fr' is not configured"):
        Topic.model_validate({"name": {"zh": "主题", "fr": "sujet"}}, context={"languages": ["zh", "en"]})


def test_no_function_in_the_package_is_over_60_lines():
    """A function longer than a screen does more than one job (issue 12)."""
    import ast

    import gazette

    package = Path(gazette.__file__).parent
    long = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.relative_to(package)}:{node.lineno} {node.name}")
    assert not long, long


def test_pager_window_is_first_last_and_neighbours():
    from gazette.render.html import pager_window

    assert pager_window(1, 1) == [1]
    assert pager_window(3, 5) == [1, 2, 3, 4, 5]
    assert pager_window(1, 10) == [1, 2, 3, None, 10]
    assert pager_window(4, 10) == [1, 2, 3, 4, 5, 6, None, 10]  # a gap of one page shows it
    assert pager_window(75, 148) == [1, None, 73, 74, 75, 76, 77, None, 148]
    for total in range(1, 40):
        for n in range(1, total + 1):
            shown = [i for i in pager_window(n, total) if i is not None]
            assert shown == sorted(set(shown)) and {1, n, total} <= set(shown) and len(shown) <= 9


def test_pager_pages_is_the_list_of_every_page_a_site_theme_may_show():
    """`pager.pages` is made when asked (a list on every page was quadratic);
    to a site's template, sandboxed, it is the list it was."""
    from jinja2.sandbox import SandboxedEnvironment

    from gazette.keys import digest_of
    from gazette.render.html import PagerPages

    pages = PagerPages("en/types/policy/", 4)
    listed = [(1, "en/types/policy/"), (2, "en/types/policy/page/2/"), (3, "en/types/policy/page/3/"),
              (4, "en/types/policy/page/4/")]
    assert list(pages) == listed and len(pages) == 4 and pages[-1] == listed[-1] and pages[1:3] == listed[1:3]
    assert list(reversed(pages)) == listed[::-1] and (2, "en/types/policy/page/2/") in pages
    with pytest.raises(IndexError):
        pages[4]
    template = SandboxedEnvironment().from_string(
        "{% for n, p in pages %}{{ n }}={{ p }};{% endfor %}|{{ pages|length }}|{{ (pages|last)[0] }}|{{ pages[0][1] }}")
    assert template.render(pages=pages) == template.render(pages=listed)
    # a page's key covers it: another listing or another length is another key
    assert digest_of(pages) == digest_of(PagerPages("en/types/policy/", 4)) != digest_of(PagerPages("en/types/policy/", 5))
    assert digest_of(pages) is not None


def test_files_under_lists_files_and_links_but_enters_no_linked_folder(tmp_path):
    """The walk behind the manifest and the output's listing: every file, a link
    to a file or a broken link as itself, a link to a folder neither entered
    nor listed (as os.walk has it)."""
    import os

    from gazette.safefs import files_under, stats_under

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.html").write_text("1")
    (tmp_path / "top.txt").write_text("22")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "secret").write_text("x")
    os.symlink(outside, tmp_path / "a" / "linked-folder")
    os.symlink(tmp_path / "top.txt", tmp_path / "a" / "linked-file")
    os.symlink(tmp_path / "missing", tmp_path / "broken")
    listed = dict(files_under(tmp_path))
    assert sorted(listed) == ["a/b/deep.html", "a/linked-file", "broken", "top.txt"]
    assert listed["a/b/deep.html"] == os.path.join(tmp_path, "a", "b", "deep.html")
    sizes = {rel: st.st_size for rel, _, st in stats_under(tmp_path)}
    assert sizes["top.txt"] == 2 and sizes["a/linked-file"] == len(os.fsencode(tmp_path / "top.txt"))  # the link's own


def test_markdown_frees_what_cmark_allocates():
    """cmarkgfm's own wrapper leaks each document's tree and HTML (about 55 KB
    a record); gazette calls cmark-gfm so that both are freed."""
    import cmarkgfm

    assert markdown._CMARK.lib is not None
    body = "\n\n".join(f"## 第{i}条\n\n| 项目 | 金额 |\n|:--|--:|\n| 补贴 | {i} |\n\n" + "政府信息公开。" * 80 for i in range(12))
    assert markdown._CMARK.html(body, 0) == cmarkgfm.markdown_to_html_with_extensions(body, extensions=["table"])

    def resident() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * 4096

    markdown._CMARK.html(body, 0)
    before = resident()
    for _ in range(2000):  # leaking as cmarkgfm's wrapper does: over 150 MB
        markdown._CMARK.html(body, 0)
    assert resident() - before < 30 * 2**20


def test_a_build_scope_freezes_what_it_settles_and_unfreezes_it_at_its_end():
    """heap.long_lived: what a build keeps stays out of the collector's passes
    while it runs, and nothing stays frozen after (a `serve` that builds
    again and again must be able to collect the last build's site)."""
    import gc

    from gazette import heap

    assert gc.get_freeze_count() == 0
    with heap.long_lived() as settle:
        kept = [[i] for i in range(1000)]
        assert gc.get_freeze_count() == 0  # nothing is frozen before settle()
        settle()
        assert gc.get_freeze_count() >= len(kept)
        with heap.long_lived() as inner:  # an inner scope leaves the outer one's objects alone
            inner()
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_freeze_count() == 0
    gc.freeze()  # frozen by whoever runs gazette: a scope neither adds to it nor undoes it
    try:
        before = gc.get_freeze_count()
        with heap.long_lived() as settle:
            more = [[i] for i in range(1000)]
            settle()
            assert gc.get_freeze_count() <= before  # (frozen objects that are freed leave the count)
        assert gc.get_freeze_count() <= before and more
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_builtin_themes_context_calls_helpers_as_jinja_does(tmp_path):
    """The built-in theme's faster `call` (theme._TrustedContext): plain
    functions, methods and partials with positional and keyword arguments,
    in loops and blocks; a helper that asks for the context, the eval context
    or the environment still gets it; a StopIteration is an undefined value."""
    import functools

    import jinja2

    from gazette import resources
    from gazette.render import theme

    env = theme.environment(tmp_path, "default", resources.builtin_theme())
    assert env.context_class is theme._TrustedContext

    class Box:
        def get(self, key, suffix=""):
            return f"<{key}>{suffix}"

    helpers = {
        "f": lambda a, b=0: a + b, "box": Box(), "p": functools.partial(lambda lang, k: f"{lang}:{k}", "en"),
        "ctx": jinja2.pass_context(lambda c, name: c[name]), "ev": jinja2.pass_eval_context(lambda e: e.autoescape),
        "envd": jinja2.pass_environment(lambda e: isinstance(e, jinja2.Environment)), "stop": lambda: next(iter(())),
    }
    source = ("{% for x in [1, 2] %}{% set y = x * 10 %}{{ f(x, b=y) }},{{ ctx('y') }};{% endfor %}"
              "{{ box.get('k', suffix='!') }}|{{ p('t') }}|{{ ev() }}|{{ envd() }}"
              "{% macro m(v) %}[{{ v }}]{% endmacro %}{{ m(f(2)) }}")
    assert env.from_string(source).render(**helpers) == "11,10;22,20;&lt;k&gt;!|en:t|True|True[2]"
    with pytest.raises(jinja2.UndefinedError, match="StopIteration"):
        env.from_string("{{ stop() }}").render(**helpers)
    # a site's own templates run sandboxed, with Jinja's own call
    (tmp_path / "themes" / "default" / "templates").mkdir(parents=True)
    own = theme.environment(tmp_path, "default", resources.builtin_theme())
    assert own.context_class is not theme._TrustedContext
    assert own.from_string(source).render(**helpers) == "11,10;22,20;&lt;k&gt;!|en:t|True|True[2]"


def test_builds_leave_nothing_frozen(built_sites, tmp_path):
    """Every build, the failed ones too, ends its heap.long_lived scope."""
    import gc

    from gazette.errors import GazetteError
    from gazette.pipeline import build, check

    from conftest import SITES, settings

    assert built_sites and gc.get_freeze_count() == 0
    bad = SITES / "invalid" / "records"  # loads, then fails the checks
    for run in (lambda: build(bad, tmp_path / "out", pdf=False, settings=settings()),
                lambda: check(bad, pdf=False, settings=settings())):
        with pytest.raises(GazetteError):
            run()
        assert gc.get_freeze_count() == 0


def test_file_hashes_read_a_file_again_whenever_it_may_have_changed(tmp_path):
    """The digest index (buildcache.FileHashes): a file whose status is
    unchanged is not read; an edit that keeps size and modification time is
    still seen (its change time moves); a file changed just before the index
    was saved is read again; a damaged index is no index."""
    import hashlib
    import os

    from gazette.buildcache import FileHashes

    path = tmp_path / "a.md"
    path.write_bytes(b"first version")
    cache = tmp_path / "cache"
    first = FileHashes(cache)
    assert first.sha256(str(path)) == hashlib.sha256(b"first version").hexdigest() and first.read == 1
    first.save()
    # just written: within the margin, so it is read again
    racy = FileHashes(cache)
    assert racy.sha256(str(path)) == hashlib.sha256(b"first version").hexdigest() and racy.read == 1
    settled = FileHashes(cache, margin_ns=0)
    assert settled.sha256(str(path)) == hashlib.sha256(b"first version").hexdigest() and settled.read == 0
    settled.save()  # nothing read: nothing written
    st = path.stat()
    path.write_bytes(b"other version")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old modification time
    edited = FileHashes(cache, margin_ns=0)
    assert edited.sha256(str(path)) == hashlib.sha256(b"other version").hexdigest() and edited.read == 1
    assert FileHashes(cache, trust=False, margin_ns=0).sha256(str(path)) == hashlib.sha256(b"other version").hexdigest()
    index = cache / "inputs.index"
    index.write_bytes(index.read_bytes()[:-3] + b"xyz")
    damaged = FileHashes(cache, margin_ns=0)
    assert damaged.known == {} and damaged.sha256(str(path)) == hashlib.sha256(b"other version").hexdigest()
    with pytest.raises(OSError):
        damaged.sha256(str(tmp_path / "missing.md"))
