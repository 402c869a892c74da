"""OpenLineage events built by thio.lineage: their content, schema validity and transports."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import jsonschema

from tests.thio.openlineage_schema import RUN_EVENT
from thio.catalog import table
from thio.lineage import (
    archived_inputs,
    emit,
    event_dict,
    lineage_path,
    run_event,
    run_uuid,
    step_uuid,
)

VALIDATOR = jsonschema.Draft202012Validator(
    RUN_EVENT, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
FLOW_RUN = "8d5e7a53-2a7c-4a5e-9d0b-3f1c2b4a5e6f"


def _run(home: Path, run_id: str = FLOW_RUN) -> dict:
    return {
        "run_id": run_id,
        "round_id": "2023Q1",
        "home": str(home),
        "work_dir": str(home / "work" / run_id),
        "code_version": "0.1.0+gabc",
        "parameters": {"scheduled": "2023-04-01T06:00:00+07:00"},
    }


INGEST = {
    "files": [
        {
            "file_name": "survey.xlsx",
            "sha256": "a" * 64,
            "archived_as": f"raw/2023Q1/{'a' * 64}.xlsx",
            "sheets": ["firms", "items", "sota", "ahp"],
            "rows_read": {"firms": 3, "items": 15, "sota": 72, "ahp": 30},
        },
        {
            "file_name": "broken.xlsx",
            "sha256": "b" * 64,
            "archived_as": f"raw/2023Q1/{'b' * 64}.xlsx",
            "sheets": [],
            "rows_read": {},
        },
    ]
}


def _valid(event) -> dict:
    as_dict = event_dict(event)
    errors = [error.message for error in VALIDATOR.iter_errors(as_dict)]
    assert errors == []
    return as_dict


def test_run_ids_are_uuids_and_stable():
    assert run_uuid(FLOW_RUN) == FLOW_RUN
    own = run_uuid("20261123T101500Z-1a2b3c4d")
    assert uuid.UUID(own).version == 5 and own == run_uuid("20261123T101500Z-1a2b3c4d")
    assert step_uuid(FLOW_RUN, "ingest") == step_uuid(FLOW_RUN, "ingest")
    assert step_uuid(FLOW_RUN, "ingest") != step_uuid(FLOW_RUN, "publish")
    assert lineage_path(Path("/h"), FLOW_RUN) == Path(f"/h/lineage/{FLOW_RUN}.jsonl")


def test_flow_complete_event_names_inputs_outputs_and_column_lineage(tmp_path):
    inputs = archived_inputs(tmp_path, INGEST)
    assert [dataset["rows"] for dataset in inputs] == [120, 0]
    checks = [
        {"suite": "sota", "check_name": "range", "success": False, "observed": 2},
        {"suite": "warehouse", "check_name": "betas_sum_to_one", "success": True},
    ]
    publication = {"round_id": "2023Q1", "version": 2, "status": "published"}
    event = _valid(
        run_event(
            _run(tmp_path),
            "COMPLETE",
            inputs=inputs,
            outputs=[table("marts.firm_tcc"), table("meta.publications")],
            publication=publication,
            checks=checks,
        )
    )
    assert event["eventType"] == "COMPLETE"
    assert event["job"] == {
        "namespace": "thio",
        "name": "survey_round",
        "facets": event["job"]["facets"],
    }
    assert event["job"]["facets"]["jobType"]["jobType"] == "FLOW"
    assert event["run"]["runId"] == FLOW_RUN
    assert event["run"]["facets"]["nominalTime"]["nominalStartTime"] == "2023-04-01T06:00:00+07:00"
    archived = str((tmp_path / "raw" / "2023Q1" / f"{'a' * 64}.xlsx").resolve())
    first = event["inputs"][0]
    assert (first["namespace"], first["name"]) == ("file", archived)
    assert first["facets"]["version"]["datasetVersion"] == "a" * 64
    assert first["inputFacets"]["dataQualityMetrics"]["rowCount"] == 120
    assertions = first["facets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"], a.get("actual")) for a in assertions] == [
        ("sota.range", False, "2"),
        ("warehouse.betas_sum_to_one", True, None),
    ]
    assert {field["name"] for field in first["facets"]["schema"]["fields"]} >= {
        "sota.score", "items.ll", "items.ul", "ahp.value", "firms.firm_id",
    }  # fmt: skip

    firm_tcc, publications = event["outputs"]
    namespace = f"duckdb://{(tmp_path / 'warehouse.duckdb').resolve()}"
    assert (firm_tcc["namespace"], firm_tcc["name"]) == (namespace, "marts.firm_tcc")
    assert firm_tcc["facets"]["version"]["datasetVersion"] == "2023Q1/v2"
    names = [field["name"] for field in firm_tcc["facets"]["schema"]["fields"]]
    assert names[:3] == ["round_id", "version", "firm_id"] and "tcc" in names
    tcc_sources = firm_tcc["facets"]["columnLineage"]["fields"]["tcc"]["inputFields"]
    # only the file that held the sheets is a source; broken.xlsx held none
    assert {(field["name"], field["field"]) for field in tcc_sources} == {
        (archived, name)
        for name in ("sota.score", "sota.criterion", "items.ll", "items.ul", "items.weight",
                     "ahp.value", "ahp.row", "ahp.col")
    }  # fmt: skip
    assert "columnLineage" not in publications["facets"]


def test_step_events_name_their_parent_and_a_failure(tmp_path):
    run = _run(tmp_path, "20261123T101500Z-1a2b3c4d")
    event = _valid(run_event(run, "FAIL", step="validate", error="ValueError: boom"))
    assert event["job"]["name"] == "survey_round.validate"
    assert event["job"]["facets"]["jobType"]["jobType"] == "TASK"
    assert event["run"]["runId"] == step_uuid(run["run_id"], "validate")
    parent = event["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == run_uuid(run["run_id"])
    assert (parent["job"]["namespace"], parent["job"]["name"]) == ("thio", "survey_round")
    assert event["run"]["facets"]["errorMessage"]["message"] == "ValueError: boom"


def test_a_malformed_event_fails_the_schema():
    event = {"eventType": "DONE", "eventTime": "yesterday", "producer": "thio",
             "run": {"runId": "1"}, "job": {"namespace": "thio"}}  # fmt: skip
    messages = sorted(error.message for error in VALIDATOR.iter_errors(event))
    assert len(messages) == 6, messages


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Collector.received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        del args


def test_events_go_to_the_file_and_to_a_marquez_endpoint(tmp_path, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received.clear()
    try:
        monkeypatch.setenv("THIO_OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_port}")
        run = _run(tmp_path)
        emit(tmp_path, FLOW_RUN, [run_event(run, "START"), run_event(run, "COMPLETE")])
    finally:
        server.shutdown()
    lines = lineage_path(tmp_path, FLOW_RUN).read_text().splitlines()
    assert [json.loads(line)["eventType"] for line in lines] == ["START", "COMPLETE"]
    assert [(path, body["eventType"]) for path, body in _Collector.received] == [
        ("/api/v1/lineage", "START"),
        ("/api/v1/lineage", "COMPLETE"),
    ]


def test_an_unreachable_endpoint_does_not_stop_the_run(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("THIO_OPENLINEAGE_URL", "http://127.0.0.1:9")
    emit(tmp_path, FLOW_RUN, [run_event(_run(tmp_path), "START")])
    assert len(lineage_path(tmp_path, FLOW_RUN).read_text().splitlines()) == 1
    assert "could not send an event" in caplog.text
