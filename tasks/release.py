"""A held round's decision in the Prefect UI, and the release that publishes it.

A deployment run held by warning expectations pauses and waits for a person: the UI shows a
form (release or not, why, who). Released, the run's staged results -- already computed and
audited -- are published as they are (thio.release, the same step as ``thio release``);
not released, or no decision before the hold ends, the run ends Held and the round can
still be released later from the command line. A CLI run never waits (hold_minutes 0).
"""

import threading
from pathlib import Path

from prefect import get_run_logger, task
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run

from tasks.artifacts import record_artifacts
from tasks.concurrency import warehouse_slot
from thio.lineage import sends_deferred
from thio.release import release_run

# The pause outlives the hold by this much, so that the run itself ends the pause (as
# "no decision") before Prefect's own timeout would end the run as a plain Failed.
PAUSE_GRACE_SECONDS = 120
# How often the paused run looks for a decision.
POLL_SECONDS = 5
NO_DECISION = "no decision before the hold ended"
# Who released a round when the form's name field was left empty.
UNNAMED = "a Prefect UI user"


class ReleaseDecision(RunInput):
    """The form of a held round in the Prefect UI."""

    release: bool = False
    reason: str = ""
    released_by: str = ""


def wait_for_release(report: dict, hold_minutes: float) -> ReleaseDecision:
    """Pause this flow run until a person decides on the held round, for at most
    ``hold_minutes``; no decision by then is a decision not to release."""
    logger = get_run_logger()
    logger.warning(
        "round %s held by warning expectations; waiting up to %s minutes for a release "
        "decision (resume the flow run in the UI: release, reason, your name)",
        report["round_id"],
        hold_minutes,
    )

    # read here, in the flow's thread: the timer's thread has no flow run context, and in a
    # worker's process the environment names the top flow run, not a paused subflow
    paused = flow_run.id

    def end_hold() -> None:
        try:
            resume_flow_run(paused, run_input={"release": False, "reason": NO_DECISION})
        except Exception as exc:  # a person resumed it at the same moment
            logger.info("hold ended while resuming: %s", exc)

    timer = threading.Timer(hold_minutes * 60, end_hold)
    timer.daemon = True
    timer.start()
    try:
        return pause_flow_run(
            wait_for_input=ReleaseDecision,
            timeout=int(hold_minutes * 60) + PAUSE_GRACE_SECONDS,
            poll_interval=POLL_SECONDS,
            key=f"release-{report['run_id']}",
        )
    finally:
        timer.cancel()


def not_released(report: dict, decision: ReleaseDecision) -> dict:
    """The held run's report with the decision not to release it (or a release asked for
    without a reason, which a release needs) among its messages."""
    if decision.release:
        why = "a release needs a reason; resume with one, or run thio release"
    else:
        why = decision.reason.strip() or "the form was sent without release"
    return {**report, "messages": [*report["messages"], f"round not released: {why}"]}


@task(name="release")
def release_held_round(run: dict, report: dict, reason: str, released_by: str) -> dict:
    """Publish the held run's staged results (checked against their recorded hashes),
    holding the home's warehouse slot; returns the run's report with the publication."""
    # the release's lineage events leave once the slot is free (thio.lineage.sends_deferred)
    with sends_deferred(), warehouse_slot(run["home"], run["run_id"]):
        publication = release_run(
            Path(run["home"]),
            run["round_id"],
            run["run_id"],
            reason,
            released_by.strip() or UNNAMED,
            flow_run_id=str(flow_run.id),
        )
    data_docs = publication.pop("data_docs", None)
    released = {
        **report,
        "publication": publication,
        "messages": [
            *report.get("messages", []),
            f"released by {publication['released_by']}: {reason}",
        ],
    }
    if data_docs:
        released["data_docs"] = data_docs
    record_artifacts(run, released)
    return released
