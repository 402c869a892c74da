"""Task: compute the round's indicators in DuckDB SQL."""

from pathlib import Path

from prefect import task

from thio.runs import run_methodology
from thio.warehouse import build_compute_db


@task(name="compute")
def compute_indicators(run: dict) -> dict:
    """Build the compute database (landing → staging → intermediate → marts, checks)."""
    work_dir = Path(run["work_dir"])
    methodology = run_methodology(run)
    return build_compute_db(
        work_dir / "accepted", methodology, work_dir / "compute.duckdb", run["round_id"]
    )
