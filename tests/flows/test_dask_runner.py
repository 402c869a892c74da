"""The per-file ingest tasks on a Dask cluster (prefect-dask) publish what threads publish."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from flows.survey_round import survey_round
from tests.fixtures.rounds import good_round, write_xlsx

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _eight_files(folder: Path) -> list[str]:
    """A 16-firm round split into 8 workbooks of 2 firms each (one per enumerator team)."""
    round_ = good_round(16)
    for row in round_["sota"]:
        # scores vary by firm and criterion, so the files differ and so do the firms' TCCs
        number = int(row["firm_id"][1:])
        row["score"] = str((number * 3 + len(row["criterion"])) % 11)
    paths = []
    for team in range(8):
        firms = {f"F{2 * team + 1:03d}", f"F{2 * team + 2:03d}"}
        part = {sheet: [r for r in rows if r["firm_id"] in firms] for sheet, rows in round_.items()}
        paths.append(str(write_xlsx(part, folder / f"team-{team + 1}.xlsx")))
    return paths


def _publication(home: Path) -> tuple:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select n_firms, input_files, content_sha256 from meta.publications"
        ).fetchone()


def test_a_dask_cluster_gives_the_content_hash_of_the_thread_runner(tmp_path):
    from distributed import Client, LocalCluster
    from prefect.settings import PREFECT_API_URL
    from prefect_dask import DaskTaskRunner

    inputs = _eight_files(tmp_path)
    threads = survey_round(round_id="2023Q1", inputs=inputs, home=str(tmp_path / "threads"))
    assert threads["publication"]["status"] == "published"

    # the workers are processes of their own: they report task runs to the test's API
    os.environ["PREFECT_API_URL"] = PREFECT_API_URL.value()
    try:
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, Client(cluster) as client:
            on_dask = survey_round.with_options(
                task_runner=DaskTaskRunner(address=cluster.scheduler_address)
            )
            report = on_dask(round_id="2023Q1", inputs=inputs, home=str(tmp_path / "dask"))
            ran = client.run_on_scheduler(
                lambda dask_scheduler: sorted(
                    {key.split("-")[0] for key in dask_scheduler.task_prefixes}
                )
            )
    finally:
        del os.environ["PREFECT_API_URL"]
    assert report["publication"]["status"] == "published"
    assert ran == ["read_file"]  # the per-file ingest tasks ran on the cluster's workers
    n_firms, files, digest = _publication(tmp_path / "dask")
    assert (n_firms, files) == (16, 8)
    assert (n_firms, files, digest) == _publication(tmp_path / "threads")
