"""A real Prefect server: `prefect deploy` from prefect.yaml, a process worker, the inbox
deployment triggered with two exports dropped in the inbox (the operations guide's steps).

Starts `prefect server start` on a free loopback port with its own PREFECT_HOME, and stops
everything it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.fixtures.rounds import good_round, write_xlsx

REPO = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).parent / "prefect")
pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _process(args: list[str], env: dict, log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "w") as handle:
        process = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its children
        )  # fmt: skip
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _prefect(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [PREFECT, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_inbox_deployment_on_a_real_server(tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # no scheduled runs of the deployments during the test: only the one we trigger
        "PREFECT_API_SERVICES_SCHEDULER_ENABLED": "false",
    }
    env.pop("PREFECT_PROFILES_PATH", None)
    home = tmp_path / "home"
    inbox = home / "inbox" / "2023Q1"
    inbox.mkdir(parents=True)
    round_ = good_round(4)
    for name, firms in (("north.xlsx", {"F001", "F002"}), ("south.xlsx", {"F003", "F004"})):
        part = {
            sheet: [row for row in rows if row["firm_id"] in firms]
            for sheet, rows in round_.items()
        }
        write_xlsx(part, inbox / name)

    server_args = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with _process(server_args, env, tmp_path / "server.log"):
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-2000:]
            time.sleep(0.5)
        _prefect(["work-pool", "create", "thio-process", "--type", "process"], env, 60)
        deployed = _prefect(["--no-prompt", "deploy", "--all"], env, 120)
        for name in ("survey-round-quarterly", "survey-round-inbox", "survey-round-backfill"):
            assert name in deployed.stdout
        worker_args = [PREFECT, "worker", "start", "--pool", "thio-process", "--type", "process"]
        with _process(worker_args, env, tmp_path / "worker.log"):
            run = _prefect(
                ["deployment", "run", "survey-round-inbox/survey-round-inbox",
                 "-p", f"home={home}", "-p", "settle_seconds=0.5",
                 "--watch", "--watch-timeout", "240"],
                env, 300,
            )  # fmt: skip
            assert "Completed" in run.stdout, run.stdout + (tmp_path / "worker.log").read_text()
        artifacts = httpx.post(
            f"{api}/artifacts/filter",
            json={"artifacts": {"key": {"any_": ["thio-run-2023q1", "thio-map-2023q1"]}}},
            timeout=10,
        ).json()
        flow_runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).json()

    assert {artifact["key"] for artifact in artifacts} == {"thio-run-2023q1", "thio-map-2023q1"}
    summary = next(a for a in artifacts if a["key"] == "thio-run-2023q1")
    assert summary["type"] == "markdown"
    assert (
        "| north.xlsx | read |" in summary["data"] and "Version **1**, 4 firms" in summary["data"]
    )
    table = next(a for a in artifacts if a["key"] == "thio-map-2023q1")
    assert table["type"] == "table"
    assert len(flow_runs) == 2  # the inbox run and the survey-round run inside it
    assert {run["state_type"] for run in flow_runs} == {"COMPLETED"}

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute(
            "select round_id, version, n_firms, input_files from meta.publications"
        ).fetchall() == [("2023Q1", 1, 4, 2)]
    assert sorted(path.name for path in (inbox / "processed").iterdir()) == [
        "north.xlsx",
        "south.xlsx",
    ]
    assert len(list((home / "raw" / "2023Q1").iterdir())) == 2
