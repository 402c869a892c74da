"""OpenLineage events of real survey-round flow runs: published, rejected and failed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from flows.survey_round import survey_round
from tests.thio.openlineage_schema import RUN_EVENT
from thio.errors import ThioError

pytestmark = pytest.mark.usefixtures("prefect_harness")
VALIDATOR = jsonschema.Draft202012Validator(
    RUN_EVENT, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
STEPS = ("ingest", "validate", "compute", "audit", "publish")


def _events(home: Path) -> list[dict]:
    (path,) = (home / "lineage").glob("*.jsonl")
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for event in events:
        assert [error.message for error in VALIDATOR.iter_errors(event)] == []
    return events


def test_a_published_round_emits_start_and_complete_for_the_flow_and_each_step(
    tmp_path, worked_example
):
    source = worked_example / "c01_worked_example.xlsx"
    report = survey_round(round_id="2023Q1", inputs=[str(source)], home=str(tmp_path))
    events = _events(tmp_path)
    expected = [("survey_round", "START")]
    for step in STEPS:
        expected += [(f"survey_round.{step}", "START"), (f"survey_round.{step}", "COMPLETE")]
    expected.append(("survey_round", "COMPLETE"))
    assert [(event["job"]["name"], event["eventType"]) for event in events] == expected
    flow_run = events[0]["run"]["runId"]
    assert report["run_id"] == flow_run
    assert {event["run"]["facets"]["parent"]["run"]["runId"] for event in events[1:-1]} == {
        flow_run
    }

    last = events[-1]
    (archived,) = (tmp_path / "raw" / "2023Q1").iterdir()
    assert [(dataset["namespace"], dataset["name"]) for dataset in last["inputs"]] == [
        ("file", str(archived.resolve()))
    ]
    assertions = last["inputs"][0]["facets"]["dataQualityAssertions"]["assertions"]
    assert assertions and all(assertion["success"] for assertion in assertions)
    outputs = {dataset["name"]: dataset for dataset in last["outputs"]}
    assert {"marts.firm_tcc", "marts.tcc_by_group", "meta.publications"} <= set(outputs)
    namespace = f"duckdb://{(tmp_path / 'warehouse.duckdb').resolve()}"
    assert outputs["marts.firm_tcc"]["namespace"] == namespace
    assert outputs["marts.firm_tcc"]["facets"]["version"]["datasetVersion"] == "2023Q1/v1"
    lineage = outputs["marts.firm_tcc"]["facets"]["columnLineage"]["fields"]
    assert {"sota.score", "items.ll", "items.ul", "ahp.value"} <= {
        field["field"] for field in lineage["tcc"]["inputFields"]
    }
    validate_complete = events[4]
    assert validate_complete["job"]["name"] == "survey_round.validate"
    assert validate_complete["inputs"][0]["inputFacets"]["dataQualityMetrics"]["rowCount"] == 120


def test_a_rejected_round_ends_with_fail_and_the_reason(tmp_path, worked_example):
    folder = tmp_path / "inputs"
    shutil.copytree(worked_example / "csv", folder)
    (folder / "sota.csv").unlink()
    state = survey_round(
        round_id="2023Q1", inputs=[str(folder)], home=str(tmp_path / "home"), return_state=True
    )
    assert (state.type.value, state.name) == ("FAILED", "Blocked")
    assert state.result(raise_on_failure=False)["publication"]["status"] == "rejected"
    events = _events(tmp_path / "home")
    # one FAIL event: the flow's own (with the reason); the failure hook adds none
    assert [(event["job"]["name"], event["eventType"]) for event in events][-2:] == [
        ("survey_round.publish", "COMPLETE"),
        ("survey_round", "FAIL"),
    ]
    message = events[-1]["run"]["facets"]["errorMessage"]["message"]
    assert message.startswith("round 2023Q1 rejected: ")
    assert "sota" in message
    assert events[-1]["outputs"] == []


def test_a_run_that_stops_on_an_error_emits_fail(tmp_path):
    home = tmp_path / "home"
    with pytest.raises(ThioError):
        survey_round(round_id="2023Q1", inputs=[str(tmp_path / "missing.xlsx")], home=str(home))
    events = _events(home)
    assert [(event["job"]["name"], event["eventType"]) for event in events] == [
        ("survey_round", "FAIL")
    ]
    assert (
        "missing.xlsx: no such file or folder"
        in (events[0]["run"]["facets"]["errorMessage"]["message"])
    )
