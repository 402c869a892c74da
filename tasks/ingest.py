"""Tasks: list a round's input files, read and archive each one, combine them."""

from pathlib import Path

from prefect import task

from thio.ingest import combine_files, ingest_file, list_input_files
from thio.lineage import archived_inputs, recorded_step
from thio.runs import run_methodology


@task(name="list-input-files")
def list_files(run: dict) -> dict:
    """The files of the run's inputs (a folder's CSV files one by one), in input order."""
    return list_input_files(run["inputs"])


@task(name="ingest-file")
def read_file(run: dict, member: dict, mapping: str | None = None) -> dict:
    """Archive one input file under raw/<round>/<sha256> and stage its rows as text (read
    through the ``mapping`` file when one is given); runs on the flow's task runner."""
    part = Path(run["work_dir"]) / "parts" / f"{int(member['number']):05d}"
    return ingest_file(
        member,
        run["round_id"],
        Path(run["home"]),
        part,
        Path(mapping) if mapping else None,
        limits=run_methodology(run).ingest_limits,  # the zip limits of the method file
    )


@task(name="ingest")
def ingest_files(run: dict, parts: list[dict], skipped: list[dict], mapping: str | None) -> dict:
    """The round's raw frames and ingest record from the files read one at a time."""
    with recorded_step(run, "ingest") as step:
        result = combine_files(
            parts,
            skipped,
            run["round_id"],
            Path(run["home"]),
            Path(run["work_dir"]),
            Path(mapping) if mapping else None,
        )
        step["inputs"] = archived_inputs(Path(run["home"]), result)
    return result
