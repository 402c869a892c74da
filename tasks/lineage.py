"""Flow hook: a FAIL lineage event when a survey-round flow run stops on an error."""

from thio.lineage import flow_failed


def record_flow_failure(flow, flow_run, state) -> None:
    """Prefect ``on_failure`` / ``on_crashed`` hook of the survey-round flow."""
    del flow
    parameters = dict(flow_run.parameters or {})
    message = state.message or "the flow run failed"
    flow_failed(parameters.get("home") or "thio-data", str(flow_run.id), parameters, message)
