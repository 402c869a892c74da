"""Task: compute the round's indicators in DuckDB SQL."""

from pathlib import Path

from prefect import task

from thio.lineage import recorded_step
from thio.runs import run_methodology
from thio.warehouse import build_compute_db


@task(name="compute")
def compute_indicators(run: dict) -> dict:
    """Build the compute database (landing → staging → intermediate → marts, checks)."""
    work_dir = Path(run["work_dir"])
    with recorded_step(run, "compute") as step:
        result = build_compute_db(
            work_dir / "accepted",
            run_methodology(run),
            work_dir / "compute.duckdb",
            run["round_id"],
        )
        step["checks"] = result.get("checks", [])
    return result
