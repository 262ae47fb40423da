"""Invalid sample sites: each expects exactly the diagnostics in its expected.txt."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from conftest import SITES
from gazette.cli import main

INVALID = sorted(p for p in (SITES / "invalid").iterdir() if p.is_dir())


@pytest.mark.parametrize("site", INVALID, ids=lambda p: p.name)
def test_invalid_site_reports_every_expected_problem_and_nothing_else(site, tmp_path):
    expected = [l for l in (site / "expected.txt").read_text(encoding="utf-8").splitlines() if l.strip()]
    result = CliRunner().invoke(main, ["check", "--site", str(site)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    got = [re.sub(r"^\d+\. ", "", l) for l in result.output.splitlines()[1:]]
    assert got == expected

    # build refuses too, and writes nothing
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", "--site", str(site), "--out", str(out)])
    assert result.exit_code == 1
    assert not out.exists()


def test_personal_data_messages_never_show_the_whole_number():
    """Build logs are kept and shared: a found number is masked in the middle."""
    result = CliRunner().invoke(main, ["check", "--site", str(SITES / "invalid" / "records")])
    assert "1101**********002X" in result.output and "139****5678" in result.output
    for whole in ("11010519491231002X", "13912345678", "１３９１２３４５６７８"):
        assert whole not in result.output
