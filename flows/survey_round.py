"""Flow: one survey round from export files to a published, versioned round."""

from prefect import flow

from tasks.compute import compute_indicators
from tasks.ingest import ingest_files
from tasks.lineage import record_flow_failure
from tasks.publish import publish_version
from tasks.run import open_run
from tasks.validation import validate_rows
from thio.rounds import can_compute, can_validate


@flow(name="survey-round", on_failure=[record_flow_failure], on_crashed=[record_flow_failure])
def survey_round(
    round_id: str | None = None,
    inputs: list[str] | None = None,
    home: str = "thio-data",
    methodology: str | None = None,
) -> dict:
    """Ingest → validate → compute → publish one round; returns the run's report.

    round_id None: the quarter before the scheduled date; inputs None: <home>/inbox/<round>/.
    """
    run = open_run(round_id, inputs, home, methodology)
    ingest = ingest_files(run)
    validation = validate_rows(run) if can_validate(ingest) else None
    compute = compute_indicators(run) if can_compute(validation) else None
    return publish_version(run, ingest, validation, compute)
