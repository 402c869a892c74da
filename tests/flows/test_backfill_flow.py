"""The backfill flow re-runs published rounds from their archived inputs."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from flows.survey_round import survey_round
from flows.survey_round_backfill import survey_round_backfill
from thio.methodology import DEFAULT_METHODOLOGY

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_backfill_reruns_a_round_from_its_archive(tmp_path, worked_example):
    home = tmp_path / "home"
    folder = tmp_path / "exports" / "csv"
    shutil.copytree(worked_example / "csv", folder)
    survey_round(round_id="2023Q1", inputs=[str(folder)], home=str(home))
    shutil.rmtree(tmp_path / "exports")  # the exports are gone; the archive is what is left

    state = survey_round_backfill(round_ids=["2023Q1", "2022Q4"], home=str(home), return_state=True)
    # a round that could not be re-run makes the backfill run a failure, listing it
    assert state.is_failed() and state.message == "rounds not published: 2022Q4 failed"
    same = state.result(raise_on_failure=False)
    assert same[0]["status"] == "unchanged" and same[0]["version"] == 1
    assert same[1]["round_id"] == "2022Q4" and same[1]["status"] == "failed"
    assert "round 2022Q4 has no published version" in same[1]["message"]

    # a stricter consistency threshold (CR <= 0.001): F001's respondent (CR 0.011475) and
    # F002's (0.008481 aggregate) no longer count, so their betas fall back: version 2
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        DEFAULT_METHODOLOGY.read_text().replace("cr_threshold: 0.10", "cr_threshold: 0.001")
    )
    changed = survey_round_backfill(round_ids=["2023Q1"], home=str(home), methodology=str(strict))
    assert (changed[0]["status"], changed[0]["version"]) == ("published", 2)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        sources = con.execute(
            "select firm_id, beta_source from latest.firm_tcc order by firm_id"
        ).fetchall()
        names = con.execute(
            "select distinct file_name from meta.input_files order by file_name"
        ).fetchall()
    assert sources == [("F001", "default"), ("F002", "default"), ("F003", "default")]
    # the re-runs report the files under their original names
    assert names == [("csv/ahp.csv",), ("csv/firms.csv",), ("csv/items.csv",), ("csv/sota.csv",)]
    assert not [path for path in (home / "work").iterdir() if path.name.startswith("backfill-")]
