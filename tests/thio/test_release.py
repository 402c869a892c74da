"""thio release: a run held by warning expectations is published from its staged files as
they are, with who and why on record, or refused in one line when it may not be.

Every round runs through the ``thio`` CLI and the survey-round flow. The worked example is
held by tightening one warning bound: 1 of its 5 AHP respondents has CR 0.2 > 0.10, a share
of 0.2 over a bound of 0.1 (tests/flows/test_audit_gate.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from tests.fixtures.rounds import worked_example_csv
from tests.thio.openlineage_schema import RUN_EVENT
from thio.cli import cli
from thio.errors import ThioError
from thio.lineage import lineage_path
from thio.methodology import DEFAULT_METHODOLOGY
from thio.release import release_run

pytestmark = pytest.mark.usefixtures("prefect_harness")

ROUND = "2023Q1"
MARTS = ("ahp_matrices", "firm_component", "firm_tcc", "program_firms", "tcc_by_group")
REASON = "AHP of the inconsistent respondent checked with the firm"


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _rows(home: Path, query: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


@pytest.fixture
def warning_method(tmp_path) -> Path:
    """The shipped methodology with max_inconsistent_ahp_share 0.1: the worked example fails
    the warning check round.inconsistent_ahp_share and nothing else."""
    settings = yaml.safe_load(DEFAULT_METHODOLOGY.read_text())
    settings["expectations"]["bounds"]["max_inconsistent_ahp_share"] = 0.1
    path = tmp_path / "methodology.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True))
    return path


def _run(home: Path, method: Path, inputs: Path, *options: str):
    settings = ["--home", str(home), "--round", ROUND, "--methodology", str(method)]
    return _cli("run", *settings, *options, str(inputs))


def _held_run(home: Path, method: Path, inputs: Path) -> str:
    """Run the round so that it is held; the held run's id."""
    result = _run(home, method, inputs)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == "round 2023Q1: version -, 0 firms, held"
    (run_id,) = _rows(
        home, "select run_id from meta.runs where status = 'held' order by started_at desc"
    )[0]
    return run_id


def _release(home: Path, run_id: str, *options: str):
    return _cli("release", "--home", str(home), "--round", ROUND, "--run", run_id, *options)


def test_a_held_run_keeps_its_staged_files_on_record(tmp_path, worked_example, warning_method):
    home = tmp_path / "home"
    run_id = _held_run(home, warning_method, worked_example / "csv")
    assert _rows(home, "select status from meta.runs") == [("held",)]
    assert _rows(home, "select * from meta.publications") == []
    work = home / "work" / run_id
    staged = [work / "compute.duckdb", *(work / "marts" / f"{mart}.parquet" for mart in MARTS)]
    expected = sorted(
        (
            run_id,
            ROUND,
            path.relative_to(home).as_posix(),
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_size,
        )
        for path in staged
    )
    recorded = _rows(
        home,
        "select run_id, round_id, path, sha256, bytes from meta.staged_files order by path",
    )
    assert recorded == expected
    # the held run's audit report waits under its run id
    docs = home / "reports" / ROUND / f"run-{run_id}" / "validation" / "data_docs" / "index.html"
    assert docs.exists()


def test_a_release_publishes_what_a_forced_run_publishes(tmp_path, worked_example, warning_method):
    home = tmp_path / "home"
    inputs = worked_example / "csv"
    run_id = _held_run(home, warning_method, inputs)
    released = _release(home, run_id, "--reason", f"  {REASON} ", "--by", "Siti Rahma")
    assert released.exit_code == 0, released.output
    assert released.output.splitlines() == [
        f"round 2023Q1: version 1, 3 firms, published (released run {run_id} by Siti Rahma: "
        f"{REASON})"
    ]

    # the same inputs run with --force-warnings in a home of their own: the same rows
    forced_home = tmp_path / "forced"
    forced = _run(forced_home, warning_method, inputs, "--force-warnings")
    assert forced.exit_code == 0, forced.output
    ((forced_hash,),) = _rows(forced_home, "select content_sha256 from meta.publications")
    assert _rows(
        home,
        "select version, status, run_id, content_sha256, input_files, n_firms, reason, "
        "released_by, release_reason from meta.publications",
    ) == [(1, "published", run_id, forced_hash, 4, 3, "first version", "Siti Rahma", REASON)]
    assert _rows(forced_home, "select released_by, release_reason from meta.publications") == [
        (None, None)
    ]

    runs = _rows(
        home, "select run_id, flow_name, status, parameters from meta.runs order by started_at"
    )
    assert [(row[0], row[1], row[2]) for row in runs[:1]] == [(run_id, "survey-round", "released")]
    release_id, flow_name, status, parameters = runs[1]
    assert (flow_name, status) == ("thio-release", "published")
    assert json.loads(parameters) == {
        "held_run_id": run_id,
        "reason": REASON,
        "released_by": "Siti Rahma",
        "home": str(home.resolve()),
    }

    # lineage: the release's START and COMPLETE, reading the held run's archived inputs and
    # writing the published tables
    events = [json.loads(line) for line in lineage_path(home, release_id).read_text().splitlines()]
    validator = jsonschema.Draft202012Validator(RUN_EVENT)
    assert [list(validator.iter_errors(event)) for event in events] == [[], []]
    assert [(event["eventType"], event["job"]["name"]) for event in events] == [
        ("START", "release"),
        ("COMPLETE", "release"),
    ]
    archived = sorted(
        str((home / "raw" / ROUND / f"{sha256}.csv").resolve())
        for (sha256,) in _rows(
            home, "select sha256 from meta.input_files where run_id = ?", [run_id]
        )
    )
    assert len(archived) == 4
    for event in events:
        assert sorted(dataset["name"] for dataset in event["inputs"]) == archived
    outputs = {dataset["name"]: dataset for dataset in events[1]["outputs"]}
    assert outputs["marts.firm_tcc"]["facets"]["version"]["datasetVersion"] == "2023Q1/v1"
    assert "meta.publications" in outputs

    # the held run's audit report moved to the version's folder, naming the release
    reports = home / "reports" / ROUND
    assert not (reports / f"run-{run_id}").exists()
    audit = json.loads((reports / "v1" / "validation" / "audit.json").read_text())
    assert audit["released"] == {
        "release_run_id": release_id,
        "released_by": "Siti Rahma",
        "reason": REASON,
        "status": "published",
        "version": 1,
    }
    assert (reports / "v1" / "validation" / "data_docs" / "index.html").exists()

    # the version is traced to the held run: recomputed from its archived inputs, it matches
    verified = _cli("verify", "--home", str(home), "--round", ROUND)
    assert verified.exit_code == 0, verified.output
    # the quarantine listing is still the held run's (the release read no file)
    listed = _cli("quarantine", "--home", str(home), "--round", ROUND)
    assert listed.output.splitlines()[0] == (
        f"round 2023Q1, run {run_id} (released): 0 quarantined rows, 0 problems"
    )

    again = _release(home, run_id, "--reason", "once more")
    assert again.exit_code == 1
    assert again.output == f"error: run {run_id} of round 2023Q1 was already released (version 1)\n"

    # the same inputs held again: their release finds the rows of version 1
    second = _held_run(home, warning_method, inputs)
    unchanged = _release(home, second, "--reason", "same export", "--by", "Budi")
    assert unchanged.exit_code == 0, unchanged.output
    assert unchanged.output.splitlines() == [
        f"round 2023Q1: version 1, 3 firms, unchanged (released run {second} by Budi: same export)"
    ]
    assert _rows(home, "select count(*) from meta.publications") == [(1,)]
    assert _rows(home, "select status from meta.runs where run_id = ?", [second]) == [("released",)]


