"""Task: read and archive the round's input files."""

from pathlib import Path

from prefect import task

from thio.ingest import ingest_inputs
from thio.lineage import archived_inputs, recorded_step


@task(name="ingest")
def ingest_files(run: dict) -> dict:
    """Archive each input under raw/<round>/<sha256> and stage its rows as text."""
    inputs = [Path(name) for name in run["inputs"]]
    with recorded_step(run, "ingest") as step:
        result = ingest_inputs(inputs, run["round_id"], Path(run["home"]), Path(run["work_dir"]))
        step["inputs"] = archived_inputs(Path(run["home"]), result)
    return result
