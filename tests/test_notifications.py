"""`thio notify` on a real Prefect server: the automation posts one JSON alert per survey-round
run that ends Held, Blocked or Crashed to a webhook receiver on 127.0.0.1, and none for a run
that completes or for another flow's failure.
"""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from flows.notifications import ALERT_STATES, DEFAULT_NAME, PAYLOAD_FIELDS
from tests.prefect_server import (
    REPO,
    THIO,
    free_port,
    isolated_env,
    prefect,
    prefect_server,
    receiver,
)
from thio import notify_command

pytestmark = pytest.mark.server

ROUND = "2024Q3"
WAIT_SECONDS = 60


def thio_notify(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [THIO, "notify", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def flow_run(api: str, flow: str, name: str) -> str:
    """A flow run of ``flow`` that has started (created Pending, then Running)."""
    flow_id = httpx.post(f"{api}/flows/", json={"name": flow}, timeout=10).json()["id"]
    created = httpx.post(
        f"{api}/flow_runs/",
        json={"flow_id": flow_id, "name": name, "parameters": {"round_id": ROUND}},
        timeout=10,
    )
    created.raise_for_status()
    run_id = created.json()["id"]
    set_state(api, run_id, {"type": "RUNNING"})
    return run_id


def set_state(api: str, run_id: str, state: dict) -> None:
    response = httpx.post(
        f"{api}/flow_runs/{run_id}/set_state", json={"state": state}, timeout=10
    ).json()
    assert response["status"] == "ACCEPT", response


def posted_run_ids(posts: list[dict]) -> set[str | None]:
    ids = set()
    for post in posts:
        try:
            ids.add(json.loads(post["body"]).get("flow_run_id"))
        except ValueError:  # not JSON: the assertions on the bodies say so
            ids.add(None)
    return ids


def named(api: str, kind: str, name: str) -> list[dict]:
    """The automations or block documents called ``name``."""
    body = {kind: {"name": {"any_": [name]}}}
    response = httpx.post(f"{api}/{kind}/filter", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def test_alerts_reach_the_webhook_once_per_run_that_did_not_succeed(tmp_path):
    with prefect_server(tmp_path) as server, receiver() as hook:
        api, env = server.api, server.env
        hook_url = f"http://127.0.0.1:{hook.port}"
        first = thio_notify(["--webhook", f"{hook_url}/old"], env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert first.stdout == (
            f"automation {DEFAULT_NAME} created: survey-round runs ending "
            f"{', '.join(ALERT_STATES)} are posted to the webhook\n"
        )
        # again, with the URL that receives: the block and the automation are updated
        again = thio_notify(["--webhook", f"{hook_url}/hook"], env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.startswith(f"automation {DEFAULT_NAME} updated: ")
        assert len(named(api, "automations", DEFAULT_NAME)) == 1
        assert len(named(api, "block_documents", DEFAULT_NAME)) == 1

        # the runs that must stay silent end first: had they matched, their alerts would
        # be queued ahead of the expected ones and be in by the time those are
        completed = flow_run(api, "survey-round", "round-completed")
        set_state(api, completed, {"type": "COMPLETED", "name": "Completed"})
        other = flow_run(api, "survey-round-inbox", "inbox-failed")
        set_state(api, other, {"type": "FAILED", "name": "Failed", "message": "not ours"})
        expected = {
            "Held": (
                "FAILED",
                'warning expectations failed: "tcc_share_in_range" (2 firms)\n'
                "run again with --force-warnings",
            ),
            "Blocked": ("FAILED", "blocking expectation failed: firms_have_items"),
            "Crashed": ("CRASHED", "the worker lost the flow run's process"),
        }
        alerting = {}
        started = time.monotonic()
        for state, (state_type, message) in expected.items():
            run_id = flow_run(api, "survey-round", f"round-{state.lower()}")
            set_state(api, run_id, {"type": state_type, "name": state, "message": message})
            alerting[run_id] = state

        deadline = started + WAIT_SECONDS
        while not set(alerting) <= posted_run_ids(hook.snapshot()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
        posts = hook.snapshot()
        assert posted_run_ids(posts) == set(alerting), (posts, server.log.read_text()[-3000:])
        assert len(posts) == len(alerting), posts  # one each, none for the silent runs

        # removing it is what the operations guide says
        prefect(["--no-prompt", "automation", "delete", DEFAULT_NAME], env, 60)
        prefect(["--no-prompt", "block", "delete", f"webhook/{DEFAULT_NAME}"], env, 60)
        assert named(api, "automations", DEFAULT_NAME) == []
        assert named(api, "block_documents", DEFAULT_NAME) == []

    bodies = {}
    for post in posts:
        assert post["path"] == "/hook"
        assert post["headers"]["Content-Type"] == "application/json"
        body = json.loads(post["body"])
        assert tuple(body) == PAYLOAD_FIELDS
        bodies[body["flow_run_id"]] = body
    for run_id, state in alerting.items():
        body = bodies[run_id]
        state_type, message = expected[state]
        assert body["flow"] == "survey-round"
        assert body["flow_run_name"] == f"round-{state.lower()}"
        assert (body["state"], body["state_type"], body["message"]) == (state, state_type, message)
        assert body["round_id"] == ROUND
        assert body["deployment"] is None
        assert body["url"] == f"{api.removesuffix('/api')}/runs/flow-run/{run_id}"
        run_name = body["flow_run_name"]
        assert body["text"] == f"survey-round {ROUND}: {state} - {message} (flow run {run_name})"
        assert body["occurred"]


def test_notify_refuses_without_a_reachable_server(tmp_path):
    env = isolated_env(tmp_path / "prefect-home")
    unset = thio_notify(["--webhook", "https://hooks.example.org/x"], env)
    assert (unset.returncode, unset.stdout) == (1, "")
    assert unset.stderr.startswith("error: PREFECT_API_URL is not set: ")
    assert unset.stderr.count("\n") == 1

    nobody = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    env_down = isolated_env(tmp_path / "prefect-home", PREFECT_API_URL=nobody)
    down = thio_notify(["--webhook", "https://hooks.example.org/x"], env_down)
    assert (down.returncode, down.stdout) == (1, "")
    assert down.stderr.startswith(f"error: cannot reach the Prefect API at {nobody}: ")
    assert down.stderr.count("\n") == 1

    for url in ("ftp://127.0.0.1/hook", "127.0.0.1:8080/hook", "https://"):
        bad = thio_notify(["--webhook", url], env_down)
        assert bad.returncode == 2, bad.stderr
        assert "is not an http(s) URL" in bad.stderr and "Traceback" not in bad.stderr
    bad_name = thio_notify(["--webhook", "https://hooks.example.org/x", "--name", "Alerts"], env)
    assert bad_name.returncode == 2 and "lowercase letters, digits and dashes" in bad_name.stderr


def test_the_cli_default_name_is_the_automations():
    # the CLI keeps its own copy so that `thio --help` does not import Prefect
    assert notify_command.DEFAULT_NAME == DEFAULT_NAME
