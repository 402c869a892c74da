"""The Data Docs of the demo's last round open in a browser (headless Chromium), offline.

Slow: runs the demo and a browser (``make test-all`` installs Chromium when it is missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from thio.cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

SUITES = ("ahp_matrices", "firm_component", "firm_tcc", "program_firms", "round", "tcc_by_group")


def _chromium() -> str:
    for name in (os.environ.get("THIO_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise RuntimeError("no Chromium found: `make test-all` installs it (apt-get install chromium)")


def _browse(page: Path, *args: str) -> str:
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",  # tests may run as root in a container
        "--disable-gpu",
        "--window-size=1280,1000",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_the_demo_data_docs_open_in_a_browser(tmp_path):
    home = tmp_path / "home"
    result = CliRunner().invoke(
        cli, ["demo", "--home", str(home), "--firms", "20"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    index = home / "reports" / "2024Q3" / "v1" / "validation" / "data_docs" / "index.html"
    assert f"audit report (Data Docs): {index}" in result.output.splitlines()

    screenshot = tmp_path / "data_docs.png"
    _browse(index, f"--screenshot={screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000

    dom = _browse(index, "--dump-dom")
    assert "<title>Data Docs created by Great Expectations</title>" in dom
    # the tables are drawn in the browser (no network: thio's fallback for the CDN's
    # scripts): a link per suite, a passed validation per suite of the round's run
    for suite in SUITES:
        assert f'<a href="expectations/{suite}.html">{suite}</a>' in dom, suite
    assert dom.count(">passed</a>") == len(SUITES)
    # a suite's validation page names its expectations
    (page,) = (index.parent / "validations" / "firm_tcc").rglob("*.html")
    assert "firm_tcc" in _browse(page, "--dump-dom")
