"""The final state of a survey-round flow run: what a data team sees in Prefect.

Prefect names a flow run's events after its state's name (``prefect.flow-run.Held``), so the
UI, automations and notifications can tell a held round from a blocked one. Both are of the
FAILED type: nothing was published, and no dashboard may count the run as a success.
"""

from prefect.exceptions import MissingResult
from prefect.states import Failed, State

from thio.report import PUBLISHED_STATUSES, outcome_message

HELD_STATE = "Held"
BLOCKED_STATE = "Blocked"


def round_state(report: dict) -> dict | State:
    """The report itself (the run is COMPLETED) when the round was published or unchanged;
    otherwise a FAILED-type state named Held or Blocked, its message saying why, carrying
    the report (``state.result(raise_on_failure=False)`` returns it)."""
    status = report["publication"]["status"]
    if status in PUBLISHED_STATUSES:
        return report
    name = HELD_STATE if status == "held" else BLOCKED_STATE
    return Failed(name=name, message=outcome_message(report), data=report)


def state_report(state: State) -> dict | None:
    """The run's report a finished survey-round state carries: a published round's, or a
    Held or Blocked one's; None when the run stopped on an error (nothing was decided) or
    its state came back from the API without its data (a busy server database can make
    the client take the server's copy): the caller then leaves the exports for the next
    look, which finds the round unchanged."""
    try:
        report = state.result(raise_on_failure=False)
    except MissingResult:
        return None
    return report if isinstance(report, dict) else None
