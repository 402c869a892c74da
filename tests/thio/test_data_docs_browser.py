"""The Data Docs of the demo's last round open in a browser (headless Chromium), offline.

Offline for real: every request the browser makes for something not on disk goes to a proxy
of the test's on 127.0.0.1 (loopback included: ``<-loopback>``), which records it and refuses
it; a name the browser would resolve itself resolves to nothing. The pages must draw their
tables all the same, and the proxy must have seen the page's remote scripts asked for: the
browser's one way out was the test's.

Slow: runs the demo and a browser (``make test-all`` installs Chromium when it is missing).
"""

from __future__ import annotations

import os
import re
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from thio.cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

SUITES = (
    "ahp_matrices",
    "finite",
    "firm_component",
    "firm_tcc",
    "program_firms",
    "round",
    "tcc_by_group",
)
# The remote script the Data Docs load first, with a fallback of thio's on disk.
JQUERY_SCRIPT = re.compile(r'<script src="https://(code\.jquery\.com)/jquery-[^"]*"')
REFUSED = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _Refuser(socketserver.StreamRequestHandler):
    """Records a proxied request's first line (``CONNECT host:443 ...`` or ``GET http://...``)
    and refuses it: nothing is forwarded."""

    def handle(self) -> None:
        line = self.rfile.readline(65536).decode("latin-1").strip()
        if line:
            self.server.requests.append(line)
        self.wfile.write(REFUSED)


@pytest.fixture
def offline_proxy() -> Iterator[tuple[int, list[str]]]:
    """The port of a refusing proxy on 127.0.0.1, and the request lines it received."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Refuser)
    server.daemon_threads = True
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _chromium() -> str:
    for name in (os.environ.get("THIO_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise RuntimeError("no Chromium found: `make test-all` installs it (apt-get install chromium)")


def _browse(page: Path, proxy_port: int, *args: str) -> str:
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",  # tests may run as root in a container
        "--disable-gpu",
        "--window-size=1280,1000",
        # the one way out is the refusing proxy, for loopback too (Chromium bypasses a proxy
        # for loopback unless told not to) ...
        f"--proxy-server=http://127.0.0.1:{proxy_port}",
        "--proxy-bypass-list=<-loopback>",
        # ... and nothing resolves a name by itself (WebRTC, prefetch): only the proxy's
        # address is reachable
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--disable-background-networking",
        "--no-first-run",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_the_demo_data_docs_open_in_a_browser(tmp_path, offline_proxy):
    port, requests = offline_proxy
    home = tmp_path / "home"
    result = CliRunner().invoke(
        cli, ["demo", "--home", str(home), "--firms", "20"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    index = home / "reports" / "2024Q3" / "v1" / "validation" / "data_docs" / "index.html"
    assert f"audit report (Data Docs): {index}" in result.output.splitlines()

    screenshot = tmp_path / "data_docs.png"
    _browse(index, port, f"--screenshot={screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000

    dom = _browse(index, port, "--dump-dom")
    assert "<title>Data Docs created by Great Expectations</title>" in dom
    # the tables are drawn in the browser (no network: thio's fallback for the CDN's
    # scripts): a link per suite, a passed validation per suite of the round's run
    for suite in SUITES:
        assert f'<a href="expectations/{suite}.html">{suite}</a>' in dom, suite
    assert dom.count(">passed</a>") == len(SUITES)
    # a suite's validation page names its expectations
    (page,) = (index.parent / "validations" / "firm_tcc").rglob("*.html")
    assert "firm_tcc" in _browse(page, port, "--dump-dom")

    # the page's remote script was asked of the refusing proxy (the browser went nowhere
    # else: without the proxy this list is empty), and refused: nothing left the machine
    (jquery_host,) = set(JQUERY_SCRIPT.findall(index.read_text(encoding="utf-8")))
    assert f"CONNECT {jquery_host}:443 HTTP/1.1" in requests, requests
