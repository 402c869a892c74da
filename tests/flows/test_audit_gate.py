"""Write-audit-publish through the flow and the CLI: a round that passes, one blocked by a
blocking expectation (the warehouse unchanged), and one with warnings only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from thio.catalog import MART_TABLES
from thio.cli import cli
from thio.methodology import DEFAULT_METHODOLOGY

pytestmark = pytest.mark.usefixtures("prefect_harness")

ROUND = "2023Q1"
SUITES = ("ahp_matrices", "firm_component", "firm_tcc", "program_firms", "round", "tcc_by_group")


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _rows(home: Path, query: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


def _snapshot(home: Path) -> dict[str, list[tuple]]:
    """meta.publications and every mart, each sorted."""
    tables = ["meta.publications", *(entry.qualified for entry in MART_TABLES)]
    return {name: sorted(_rows(home, f"select * from {name}"), key=repr) for name in tables}


def _audit_artifact(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return found[-1].data


def test_a_round_passes_then_a_blocked_run_leaves_the_warehouse_unchanged(tmp_path, worked_example):
    home = tmp_path / "home"
    result = _run("run", "--home", str(home), "--round", ROUND, str(worked_example / "csv"))
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    docs = home / "reports" / ROUND / "v1" / "validation" / "data_docs" / "index.html"
    assert f"audit report (Data Docs): {docs}" in lines
    assert lines[-1] == "round 2023Q1: version 1, 3 firms, published"
    # every check of every suite is recorded with the run, all passed
    recorded = _rows(
        home,
        "select suite, count(*), bool_and(success) from meta.validation_results "
        "where suite in ? group by suite order by suite",
        [list(SUITES)],
    )
    assert recorded == [
        ("ahp_matrices", 2, True),
        ("firm_component", 3, True),
        ("firm_tcc", 5, True),
        ("program_firms", 2, True),
        ("round", 4, True),
        ("tcc_by_group", 2, True),
    ]
    assert docs.exists()
    audit = json.loads((docs.parent.parent / "audit.json").read_text())
    assert audit["data_docs"] == str(docs)
    assert not (home / "reports" / ROUND / f"run-{audit['run_id']}").exists()
    markdown = _audit_artifact("audit-2023q1")
    assert "# Audit of round 2023Q1" in markdown
    assert "verdict: **passed**" in markdown

    before = _snapshot(home)
    folder = tmp_path / "csv"
    shutil.copytree(worked_example / "csv", folder)
    items = folder / "items.csv"
    # F002's H1 gets ul 12 (> 9): F002 is excluded, 1 of 3 firms over the 5 % threshold
    items.write_text(
        items.read_text().replace("F002,H,H1,penjahit,,2,5", "F002,H,H1,penjahit,,2,12")
    )
    # --force-warnings is no way around a blocking expectation
    result = _run("run", "--home", str(home), "--round", ROUND, "--force-warnings", str(folder))
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    # F002's two AHP respondents are quarantined with it: 3 respondents are left; the round
    # suite's frame has the round's row and sector 10's (F002 was sector 31's only firm)
    assert (
        "round blocked: expectation round.quarantine_share: 1 of 2 rows failed "
        "quarantine_share <= 0.05: round (quarantine_share 0.333333333333, "
        "firms_with_problems 1, firm_ids_read 3, ahp_respondents 3) (blocking)"
    ) in lines
    assert lines[-1] == "round 2023Q1: version -, 0 firms, blocked"
    assert _snapshot(home) == before
    (run_id, status), *_ = _rows(
        home, "select run_id, status from meta.runs order by started_at desc"
    )
    assert status == "blocked"
    (observed,) = _rows(
        home,
        "select observed from meta.validation_results where run_id = ? and suite = 'round' "
        "and check_name = 'quarantine_share' and not success",
        [run_id],
    )[0]
    assert json.loads(observed)["values"] == {"round": pytest.approx(1 / 3)}
    # the blocked run's Data Docs are kept under its run id; version 1's are untouched
    reports = home / "reports" / ROUND
    assert (reports / f"run-{run_id}" / "validation" / "data_docs" / "index.html").exists()
    assert (
        json.loads((reports / "v1" / "validation" / "audit.json").read_text())["blocked"] is False
    )


def test_warnings_hold_the_round_unless_forced(tmp_path, worked_example):
    settings = yaml.safe_load(DEFAULT_METHODOLOGY.read_text())
    # 1 of the 5 AHP respondents has CR > 0.10: 0.2, over a bound of 0.1
    settings["expectations"]["bounds"]["max_inconsistent_ahp_share"] = 0.1
    method = tmp_path / "methodology.yaml"
    method.write_text(yaml.safe_dump(settings, allow_unicode=True))
    home = tmp_path / "home"
    args = ["run", "--home", str(home), "--round", ROUND, "--methodology", str(method)]
    warning = (
        "warning: expectation round.inconsistent_ahp_share: 1 of 3 rows failed "
        "inconsistent_ahp_share <= 0.1: round (inconsistent_ahp_share 0.2, "
        "firms_with_problems 0, firm_ids_read 3, ahp_respondents 5)"
    )
    held = _run(*args, str(worked_example / "csv"))
    assert held.exit_code == 1, held.output
    lines = held.output.strip().splitlines()
    assert warning in lines
    assert not [line for line in lines if line.startswith("round blocked:")]
    ((held_run,),) = _rows(home, "select run_id from meta.runs where status = 'held'")
    assert (
        f"round held: warning expectations failed; release it (thio release --round 2023Q1 "
        f"--run {held_run} --reason ...) or run it again with --force-warnings to publish it "
        "anyway"
    ) in lines
    assert lines[-1] == "round 2023Q1: version -, 0 firms, held"
    assert _rows(home, "select * from meta.publications") == []

    forced = _run(*args, "--force-warnings", str(worked_example / "csv"))
    assert forced.exit_code == 0, forced.output
    lines = forced.output.strip().splitlines()
    assert warning in lines
    assert lines[-1] == "round 2023Q1: version 1, 3 firms, published"
    recorded = _rows(
        home,
        "select runs.status, results.success from meta.validation_results as results "
        "join meta.runs as runs using (run_id) "
        "where results.check_name = 'inconsistent_ahp_share' order by runs.started_at",
    )
    assert recorded == [("held", False), ("published", False)]
