"""Task: open a run (check parameters, make its working folder)."""

from prefect import get_client, task
from prefect.runtime import deployment, flow_run

from thio.lineage import flow_started
from thio.runs import start_run


def schedule_timezone() -> str | None:
    """The timezone of the deployment schedule that created this flow run (a run triggered
    by hand: the deployment's first schedule's); None outside a deployment."""
    if deployment.id is None:
        return None
    with get_client(sync_client=True) as client:
        created_by = client.read_flow_run(flow_run.id).created_by
        schedules = client.read_deployment(deployment.id).schedules
    by_schedule = [
        entry for entry in schedules if created_by is not None and entry.id == created_by.id
    ]
    for entry in by_schedule or schedules:
        timezone = getattr(entry.schedule, "timezone", None)
        if timezone:
            return timezone
    return None


@task(name="start-run")
def open_run(
    round_id: str | None,
    inputs: list[str] | None,
    home: str | None,
    methodology: str | None,
    mapping: str | None = None,
) -> dict:
    """Check the run's parameters and return its record (ids, paths, versions). A run with
    no round id takes the quarter that ended before its scheduled time on the calendar of
    the schedule's timezone (Prefect hands the time over in UTC)."""
    scheduled = flow_run.scheduled_start_time
    timezone = schedule_timezone() if not round_id else None
    run = start_run(
        round_id,
        inputs,
        home,
        methodology,
        flow_run.id,
        flow_run.flow_name,
        scheduled,
        mapping,
        timezone,
    )
    flow_started(run)
    return run
