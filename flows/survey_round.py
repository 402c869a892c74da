"""Flow: one survey round from export files to a published, versioned round."""

from prefect import flow, unmapped

from tasks.compute import compute_indicators
from tasks.expectations import audit_staged_round
from tasks.ingest import ingest_files, list_files, read_file
from tasks.lineage import record_flow_failure
from tasks.outcome import round_state
from tasks.publish import publish_version
from tasks.release import not_released, release_held_round, wait_for_release
from tasks.run import open_run
from tasks.runner import task_runner
from tasks.validation import validate_rows
from thio.rounds import can_compute, can_validate


# persist_result: the run's report is its state's data, and a state the client reads back
# from the API (a busy server makes it do so) has only a reference to the persisted copy
@flow(
    name="survey-round",
    persist_result=True,
    task_runner=task_runner(),
    on_failure=[record_flow_failure],
    on_crashed=[record_flow_failure],
)
def survey_round(
    round_id: str | None = None,
    inputs: list[str] | None = None,
    home: str | None = None,
    methodology: str | None = None,
    mapping: str | None = None,
    force_warnings: bool = False,
    hold_minutes: float = 0,
):
    """Ingest → validate → compute → audit → publish one round; returns the run's report
    (COMPLETED), or ends Blocked or Held (FAILED type) when nothing was published.

    round_id None: the quarter before the scheduled date, in the schedule's timezone;
    inputs None: <home>/inbox/<round>/; home None: $THIO_HOME or ./thio-data.
    mapping: a mapping file (schemas/mappings/) when the inputs are survey-tool exports.
    force_warnings: publish although warning expectations failed (never a blocking one).
    hold_minutes: a round held by warnings waits this long for a person to release it in
    the Prefect UI (0: never waits; it can be released later with thio release).
    """
    run = open_run(round_id, inputs, home, methodology, mapping)
    listing = list_files(run)
    parts = read_file.map(unmapped(run), listing["files"], unmapped(mapping))
    ingest = ingest_files(run, parts, listing["skipped"], mapping)
    validation = validate_rows(run) if can_validate(ingest) else None
    compute = compute_indicators(run) if can_compute(validation) else None
    audit = audit_staged_round(run, validation, compute, force_warnings) if compute else None
    report = publish_version(run, ingest, validation, compute, audit)
    if report["publication"]["status"] == "held" and hold_minutes > 0:
        decision = wait_for_release(report, hold_minutes)
        if decision.release and decision.reason.strip():
            report = release_held_round(run, report, decision.reason, decision.released_by)
        else:
            report = not_released(report, decision)
    return round_state(report)
