"""The command line, end to end, with Click's CliRunner and real builds."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import INSTALLED, ROOT, SITES
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


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else b"/")
            for p in sorted(folder.rglob("*"))}


def test_read_only_commands_write_nothing(tmp_path):
    """check, subscribers list/export and --help leave no file, cache or database behind."""
    site = tmp_path / "ro"
    assert run("init", site).exit_code == 0
    before = _tree(site)
    runner = CliRunner(env={"GAZETTE_CACHE_DIR": None})  # the site's own cache folder, as for a user
    calls = [["check", "--site", site], ["subscribers", "list", "--site", site],
             ["subscribers", "export", "--site", site]] + [[*c, "--help"] for c in ALL_COMMANDS]
    for args in calls:
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == 0, (args, result.output)
    assert _tree(site) == before
    # with a database in place, reading it leaves it as it was (no -wal/-shm files)
    assert run("subscribers", "add", "reader@example.org", "--site", site).exit_code == 0
    before = _tree(site)
    listed = runner.invoke(main, ["subscribers", "list", "--site", str(site)])
    assert "reader@example.org" in listed.output
    assert _tree(site) == before


def test_bundled_gazette_passes_strict_check():
    result = run("check", "--site", ROOT, "--strict")
    assert result.exit_code == 0, result.output
    assert "0 warnings" in result.output


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


def test_a_site_macros_html_renders_every_list_entry_itself(tmp_path):
    """The built-in theme renders a record's list entry once per language and
    link; a site's own macros.html (here: a copy whose entries name the page
    they are on) is rendered for every entry, so nothing is taken from another page."""
    from gazette import resources

    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    templates = site / "themes" / "default" / "templates"
    templates.mkdir(parents=True)
    own = (resources.builtin_theme() / "templates" / "macros.html").read_text(encoding="utf-8")
    assert '<li class="record-item"' in own
    (templates / "macros.html").write_text(own.replace('<li class="record-item"', '<li class="record-item" data-on="{{ page.path }}"'),
                                           encoding="utf-8")
    out = tmp_path / "out"
    assert run("build", "--site", site, "--out", out, "--no-pdf", "--no-search").exit_code == 0
    seen = 0
    for listing in ("types/faq/", "types/policy/", "years/2024/", "en/types/faq/", "en/years/2024/"):
        html = (out / listing / "index.html").read_text(encoding="utf-8")
        on = re.findall(r'<li class="record-item" data-on="([^"]*)"', html)
        assert on and set(on) == {listing}, (listing, set(on))
        seen += len(on)
    assert seen >= 10


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


def test_package_holds_everything_it_needs():
    """Every module and run-time file of the repository is in the package under test.

    Against the installed wheel (.ci/wheel-test) this fails when pyproject.toml
    leaves a module, template, static file or sample record out of the wheel."""
    import gazette
    from gazette import resources

    package = Path(gazette.__file__).resolve().parent
    theme, sample = resources.builtin_theme(), resources.sample_site()
    if INSTALLED:
        assert package.is_relative_to(Path(INSTALLED).resolve()) and not package.is_relative_to(ROOT)
        assert theme.is_relative_to(package) and sample.is_relative_to(package)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    expected = {}
    for rel in tracked:
        if rel.startswith("gazette/"):
            expected[rel] = package / rel[len("gazette/"):]
        elif rel.startswith("themes/default/"):
            expected[rel] = theme / rel[len("themes/default/"):]
        elif rel.startswith("content/") or rel == "gazette.yaml":
            expected[rel] = sample / rel
    assert len(expected) > 40 and "gazette/cli.py" in expected and "content/records/2024/hfbz-2024-5.md" in expected
    missing = [rel for rel, path in expected.items() if not path.is_file()]
    assert not missing, f"missing from the package: {missing}"
    changed = [rel for rel, path in expected.items() if path.read_bytes() != (ROOT / rel).read_bytes()]
    assert not changed, f"differ from the repository: {changed}"


def test_the_readme_command_table_is_one_table_with_every_command():
    """One table (a blank line would split it in two) naming every command."""
    import click

    from conftest import ROOT
    from gazette.cli import main

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"(?m)^\|.*\|$", section)
    block = "\n".join(rows)
    assert block in section, "the command table is interrupted"
    commands = []

    def walk(group, prefix):
        for name, cmd in sorted(group.commands.items()):
            if isinstance(cmd, click.Group):
                walk(cmd, prefix + [name])
            else:
                commands.append(" ".join(prefix + [name]))

    walk(main, ["gazette"])
    for command in commands:
        leaf = command.rsplit(" ", 1)[-1]
        assert command in block or (f"/ `{leaf}" in block and command.rsplit(" ", 1)[0] in block), command


def test_check_and_build_list_every_record_held_back_and_why(tmp_path):
    """Nothing disappears silently: one line per record that is not public."""
    from conftest import SITES

    expected = {
        "p-unreviewed": "not reviewed (no review)",
        "p-request": "on request only (依申请公开)",
        "p-secret": "not public (不予公开)",
        "p-scheduled": "scheduled for 2099-12-31",
        "p-targeted": "targeted: emailed to its audience only",
    }
    for command in (["check"], ["build", "--no-pdf", "--no-search", "--out", str(tmp_path / "out")]):
        result = CliRunner().invoke(main, [*command, "--site", str(SITES / "valid" / "edge")])
        assert result.exit_code == 0, result.output
        held = dict(re.findall(r"(?m)^  held back: ([a-z0-9-]+) \([^)]*\): (.*)$", result.output))
        for rid, reason in expected.items():
            assert held.get(rid, "").startswith(reason), (rid, held.get(rid))
        assert f"{len(held)} held back" in result.output  # and the total in the summary


def test_check_runs_the_build_a_broken_pdf_template_fails_check_as_it_fails_build(tmp_path):
    """check = build without writing: a site theme's PDF template with an
    undefined variable fails check (it used to pass check and fail build)."""
    from conftest import ROOT

    site = tmp_path / "site"
    assert CliRunner().invoke(main, ["init", str(site)]).exit_code == 0
    assert CliRunner().invoke(main, ["check", "--site", str(site), "--pdf"]).exit_code == 0
    theme = site / "themes" / "default" / "templates" / "pdf"
    theme.mkdir(parents=True)
    record = (ROOT / "themes" / "default" / "templates" / "pdf" / "record.html").read_text(encoding="utf-8")
    (theme / "record.html").write_text(record.replace("</body>", "{{ no_such_variable.title }}</body>"), encoding="utf-8")
    before = sorted(p.relative_to(site).as_posix() for p in site.rglob("*"))
    checked = CliRunner().invoke(main, ["check", "--site", str(site), "--pdf"])
    assert checked.exit_code == 1 and "pdf/record.html" in checked.output and "no_such_variable" in checked.output, checked.output
    assert "Traceback" not in checked.output
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*")) == before  # and it wrote nothing
    built = CliRunner().invoke(main, ["build", "--site", str(site), "--out", str(tmp_path / "out")])
    assert built.exit_code == 1 and "no_such_variable" in built.output


def test_the_readme_configuration_table_is_the_schemas():
    """Each option is documented on its schema field; the README's table is
    generated from those descriptions and must stay the same."""
    from conftest import ROOT
    from gazette.config import reference, reference_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert reference_table() in readme
    assert all(meaning for _, _, meaning in reference())  # no option without a description


def test_the_command_as_a_process_keeps_its_exit_code_and_all_its_output(tmp_path):
    """The `gazette` process ends without tearing the interpreter down (cli.run):
    its exit code and everything it printed must still arrive, through pipes."""
    site = tmp_path / "site"
    shutil.copytree(SITES / "valid" / "edge", site)
    command = [sys.executable, "-m", "gazette.cli"]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1735689600", "GAZETTE_CACHE_DIR": str(tmp_path / "cache")}
    built = subprocess.run([*command, "build", "--site", str(site), "--out", str(tmp_path / "out"), "--no-pdf", "--no-search"],
                           capture_output=True, text=True, env=env)
    assert built.returncode == 0, built.stderr
    assert re.match(r"built \d+ public records", built.stdout) and (tmp_path / "out" / "manifest.json").is_file()
    assert built.stdout.rstrip().endswith("not reviewed (no review)")  # the last line too
    bad = subprocess.run([*command, "check", "--site", str(SITES / "invalid" / "records")], capture_output=True, text=True, env=env)
    expected = (SITES / "invalid" / "records" / "expected.txt").read_text(encoding="utf-8").split("\n")
    assert bad.returncode == 1
    assert [line for line in expected if line.strip() and line not in bad.stderr + bad.stdout] == []
    assert subprocess.run([*command, "--version"], capture_output=True, text=True).stdout.startswith("gazette, version")
    assert subprocess.run([*command, "no-such-command"], capture_output=True, text=True).returncode == 2
