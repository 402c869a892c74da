"""The inbox flow under the Prefect test server: exports dropped in, published, filed."""

from __future__ import annotations

import importlib
import shutil
import threading
import time
from pathlib import Path

import duckdb
import pytest

import tasks.inbox
from flows.survey_round_inbox import survey_round_inbox
from tests.fixtures.rounds import good_round, held_methodology, worked_example_csv, write_xlsx

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _split(round_: dict, firms: set[str]) -> dict:
    return {
        sheet: [row for row in rows if row["firm_id"] in firms] for sheet, rows in round_.items()
    }


def _publications(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select version, n_firms, input_files from meta.publications order by version"
        ).fetchall()


def test_inbox_publishes_the_round_and_files_each_export(tmp_path):
    home = tmp_path / "home"
    inbox = home / "inbox" / "2023Q1"
    inbox.mkdir(parents=True)
    round_ = good_round(4)
    write_xlsx(_split(round_, {"F001", "F002"}), inbox / "north.xlsx")
    write_xlsx(_split(round_, {"F003", "F004"}), inbox / "south.xlsx")
    (inbox / "broken.xlsx").write_bytes(b"")

    lines = survey_round_inbox(home=str(home), settle_seconds=0.2)
    assert lines == [
        "2023Q1: broken.xlsx: rejected (see rejected/broken.xlsx.why.txt)",
        "2023Q1: north.xlsx: processed",
        "2023Q1: south.xlsx: processed",
    ]
    assert _publications(home) == [(1, 4, 2)]
    assert sorted(path.name for path in (inbox / "processed").iterdir()) == [
        "north.xlsx",
        "south.xlsx",
    ]
    why = (inbox / "rejected" / "broken.xlsx.why.txt").read_text()
    assert why.startswith("broken.xlsx: ") and "empty" in why
    assert len(list((home / "raw" / "2023Q1").iterdir())) == 3  # every file archived

    # nothing new: nothing runs
    assert survey_round_inbox(home=str(home), settle_seconds=0.2) == []
    # the same bytes again under another name: dropped, not run
    shutil.copyfile(inbox / "processed" / "south.xlsx", inbox / "south (copy).xlsx")
    assert survey_round_inbox(home=str(home), settle_seconds=0.2) == []
    assert not (inbox / "south (copy).xlsx").exists()
    assert _publications(home) == [(1, 4, 2)]

    # a corrected north.xlsx replaces the processed one; the round is run over both regions
    for row in round_["sota"]:
        if row["firm_id"] == "F001":
            row["score"] = "9"
    write_xlsx(_split(round_, {"F001", "F002"}), inbox / "north.xlsx")
    assert survey_round_inbox(home=str(home), settle_seconds=0.2) == [
        "2023Q1: north.xlsx: processed"
    ]
    assert _publications(home) == [(1, 4, 2), (2, 4, 2)]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        # every score 9 with ll 2, ul 4: each component (2 + 1.8) / 9, so TCC = 3.8 / 9
        tcc = con.execute("select tcc from latest.firm_tcc where firm_id = 'F001'").fetchone()[0]
    assert tcc == pytest.approx(3.8 / 9, abs=1e-9)


def test_an_empty_inbox_does_nothing(tmp_path):
    assert survey_round_inbox(home=str(tmp_path / "home"), settle_seconds=30) == []


def test_blocked_and_held_rounds_leave_their_exports_where_a_person_looks(
    tmp_path, worked_example, monkeypatch
):
    home = tmp_path / "home"
    monkeypatch.setenv("THIO_HOME", str(home))  # the deployments' way: no home parameter
    worked_example_csv(worked_example, home / "inbox" / "2023Q1" / "csv", blocked=True)
    worked_example_csv(worked_example, home / "inbox" / "2023Q3" / "csv", round_id="2023Q3")
    method = held_methodology(tmp_path)

    state = survey_round_inbox(settle_seconds=0.2, methodology=str(method), return_state=True)
    # the inbox run is no success either: it names each round and how it ended
    assert state.is_failed()
    assert state.message.startswith(
        "2023Q1 Blocked: round 2023Q1 blocked: round blocked: expectation round.quarantine_share"
    )
    assert "; 2023Q3 Held: round 2023Q3 held: round held: warning expectations failed" in (
        state.message
    )
    assert state.result(raise_on_failure=False) == [
        "2023Q1: csv: blocked, nothing published (see blocked/csv.why.txt)",
        "2023Q3: csv: held, nothing published (see held/csv.why.txt)",
    ]
    assert not (home / "warehouse.duckdb").exists() or _publications(home) == []
    for round_id, folder in (("2023Q1", "blocked"), ("2023Q3", "held")):
        inbox = home / "inbox" / round_id
        assert sorted(path.name for path in inbox.iterdir()) == [folder]
        assert sorted(path.name for path in (inbox / folder).iterdir()) == ["csv", "csv.why.txt"]
    why = (home / "inbox" / "2023Q1" / "blocked" / "csv.why.txt").read_text().splitlines()
    assert why[0].startswith("round 2023Q1 blocked: round blocked: expectation round.quarantine")
    assert why[2] == "Correct the export and drop it into the inbox again as csv."
    assert "csv/items.csv, sheet items, row 9, column ul: 12 is outside 1..9" in why
    why = (home / "inbox" / "2023Q3" / "held" / "csv.why.txt").read_text().splitlines()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (run_id,) = con.execute(
            "select run_id from meta.runs where round_id = '2023Q3' and status = 'held'"
        ).fetchone()
    assert why[2].startswith(
        f"To publish the round as it was computed: thio release --round 2023Q3 --run {run_id} "
        '--reason "..."'
    )
    # filed exports are not pending: the next look runs nothing
    assert survey_round_inbox(settle_seconds=0.2) == []


