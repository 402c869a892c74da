"""Task: open a run (check parameters, make its working folder)."""

from prefect import task
from prefect.runtime import flow_run

from thio.lineage import flow_started
from thio.runs import start_run


@task(name="start-run")
def open_run(
    round_id: str | None,
    inputs: list[str] | None,
    home: str,
    methodology: str | None,
    mapping: str | None = None,
) -> dict:
    """Check the run's parameters and return its record (ids, paths, versions)."""
    scheduled = flow_run.scheduled_start_time
    run = start_run(
        round_id, inputs, home, methodology, flow_run.id, flow_run.flow_name, scheduled, mapping
    )
    flow_started(run)
    return run
