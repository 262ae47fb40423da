"""The command line, end to end, with Click's CliRunner and real builds."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, SITES
from gazette.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _all_commands(group=main, path=()):
    yield list(path)
    for name, command in sorted(getattr(group, "commands", {}).items()):
        yield from _all_commands(command, path + (name,))


ALL_COMMANDS = list(_all_commands())


def test_the_command_tree_is_complete():
    names = {" ".join(c) for c in ALL_COMMANDS}
    assert {"init", "build", "check", "serve", "issue release", "issue revise", "subscribers import",
            "mail send", "subscriptions serve"} <= names


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: " ".join(c) or "gazette")
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    doc = result.output.split("Options:")[0].split("\n", 2)[-1].strip()
    assert len(doc) > 20, f"'gazette {' '.join(command)} --help' explains nothing"


def test_init_creates_a_site_that_builds_and_passes_strict_check(tmp_path):
    site = tmp_path / "mysite"
    assert run("init", site).exit_code == 0
    assert (site / "gazette.yaml").is_file()
    assert (site / "content" / "records" / "2024" / "hfbz-2024-5.md").is_file()
    assert run("check", "--site", site, "--strict").exit_code == 0
    result = run("build", "--site", site)
    assert result.exit_code == 0, result.output
    assert (site / "output" / "records" / "hfbz-2024-5" / "index.html").is_file()
    again = run("init", site)
    assert again.exit_code == 1 and "not empty" in again.output


def test_bundled_gazette_passes_strict_check():
    result = run("check", "--site", ROOT, "--strict")
    assert result.exit_code == 0, result.output
    assert "0 warning(s)" in result.output


def test_strict_fails_on_warnings_only_when_asked(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    record = site / "content" / "records" / "2024" / "p-6.md"
    record.write_text(record.read_text(encoding="utf-8").replace("priority", "").replace("disclosure:", "tittle: x\ndisclosure:"), encoding="utf-8")
    plain = run("check", "--site", site)
    assert plain.exit_code == 0
    assert "unknown field 'tittle'; did you mean 'title'?" in plain.output
    strict = run("check", "--site", site, "--strict")
    assert strict.exit_code == 1
    assert "p-6.md:" in strict.output


def test_failed_build_leaves_previous_output_untouched(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    out = tmp_path / "out"
    assert run("build", "--site", site, "--out", out).exit_code == 0
    before = tree_digest(out)
    bad = site / "content" / "records" / "2024" / "p-6.md"
    bad.write_text(bad.read_text(encoding="utf-8").replace("published: 2024-11-06", "published: 2024-11-31"), encoding="utf-8")
    result = run("build", "--site", site, "--out", out)
    assert result.exit_code == 1
    assert "p-6.md:6: error: published: '2024-11-31' is not a real date" in result.output
    assert "Traceback" not in result.output
    assert tree_digest(out) == before


def test_build_refuses_to_replace_a_folder_it_did_not_write(tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.txt").write_text("irreplaceable")
    result = run("build", "--site", SITES / "valid" / "edge", "--out", out)
    assert result.exit_code == 1
    assert "was not written by gazette" in result.output
    assert (out / "thesis.txt").read_text() == "irreplaceable"


def test_same_input_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run("build", "--site", SITES / "valid" / "edge", "--out", a, "--jobs", "1").exit_code == 0
    assert run("build", "--site", SITES / "valid" / "edge", "--out", b, "--jobs", "2").exit_code == 0
    da, db = tree_digest(a), tree_digest(b)
    # Pagefind writes its filter and meta indexes in hash-map order (upstream issue
    # Pagefind/pagefind#638); its fragments, which hold the indexed text, are stable.
    unstable = lambda path: path.startswith("pagefind/") and "/fragment/" not in path
    assert {k: v for k, v in da.items() if not unstable(k)} == {k: v for k, v in db.items() if not unstable(k)}
    assert sum("/fragment/" in k for k in da) > 10
    assert sum(map(unstable, da)) == sum(map(unstable, db))


def test_build_date_comes_from_source_date_epoch(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1704067200")  # 2024-01-01: consult-open not yet open
    assert run("build", "--site", SITES / "valid" / "edge", "--out", out).exit_code == 0
    assert not (out / "records" / "consult-open").exists()  # published 2024-12-20: scheduled then
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    result = run("build", "--site", SITES / "valid" / "edge", "--out", out)
    assert result.exit_code == 1 and "SOURCE_DATE_EPOCH" in result.output


def test_build_py_builds_the_bundled_gazette(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(ROOT / "build.py"), "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (out / "records" / "hfbz-2024-5" / "index.html").is_file()
    assert (out / "en" / "records" / "hfbz-2024-5" / "index.html").is_file()


def test_missing_site_is_a_clear_error(tmp_path):
    result = run("build", "--site", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert "no gazette.yaml" in result.output and "Traceback" not in result.output


def test_site_theme_overrides_templates_and_static_files(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    theme = site / "themes" / "default"
    (theme / "templates").mkdir(parents=True)
    (theme / "static").mkdir()
    (theme / "templates" / "404.html").write_text('{% extends "base.html" %}{% block main %}<h1>OWN-404</h1>{% endblock %}', encoding="utf-8")
    (theme / "static" / "extra.css").write_text("/* own */", encoding="utf-8")
    out = tmp_path / "out"
    assert run("build", "--site", site, "--out", out).exit_code == 0
    assert "OWN-404" in (out / "404.html").read_text(encoding="utf-8")
    assert (out / "static" / "extra.css").is_file() and (out / "static" / "style.css").is_file()


def test_a_broken_site_template_is_reported_with_its_file_and_line(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    templates = site / "themes" / "default" / "templates"
    templates.mkdir(parents=True)
    (templates / "404.html").write_text('{% extends "base.html" %}\n{% block main %}\n{{ no_such_thing.attr }}\n{% endblock %}\n', encoding="utf-8")
    result = run("check", "--site", site)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(r"themes/default/templates/404\.html:3: template error while rendering 404\.html: 'no_such_thing' is undefined", result.output)
    (templates / "404.html").write_text('{% extends "base.html" %}\n{% block main %}\n{% if %}\n{% endblock %}\n', encoding="utf-8")
    result = run("check", "--site", site)
    assert result.exit_code == 1 and re.search(r"404\.html:3: template error: ", result.output)
