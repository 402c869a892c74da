"""Flow: one survey round from export files to a published, versioned round."""

from prefect import flow, unmapped

from tasks.compute import compute_indicators
from tasks.expectations import audit_staged_round
from tasks.ingest import ingest_files, list_files, read_file
from tasks.lineage import record_flow_failure
from tasks.publish import publish_version
from tasks.run import open_run
from tasks.runner import task_runner
from tasks.validation import validate_rows
from thio.rounds import can_compute, can_validate


@flow(
    name="survey-round",
    task_runner=task_runner(),
    on_failure=[record_flow_failure],
    on_crashed=[record_flow_failure],
)
def survey_round(
    round_id: str | None = None,
    inputs: list[str] | None = None,
    home: str = "thio-data",
    methodology: str | None = None,
    mapping: str | None = None,
    force_warnings: bool = False,
) -> dict:
    """Ingest → validate → compute → audit → publish one round; returns the run's report.

    round_id None: the quarter before the scheduled date; inputs None: <home>/inbox/<round>/.
    mapping: a mapping file (schemas/mappings/) when the inputs are survey-tool exports.
    force_warnings: publish although warning expectations failed (never a blocking one).
    """
    run = open_run(round_id, inputs, home, methodology, mapping)
    listing = list_files(run)
    parts = read_file.map(unmapped(run), listing["files"], unmapped(mapping))
    ingest = ingest_files(run, parts, listing["skipped"], mapping)
    validation = validate_rows(run) if can_validate(ingest) else None
    compute = compute_indicators(run) if can_compute(validation) else None
    audit = audit_staged_round(run, validation, compute, force_warnings) if compute else None
    return publish_version(run, ingest, validation, compute, audit)
