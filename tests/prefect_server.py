"""A real `prefect server start` for the server tests: on a free loopback port, with its own
PREFECT_HOME (database, profiles), stopped with everything it started.

Shared by the tests marked ``server`` (tests/test_notifications.py,
tests/test_prefect_server.py), with a webhook receiver on a loopback port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")
THIO = str(BIN / "thio")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_env(prefect_home: Path, **settings: str) -> dict[str, str]:
    """This environment with a Prefect of its own: no setting or profile of the developer's
    (PREFECT_* variables, ~/.prefect) leaks into a test."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false", **settings)
    return env


@contextlib.contextmanager
def process(args: list[str], env: dict, log: Path) -> Iterator[subprocess.Popen]:
    """Run ``args`` in the background, output in ``log``; stop it (and its children) after."""
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its children
        )  # fmt: skip
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def prefect(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """A `prefect` CLI command that must succeed."""
    result = subprocess.run(
        [PREFECT, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@dataclass(frozen=True)
class PrefectServer:
    api: str  # http://127.0.0.1:<port>/api
    env: dict[str, str]  # for clients of this server: PREFECT_API_URL and PREFECT_HOME set
    log: Path


@contextlib.contextmanager
def prefect_server(
    workdir: Path, startup_timeout: float = 120, **settings: str
) -> Iterator[PrefectServer]:
    """`prefect server start` with its services (scheduler, events, automations) in its
    process; ``settings`` are PREFECT_* environment variables for the server and its
    clients. Yields once /health answers."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = isolated_env(workdir / "prefect-home", PREFECT_API_URL=api, **settings)
    log = workdir / "server.log"
    args = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with process(args, env, log):
        deadline = time.monotonic() + startup_timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.5)
        yield PrefectServer(api=api, env=env, log=log)


class Receiver:
    """Webhook receiver on a loopback port: keeps every POST (path, headers, body)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self._lock = threading.Lock()
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with received._lock:
                    received.posts.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.posts)


@contextlib.contextmanager
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()
        thread.join(timeout=10)
