"""prefect.yaml: every deployment's entrypoint imports and its parameters bind."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _deployments() -> list[dict]:
    return yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]


def test_every_entrypoint_imports_and_parameters_bind():
    for deployment in _deployments():
        module_path, function_name = deployment["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, function_name)
        signature = inspect.signature(flow.fn)
        bound = signature.bind(**deployment.get("parameters", {}))
        assert set(bound.arguments) == set(deployment["parameters"])


def test_quarterly_schedule_is_jakarta_cron():
    quarterly = next(d for d in _deployments() if d["name"] == "survey-round-quarterly")
    schedule = quarterly["schedules"][0]
    assert schedule["cron"] == "0 6 1 1,4,7,10 *"
    assert schedule["timezone"] == "Asia/Jakarta"
    assert quarterly["entrypoint"] == "flows/survey_round.py:survey_round"


def test_inbox_every_15_minutes_backfill_on_demand():
    deployments = {d["name"]: d for d in _deployments()}
    assert set(deployments) == {
        "survey-round-quarterly",
        "survey-round-inbox",
        "survey-round-backfill",
    }
    assert deployments["survey-round-inbox"]["schedules"][0]["interval"] == 900
    assert "schedules" not in deployments["survey-round-backfill"]
    for deployment in deployments.values():
        assert deployment["work_pool"]["name"] == "thio-process"
    # a paused (held) quarterly run would lose a deployment slot and stop: it has none
    assert "concurrency_limit" not in deployments["survey-round-quarterly"]
    assert deployments["survey-round-inbox"]["concurrency_limit"] == 1
    assert deployments["survey-round-backfill"]["concurrency_limit"] == 1


def test_no_deployment_names_a_home_and_held_rounds_wait_for_a_person():
    deployments = {d["name"]: d for d in _deployments()}
    # the home comes from THIO_HOME on the worker (or the pool's job variables)
    assert not [name for name, d in deployments.items() if "home" in d["parameters"]]
    assert deployments["survey-round-quarterly"]["parameters"]["hold_minutes"] == 1440
    assert deployments["survey-round-inbox"]["parameters"]["hold_minutes"] == 60
