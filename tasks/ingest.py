"""Task: read and archive the round's input files."""

from pathlib import Path

from prefect import task

from thio.ingest import ingest_inputs


@task(name="ingest")
def ingest_files(run: dict) -> dict:
    """Archive each input under raw/<round>/<sha256> and stage its rows as text."""
    inputs = [Path(name) for name in run["inputs"]]
    return ingest_inputs(inputs, run["round_id"], Path(run["home"]), Path(run["work_dir"]))