# A copy that trickles in: a quarter of the workbook is there at once, the rest arrives a
# chunk per COPY_PACE_SECONDS (several seconds in all), its last chunk held back until the
# plan task's retry. The inbox looks twice SETTLE_SECONDS apart: a look while the copy runs
# must see the file grow.
COPY_CHUNK_BYTES = 64
COPY_PACE_SECONDS = 0.02
SETTLE_SECONDS = 0.5
# Bounded: a retry that never comes lets the copier end (and the test fail) in time.
RETRY_WAIT_SECONDS = 120


def test_an_export_still_being_copied_is_planned_on_a_retry_once_it_settles(
    tmp_path, worked_example, expected, monkeypatch
):
    home = tmp_path / "home"
    inbox = home / "inbox" / "2023Q1"
    inbox.mkdir(parents=True)
    source = (worked_example / expected["inputs"]["xlsx"][0]).read_bytes()
    target = inbox / "upload.xlsx"
    written = len(source) // 4
    target.write_bytes(source[:written])
    retried = threading.Event()

    def copy_the_rest() -> None:
        position = written
        with open(target, "ab") as handle:
            while position < len(source) - COPY_CHUNK_BYTES and not retried.is_set():
                handle.write(source[position : position + COPY_CHUNK_BYTES])
                handle.flush()
                position += COPY_CHUNK_BYTES
                time.sleep(COPY_PACE_SECONDS)
            retried.wait(RETRY_WAIT_SECONDS)
            handle.write(source[position:])

    copier = threading.Thread(target=copy_the_rest)
    looks: list[int] = []
    pending_entries = tasks.inbox.pending_entries

    def look(home: Path):
        # each attempt of the plan task starts with this look; the copy runs through the
        # first attempt and is complete before the retry's
        looks.append(len(looks) + 1)
        if len(looks) == 1:
            copier.start()
        else:
            retried.set()
            copier.join()
        return pending_entries(home)

    monkeypatch.setattr(tasks.inbox, "pending_entries", look)
    flow_module = importlib.import_module("flows.survey_round_inbox")
    # the task's own retry condition and count, without its backoff of tens of seconds
    monkeypatch.setattr(
        flow_module, "plan_inbox", tasks.inbox.plan_inbox.with_options(retry_delay_seconds=0)
    )
    try:
        lines = survey_round_inbox(home=str(home), settle_seconds=SETTLE_SECONDS)
    finally:
        retried.set()
        if copier.is_alive():
            copier.join()
    assert looks == [1, 2]  # the first look raised StillCopying, the retry planned the run
    assert lines == ["2023Q1: upload.xlsx: processed"]
    assert (inbox / "processed" / "upload.xlsx").read_bytes() == source
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        tcc = dict(con.execute("select firm_id, tcc from latest.firm_tcc").fetchall())
    assert tcc == pytest.approx({firm["firm_id"]: firm["tcc"] for firm in expected["firms"]})


def test_a_run_that_stops_on_an_error_leaves_its_exports_for_the_next_look(
    tmp_path, worked_example, expected
):
    home = tmp_path / "home"
    inbox = home / "inbox" / "2023Q1"
    worked_example_csv(worked_example, inbox / "csv")
    exports = sorted(path.name for path in (inbox / "csv").iterdir())
    missing = tmp_path / "no-such-methodology.yaml"

    state = survey_round_inbox(
        home=str(home), settle_seconds=0.2, methodology=str(missing), return_state=True
    )
    # an error, not a decision: the inbox run fails naming the round, nothing is filed
    assert state.is_failed()
    assert state.message.startswith("2023Q1 Failed: ") and missing.name in state.message
    (line,) = state.result(raise_on_failure=False)
    assert line.startswith("2023Q1: run failed (") and line.endswith("); exports left in the inbox")
    assert sorted(path.name for path in inbox.iterdir()) == ["csv"]
    assert sorted(path.name for path in (inbox / "csv").iterdir()) == exports
    assert not (home / "warehouse.duckdb").exists() or _publications(home) == []

    # the next look, with the error gone, runs and files the same exports
    assert survey_round_inbox(home=str(home), settle_seconds=0.2) == ["2023Q1: csv: processed"]
    assert sorted(path.name for path in inbox.iterdir()) == ["processed"]
    assert [row[:2] for row in _publications(home)] == [(1, len(expected["firms"]))]


def test_a_held_round_in_the_inbox_waits_for_a_decision_then_ends_held(tmp_path, worked_example):
    home = tmp_path / "home"
    worked_example_csv(worked_example, home / "inbox" / "2023Q3" / "csv", round_id="2023Q3")
    method = held_methodology(tmp_path)

    # the survey-round run is the inbox run's subflow: it pauses (6 s) and, with nobody
    # deciding, its own timer resumes it with "no decision" before Prefect's pause timeout
    state = survey_round_inbox(
        home=str(home), methodology=str(method), settle_seconds=0.2, hold_minutes=0.1,
        return_state=True,
    )  # fmt: skip
    assert state.is_failed()
    assert state.message.startswith("2023Q3 Held: round 2023Q3 held: round held: ")
    assert state.result(raise_on_failure=False) == [
        "2023Q3: csv: held, nothing published (see held/csv.why.txt)"
    ]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select status from meta.runs").fetchall() == [("held",)]
        assert con.execute("select count(*) from meta.publications").fetchone() == (0,)
