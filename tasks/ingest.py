"""Task: read and archive the round's input files."""

from pathlib import Path

from prefect import task

from thio.ingest import ingest_inputs
from thio.lineage import archived_inputs, recorded_step
from thio.runs import run_methodology


@task(name="ingest")
def ingest_files(run: dict, mapping: str | None = None) -> dict:
    """Archive each input under raw/<round>/<sha256> and stage its rows as text (exports
    read through the ``mapping`` file when one is given)."""
    inputs = [Path(name) for name in run["inputs"]]
    mapping_path = Path(mapping) if mapping else None
    with recorded_step(run, "ingest") as step:
        result = ingest_inputs(
            inputs,
            run["round_id"],
            Path(run["home"]),
            Path(run["work_dir"]),
            mapping_path,
            limits=run_methodology(run).ingest_limits,  # the zip limits of the method file
        )
        step["inputs"] = archived_inputs(Path(run["home"]), result)
    return result
