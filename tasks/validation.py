"""Task: validate the staged rows; rejects go to quarantine, never dropped."""

from pathlib import Path

from prefect import task

from thio.lineage import recorded_step, run_inputs
from thio.runs import run_methodology
from thio.validation import validate_round


@task(name="validate")
def validate_rows(run: dict) -> dict:
    """Run the pandera models and cross-sheet rules; write accepted rows and quarantine."""
    with recorded_step(run, "validate") as step:
        result = validate_round(Path(run["work_dir"]), run["round_id"], run_methodology(run))
        step["inputs"] = run_inputs(run)
        step["checks"] = result.get("checks", [])
    return result
