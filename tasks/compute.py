"""Task: compute the round's indicators in DuckDB SQL."""

from pathlib import Path

from prefect import task

from thio.runs import run_methodology
from thio.warehouse import build_compute_db


@task(name="compute")
def compute_indicators(run: dict) -> dict:
    """Build the compute database (landing → staging → intermediate → marts)."""
    work_dir = Path(run["work_dir"])
    db_path = work_dir / "compute.duckdb"
    summary = build_compute_db(
        work_dir / "accepted", run_methodology(run), db_path, run["round_id"]
    )
    return {**summary, "db_path": str(db_path)}
