"""Flow hook: a FAIL lineage event when a survey-round flow run stops on an error."""

from tasks.outcome import BLOCKED_STATE, HELD_STATE
from thio.lineage import flow_failed
from thio.runs import resolve_home


def record_flow_failure(flow, flow_run, state) -> None:
    """Prefect ``on_failure`` / ``on_crashed`` hook of the survey-round flow. A Held or
    Blocked run already emitted its FAIL event with the run's inputs and checks."""
    del flow
    if state.name in (HELD_STATE, BLOCKED_STATE):
        return
    parameters = dict(flow_run.parameters or {})
    message = state.message or "the flow run failed"
    flow_failed(resolve_home(parameters.get("home")), str(flow_run.id), parameters, message)