def test_a_release_is_refused_in_one_line(tmp_path, worked_example, warning_method):
    home = tmp_path / "home"
    run_id = _held_run(home, warning_method, worked_example / "csv")
    before = hashlib.sha256((home / "warehouse.duckdb").read_bytes()).hexdigest()

    def refused(*args: str) -> str:
        result = _release(home, *args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        (line,) = result.output.splitlines()
        return line

    assert refused(run_id, "--reason", "  ") == (
        f"error: run {run_id}: give a reason for the release (--reason)"
    )
    with pytest.raises(ThioError, match=rf"^run {run_id}: say who releases it \(--by\)$"):
        release_run(home, ROUND, run_id, REASON, " ")
    assert refused("20230101T000000Z-00000000", "--reason", REASON) == (
        "error: run 20230101T000000Z-00000000: no such run in meta.runs"
    )
    other = _cli(
        "release", "--home", str(home), "--round", "2023Q2", "--run", run_id, "--reason", REASON
    )
    assert other.output == f"error: run {run_id} is a run of round 2023Q1, not of 2023Q2\n"

    # one byte of a staged mart file changed
    mart = home / "work" / run_id / "marts" / "firm_tcc.parquet"
    original = mart.read_bytes()
    recorded = hashlib.sha256(original).hexdigest()
    middle = len(original) // 2
    tampered = original[:middle] + bytes([original[middle] ^ 0x01]) + original[middle + 1 :]
    mart.write_bytes(tampered)
    assert refused(run_id, "--reason", REASON) == (
        f"error: run {run_id} of round 2023Q1: staged file work/{run_id}/marts/firm_tcc.parquet "
        f"changed since the run was held (sha256 {hashlib.sha256(tampered).hexdigest()}, "
        f"recorded {recorded}); run the round again"
    )
    mart.write_bytes(original)
    compute_db = home / "work" / run_id / "compute.duckdb"
    compute_db.rename(compute_db.with_suffix(".moved"))
    assert refused(run_id, "--reason", REASON) == (
        f"error: run {run_id} of round 2023Q1: staged file work/{run_id}/compute.duckdb is "
        "missing; run the round again"
    )
    # refusals write nothing
    assert hashlib.sha256((home / "warehouse.duckdb").read_bytes()).hexdigest() == before
    assert _rows(home, "select status from meta.runs") == [("held",)]


def test_a_blocked_run_is_not_released(tmp_path, worked_example):
    folder = worked_example_csv(worked_example, tmp_path / "csv", blocked=True)
    home = tmp_path / "home"
    blocked = _cli("run", "--home", str(home), "--round", ROUND, str(folder))
    assert blocked.exit_code == 1, blocked.output
    ((run_id, status),) = _rows(home, "select run_id, status from meta.runs")
    assert status == "blocked"
    assert _rows(home, "select count(*) from meta.staged_files") == [(0,)]
    result = _release(home, run_id, "--reason", REASON)
    assert result.exit_code == 1
    assert result.output == (
        f"error: run {run_id} of round 2023Q1 failed the blocking check round.quarantine_share: "
        "only a run held by warning checks can be released\n"
    )
    assert _rows(home, "select count(*) from meta.publications") == [(0,)]
