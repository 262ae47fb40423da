"""Getting started as an editor: init --empty, new record, new issue, --version, progress."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

import yaml
from click.testing import CliRunner

from gazette import __version__
from gazette.cli import main

REQUIRED = {
    "policy": {"issuer", "status"},
    "interpretation": {"interprets"},
    "faq": {"policy", "entries"},
    "appointment": {"issuer", "entries"},
    "commendation": {"issuer", "honorees"},
    "consultation": {"opens", "closes"},
}


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def front_matter(path):
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n")[1])


def test_empty_site_new_records_and_issue(tmp_path):
    site = tmp_path / "s"
    result = run("init", "--empty", site)
    assert result.exit_code == 0, result.output
    assert not list((site / "content" / "records").iterdir())
    assert run("check", "--site", site, "--strict").exit_code == 0

    made = {}
    for rtype in ["policy", "appointment", "commendation", "consultation"]:
        result = run("new", "record", "--type", rtype, "--site", site)
        assert result.exit_code == 0, result.output
        made[rtype] = site / result.output.strip().removeprefix(str(site) + "/")
    policy_id = front_matter(made["policy"])["id"]
    for rtype in ["interpretation", "faq"]:
        result = run("new", "record", "--type", rtype, "--for", policy_id, "--site", site)
        assert result.exit_code == 0, result.output
        made[rtype] = site / result.output.strip().removeprefix(str(site) + "/")
    for rtype, path in made.items():
        meta = front_matter(path)
        assert meta["type"] == rtype and str(meta["published"]) == "2025-01-01"
        assert path.name == f"{meta['id']}.md" and path.parent.name == "2025"
        assert REQUIRED[rtype] <= set(meta) and "review" not in meta and meta["disclosure"] == "proactive"
    check = run("check", "--site", site, "--strict")
    assert check.exit_code == 0, check.output
    assert "6 records (0 public, 6 held back)" in check.output and check.output.count("not reviewed (no review)") == 6

    # a second policy the same day gets the next free id
    again = run("new", "record", "--type", "policy", "--site", site)
    assert again.output.strip().endswith(f"{policy_id}-2.md")

    # reviewed: public, and a new issue lists it by type
    text = made["policy"].read_text(encoding="utf-8").replace("# review:", "review:")
    made["policy"].write_text(text, encoding="utf-8")
    result = run("new", "issue", "2025-01", "--site", site)
    assert result.exit_code == 0, result.output
    issue = yaml.safe_load((site / "content" / "issues" / "2025-01.yaml").read_text(encoding="utf-8"))
    assert issue["year"] == 2025 and issue["number"] == 1 and str(issue["published"]) == "2025-01-01"
    assert issue["sections"] == [{"title": {"zh": "政策文件", "en": "Policy documents"}, "records": [policy_id]}]
    check = run("check", "--site", site)
    assert check.exit_code == 0 and "1 issue," in check.output, check.output
    build = run("build", "--site", site, "--no-pdf", "--no-search")
    assert build.exit_code == 0, build.output
    assert (site / "output" / "issues" / "2025-01" / "index.html").is_file()
    # everything public is in an issue now
    assert "nothing for a new issue" in run("new", "issue", "2025-02", "--site", site).output


def test_new_commands_refuse_bad_requests(tmp_path):
    site = tmp_path / "s"
    run("init", "--empty", site)
    cases = [
        (["new", "record", "--type", "faq"], "needs --for"),
        (["new", "record", "--type", "faq", "--for", "nope"], "no policy record has that id"),
        (["new", "record", "--type", "policy", "--id", "Bad Id"], "not a valid record id"),
        (["new", "record", "--type", "policy", "--for", "x"], "only for interpretations"),
        (["new", "issue", "2025-1"], "not an issue key"),
        (["new", "issue", "2025-00"], "not an issue key"),
    ]
    for args, message in cases:
        result = run(*args, "--site", site)
        assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output, (args, result.output)
    assert run("new", "record", "--type", "policy", "--id", "p1", "--site", site).exit_code == 0
    dup = run("new", "record", "--type", "policy", "--id", "p1", "--site", site)
    assert dup.exit_code == 1 and "exists already" in dup.output
    assert run("init", "--empty", site).exit_code == 1


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"gazette, version {__version__}"


def _run_on_terminal(args, cwd):
    """Run gazette with standard error on a pseudo-terminal; -> (stdout, terminal output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gazette.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    proc.wait(timeout=120)
    os.close(master)
    return proc.returncode, out, b"".join(chunks).decode("utf-8", "replace")


def test_progress_bars_on_a_terminal_only(tmp_path):
    site = tmp_path / "s"
    assert run("init", site).exit_code == 0
    code, out, terminal = _run_on_terminal(["build", "--site", str(site), "--no-pdf"], tmp_path)
    assert code == 0, terminal
    assert "loading records" in terminal and "13/13" in terminal  # 8 originals + 5 editions, with a count
    assert "indexing search" in terminal and "1/1" in terminal  # one yearly bundle
    assert out.startswith("built 8 public records")
    # not a terminal (a pipe, a CI log): only the summary
    proc = subprocess.run([sys.executable, "-m", "gazette.cli", "build", "--site", str(site), "--no-pdf", "--clean"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()  # the summary, then one line per record held back
    assert lines[0].startswith("built 8 public records (2 held back") and all(l.startswith("  held back: ") for l in lines[1:])
    # nothing changed since: said so, with the same records held back
    again = subprocess.run([sys.executable, "-m", "gazette.cli", "build", "--site", str(site), "--no-pdf"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == ""
    assert again.stdout.startswith("up to date: nothing changed since the last build of 8 public records (2 held back")
    assert again.stdout.splitlines()[1:] == lines[1:]
