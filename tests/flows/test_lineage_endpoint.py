"""A survey-round flow run and its lineage endpoint (real servers on 127.0.0.1).

The publish step's events leave only after the step is over (its warehouse slot released),
and the events a run could not deliver before it was recorded are counted in meta.runs.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest

from flows.survey_round import survey_round
from thio.lineage import URL_VARIABLE, lineage_path, send_failures

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _runs(home: Path, query: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


class _Collector(BaseHTTPRequestHandler):
    """Answers 201 and notes, for each event, whether meta.runs already held the run."""

    home: ClassVar[Path]
    received: ClassVar[list[tuple[str, str, bool]]] = []

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        run = event["run"]["facets"].get("parent", {}).get("run", {}).get("runId")
        recorded = False
        if run and (self.home / "warehouse.duckdb").exists():
            recorded = bool(_runs(self.home, "select 1 from meta.runs where run_id = ?", [run]))
        _Collector.received.append((event["job"]["name"], event["eventType"], recorded))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        del args


def _run_worked_example(home: Path, worked_example: Path) -> dict:
    """The worked example's workbook through the flow, published into ``home``."""
    return survey_round(
        round_id="2023Q1",
        inputs=[str(worked_example / "c01_worked_example.xlsx")],
        home=str(home),
    )


def test_the_publish_steps_events_are_sent_after_the_step(tmp_path, monkeypatch, worked_example):
    _Collector.home = tmp_path
    _Collector.received.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(URL_VARIABLE, f"http://127.0.0.1:{server.server_port}")
    try:
        report = _run_worked_example(tmp_path, worked_example)
    finally:
        server.shutdown()
        server.server_close()
    assert report["publication"]["status"] == "published"
    steps = {(name, kind): recorded for name, kind, recorded in _Collector.received}
    # the audit step's events went out while it ran, before the publish step recorded the run
    assert steps[("survey_round.audit", "COMPLETE")] is False
    # the publish step's START went out only once the step had written the run
    assert steps[("survey_round.publish", "START")] is True
    assert steps[("survey_round.publish", "COMPLETE")] is True
    assert len(_Collector.received) == 12
    assert _runs(tmp_path, "select lineage_failures from meta.runs") == [(0,)]


def test_events_a_refusing_endpoint_never_got_are_counted_in_meta_runs(
    tmp_path, monkeypatch, caplog, worked_example
):
    refusing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    refusing.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    url = f"http://127.0.0.1:{refusing.getsockname()[1]}"
    monkeypatch.setenv(URL_VARIABLE, url)
    caplog.set_level(logging.WARNING, logger="thio.lineage")
    try:
        report = _run_worked_example(tmp_path, worked_example)
    finally:
        refusing.close()
    assert report["publication"]["status"] == "published"
    run_id = report["run_id"]
    # before the run was recorded: the flow's START and START + COMPLETE of ingest,
    # validate, compute and audit
    assert _runs(tmp_path, "select lineage_failures from meta.runs") == [(9,)]
    # then the publish step's two and the flow's COMPLETE: all 12 kept in the run's file
    assert send_failures(tmp_path, run_id) == 12
    assert len(lineage_path(tmp_path, run_id).read_text().splitlines()) == 12
    warnings = [record for record in caplog.records if record.name == "thio.lineage"]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert url in warnings[0].getMessage()
