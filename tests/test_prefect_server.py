"""The operations guide (docs/operations.md) on a real Prefect server, scheduler on.

One `prefect server start` for the module, from an empty PREFECT_HOME, set up line by line
as the guide says: the work pool, `prefect deploy --all` from prefect.yaml, `thio notify`
pointed at a webhook receiver on a loopback port, and a process worker started from the
repository root with THIO_HOME naming the data home (no `home` parameter anywhere). Then:

- the scheduler itself creates the shipped schedules' runs (quarterly at 06:00 Asia/Jakarta
  on 1 Jan/Apr/Jul/Oct, the inbox every 15 minutes), with no traceback in the server log;
- a scheduled inbox run -- nobody triggers it -- publishes the round dropped in the inbox;
- a quarterly run scheduled at 06:00 Jakarta on 1 April (23:00 UTC on 31 March, as Prefect
  hands it over) publishes Q1 of that year;
- a blocked round run with `thio run` against the server ends Blocked there and calls the
  webhook;
- a held deployment run pauses for a decision; released in the UI's form it publishes,
  with no decision it ends Held and calls the webhook.

The server's scheduler loop is shortened through Prefect's own settings, and its horizon is
widened (400 days, at least 4 runs) so the four quarterly dates of a year are scheduled at
once.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pytest

from tests.fixtures.rounds import good_round, held_methodology, worked_example_csv, write_xlsx
from tests.prefect_server import (
    PREFECT,
    REPO,
    THIO,
    PrefectServer,
    Receiver,
    prefect,
    prefect_server,
    process,
    receiver,
)

pytestmark = pytest.mark.server

WORKED_EXAMPLE = REPO.parent / "shared" / "examples" / "worked_example"
JAKARTA = ZoneInfo("Asia/Jakarta")
WAIT_SECONDS = 240


@dataclass(frozen=True)
class Site:
    server: PrefectServer
    home: Path  # THIO_HOME of the worker
    hook: Receiver
    workdir: Path
    worker_log: Path

    def call(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        """One API call that must succeed; the SQLite-backed server answers 503 while its
        database is busy (the scheduler writing a hundred runs), so that is tried again."""
        for _ in range(30):
            response = httpx.request(method, f"{self.server.api}{path}", json=body, timeout=30)
            if response.status_code != 503:
                break
            time.sleep(1)
        assert response.status_code < 300, response.text
        return response

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        return self.call("POST", path, body or {})

    def deployment(self, name: str) -> dict:
        found = self.post("/deployments/filter", {"deployments": {"name": {"any_": [name]}}})
        (deployment,) = found.json()
        return deployment

    def flow_runs(self, **filters) -> list[dict]:
        """Flow runs by the API's filters (``flow_runs=...``, ``deployments=...``, ...)."""
        body = {**filters, "sort": "EXPECTED_START_TIME_ASC", "limit": 200}
        return self.post("/flow_runs/filter", body).json()

    def flow_run(self, flow_run_id: str) -> dict:
        return self.call("GET", f"/flow_runs/{flow_run_id}").json()

    def wait_for(self, what: str, found: Callable[[], object]) -> object:
        """Poll until ``found`` returns something truthy (bounded; the logs on failure)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while not (result := found()):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: not within {WAIT_SECONDS} s\n"
                    + self.worker_log.read_text()[-4000:]
                    + self.server.log.read_text()[-2000:]
                )
            time.sleep(1)
        return result

    def wait_for_state(self, flow_run_id: str, *types: str) -> dict:
        return self.wait_for(  # type: ignore[return-value]
            f"flow run {flow_run_id} in {types}",
            lambda: (run := self.flow_run(flow_run_id))["state_type"] in types and run,
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("operations")
    home = workdir / "thio-home"
    settings = {
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME": "P400D",
        "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "4",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    with receiver() as hook, prefect_server(workdir, **settings) as server:
        env = server.env
        # the guide, "Start it": the pool, the deployments, the notifications, the worker
        prefect(["work-pool", "create", "thio-process", "--type", "process"], env, 60)
        deployed = prefect(["--no-prompt", "deploy", "--all"], env, 120)
        for name in ("survey-round-quarterly", "survey-round-inbox", "survey-round-backfill"):
            assert name in deployed.stdout
        notify = subprocess.run(
            [THIO, "notify", "--webhook", f"http://127.0.0.1:{hook.port}/hook"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert notify.returncode == 0, notify.stdout + notify.stderr
        worker_log = workdir / "worker.log"
        worker_args = [PREFECT, "worker", "start", "--pool", "thio-process", "--type", "process"]
        with process(worker_args, {**env, "THIO_HOME": str(home)}, worker_log):
            yield Site(server, home, hook, workdir, worker_log)


def _published(home: Path) -> list[tuple]:
    path = home / "warehouse.duckdb"
    if not path.exists():
        return []
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select round_id, version, n_firms, input_files, released_by, release_reason "
            "from meta.publications order by round_id, version"
        ).fetchall()


def _next_quarter_starts(after: datetime, count: int) -> list[datetime]:
    """06:00 in Jakarta on the first 1 Jan/Apr/Jul/Oct after ``after``, by hand."""
    starts = []
    year, month = after.astimezone(JAKARTA).year, 1
    while len(starts) < count:
        moment = datetime(year, month, 1, 6, tzinfo=JAKARTA)
        if moment > after:
            starts.append(moment)
        year, month = (year + 1, 1) if month == 10 else (year, month + 3)
    return starts


def test_the_scheduler_creates_the_shipped_schedules(site):
    quarterly = site.deployment("survey-round-quarterly")
    inbox = site.deployment("survey-round-inbox")
    deployed_at = datetime.fromisoformat(quarterly["created"])

    def scheduled(deployment: dict, count: int) -> list[dict]:
        runs = site.flow_runs(
            deployments={"id": {"any_": [deployment["id"]]}},
            flow_runs={"state": {"type": {"any_": ["SCHEDULED"]}}},
        )
        auto = [run for run in runs if run["auto_scheduled"]]
        return auto if len(auto) >= count else []

    runs = site.wait_for("4 quarterly runs", lambda: scheduled(quarterly, 4))
    times = [datetime.fromisoformat(run["expected_start_time"]) for run in runs[:4]]
    assert times == _next_quarter_starts(deployed_at, 4)
    assert {time.astimezone(JAKARTA).strftime("%d %H:%M") for time in times} == {"01 06:00"}

    runs = site.wait_for("inbox runs", lambda: scheduled(inbox, 3))
    times = [datetime.fromisoformat(run["expected_start_time"]) for run in runs]
    assert {later - earlier for earlier, later in itertools.pairwise(times)} == {
        timedelta(minutes=15)
    }
    assert "Traceback" not in site.server.log.read_text()


def test_a_scheduled_inbox_run_publishes_the_round_by_itself(site):
    inbox = site.home / "inbox" / "2023Q1"
    inbox.mkdir(parents=True)
    round_ = good_round(4)
    for name, firms in (("north.xlsx", {"F001", "F002"}), ("south.xlsx", {"F003", "F004"})):
        part = {
            sheet: [row for row in rows if row["firm_id"] in firms]
            for sheet, rows in round_.items()
        }
        write_xlsx(part, inbox / name)
    deployment = site.deployment("survey-round-inbox")
    (schedule,) = deployment["schedules"]
    # the test's short interval: the schedule, not a person, starts the run
    soon = {"interval": 15, "anchor_date": datetime.now(UTC).isoformat(), "timezone": "UTC"}
    schedule_path = f"/deployments/{deployment['id']}/schedules/{schedule['id']}"
    site.call("PATCH", schedule_path, {"schedule": soon, "active": True})
    try:
        site.wait_for("2023Q1 published", lambda: _published(site.home))
    finally:
        site.call("PATCH", schedule_path, {"active": False})
        for run in site.flow_runs(
            deployments={"id": {"any_": [deployment["id"]]}},
            flow_runs={"state": {"type": {"any_": ["SCHEDULED"]}}},
        ):
            site.call("DELETE", f"/flow_runs/{run['id']}")
    assert _published(site.home) == [("2023Q1", 1, 4, 2, None, None)]
    runs = site.wait_for(
        "the inbox run completed",
        lambda: [
            run
            for run in site.flow_runs(deployments={"id": {"any_": [deployment["id"]]}})
            if run["state_type"] == "COMPLETED"
        ],
    )
    # started by the schedule, with no home parameter: THIO_HOME of the worker named it
    assert runs[0]["auto_scheduled"] and runs[0]["created_by"]["type"] == "SCHEDULE"
    assert "home" not in runs[0]["parameters"]
    assert sorted(path.name for path in (inbox / "processed").iterdir()) == [
        "north.xlsx",
        "south.xlsx",
    ]
    artifacts = site.post(
        "/artifacts/filter",
        {
            "artifacts": {
                "key": {"any_": ["thio-run-2023q1", "thio-map-2023q1", "data-docs-2023q1"]}
            }
        },
    ).json()
    kinds = {artifact["key"]: artifact for artifact in artifacts}
    assert kinds["thio-map-2023q1"]["type"] == "table"
    summary = kinds["thio-run-2023q1"]["data"]
    assert "| north.xlsx | read |" in summary and "Version **1**, 4 firms" in summary
    assert "Firms accepted by validation: **4**." in summary
    docs = site.home / "reports" / "2023Q1" / "v1" / "validation" / "data_docs" / "index.html"
    assert kinds["data-docs-2023q1"]["type"] == "markdown"  # Prefect keeps a link as markdown
    assert docs.as_uri() in kinds["data-docs-2023q1"]["data"] and docs.exists()


def test_a_quarterly_run_at_six_in_jakarta_on_1_april_publishes_q1(site):
    # 2023Q1's four firms again as round 2024Q1 (no drift: no warning holds it), among the
    # round's processed exports
    round_ = good_round(4)
    for row in round_["firms"]:
        row["round_id"] = "2024Q1"
    processed = site.home / "inbox" / "2024Q1" / "processed"
    processed.mkdir(parents=True)
    write_xlsx(round_, processed / "city.xlsx")
    deployment = site.deployment("survey-round-quarterly")
    # the time the cron gives for 1 April 2024, 06:00 Asia/Jakarta, as the API stores it
    scheduled_time = "2024-03-31T23:00:00Z"
    created = site.post(
        f"/deployments/{deployment['id']}/create_flow_run",
        {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": scheduled_time}}},
    ).json()
    finished = site.wait_for_state(created["id"], "COMPLETED", "FAILED", "CRASHED")
    assert finished["state_type"] == "COMPLETED", finished["state"]
    assert ("2024Q1", 1, 4, 1, None, None) in _published(site.home)
    with duckdb.connect(str(site.home / "warehouse.duckdb"), read_only=True) as con:
        (parameters,) = con.execute(
            "select parameters from meta.runs where flow_run_id = ?", [created["id"]]
        ).fetchone()
    assert json.loads(parameters)["timezone"] == "Asia/Jakarta"
    assert json.loads(parameters)["round_id"] == "2024Q1"


def _webhook_calls(site: Site, state: str, flow_run_id: str) -> list[dict]:
    bodies = [json.loads(post["body"]) for post in site.hook.snapshot()]
    return [
        body
        for body in bodies
        if body.get("state") == state and body.get("flow_run_id") == flow_run_id
    ]


def test_a_blocked_cli_run_ends_blocked_on_the_server_and_calls_the_webhook(site):
    inputs = worked_example_csv(
        WORKED_EXAMPLE, site.workdir / "blocked", round_id="2023Q2", blocked=True
    )
    home = site.workdir / "cli-home"
    result = subprocess.run(
        [THIO, "run", "--home", str(home), "--round", "2023Q2", str(inputs)],
        cwd=REPO, env=site.server.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "round 2023Q2: version -, 0 firms, blocked"
    runs = [
        run
        for run in site.flow_runs(flows={"name": {"any_": ["survey-round"]}})
        if run["parameters"].get("home") == str(home)
    ]
    (run,) = runs
    assert (run["state_type"], run["state_name"]) == ("FAILED", "Blocked")
    assert run["state"]["message"].startswith(
        "round 2023Q2 blocked: round blocked: expectation round.quarantine_share"
    )
    (call,) = site.wait_for("the webhook call", lambda: _webhook_calls(site, "Blocked", run["id"]))
    assert call["round_id"] == "2023Q2"
    assert call["message"] == run["state"]["message"]


def _run_held_round(site: Site, round_id: str, hold_minutes: float) -> str:
    """A quarterly deployment run of the worked example as ``round_id`` under a methodology
    that holds it (tests.fixtures.rounds.held_methodology)."""
    folder = site.workdir / f"held-{round_id}"
    worked_example_csv(WORKED_EXAMPLE, folder, round_id=round_id)
    method = held_methodology(site.workdir)
    return _run_quarterly(
        site, round_id, inputs=[str(folder)], methodology=str(method), hold_minutes=hold_minutes
    )


def _run_quarterly(site: Site, round_id: str, **parameters) -> str:
    deployment = site.deployment("survey-round-quarterly")
    created = site.post(
        f"/deployments/{deployment['id']}/create_flow_run",
        {"parameters": {"round_id": round_id, **parameters}},
    ).json()
    return created["id"]


def test_a_held_run_waits_for_a_person_and_is_released_from_the_form(site):
    flow_run_id = _run_held_round(site, "2023Q3", hold_minutes=10)
    paused = site.wait_for_state(flow_run_id, "PAUSED", "COMPLETED", "FAILED", "CRASHED")
    assert paused["state_type"] == "PAUSED", paused["state"]
    assert _published(site.home)[-1][0] != "2023Q3"
    decision = {"release": True, "reason": "AHP checked by phone", "released_by": "ani"}
    resumed = site.post(f"/flow_runs/{flow_run_id}/resume", {"run_input": decision}).json()
    assert resumed["status"] == "ACCEPT", resumed
    finished = site.wait_for_state(flow_run_id, "COMPLETED", "FAILED", "CRASHED")
    assert finished["state_type"] == "COMPLETED", finished["state"]
    assert ("2023Q3", 1, 3, 4, "ani", "AHP checked by phone") in _published(site.home)


def test_a_held_run_with_no_decision_ends_held_and_calls_the_webhook(site):
    flow_run_id = _run_held_round(site, "2023Q4", hold_minutes=0.1)
    finished = site.wait_for_state(flow_run_id, "COMPLETED", "FAILED", "CRASHED")
    assert (finished["state_type"], finished["state_name"]) == ("FAILED", "Held")
    assert finished["state"]["message"].startswith("round 2023Q4 held: round held:")
    assert not [row for row in _published(site.home) if row[0] == "2023Q4"]
    (call,) = site.wait_for("the webhook call", lambda: _webhook_calls(site, "Held", flow_run_id))
    assert call["round_id"] == "2023Q4"
