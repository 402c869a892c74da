"""Tasks of the inbox flow: find settled new exports per round, file them after the run."""

from pathlib import Path

from prefect import get_run_logger, task
from prefect.runtime import task_run
from prefect.tasks import exponential_backoff

from thio.inbox import drop_duplicates, file_entries, pending_entries, plan_round, settled_entries
from thio.runs import resolve_home

LOOK_RETRIES = 3


class StillCopying(Exception):
    """An inbox entry changed between two looks: it is still being copied in."""


@task(
    name="plan-inbox",
    retries=LOOK_RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
    retry_condition_fn=lambda task, run, state: isinstance(
        state.result(raise_on_failure=False), StillCopying
    ),
)
def plan_inbox(home: str | None, settle_seconds: float) -> list[dict]:
    """One plan per round with settled new exports (entries still being copied are retried
    with backoff, then left for the next look); duplicates of processed files are dropped.
    home None: $THIO_HOME or ./thio-data."""
    logger = get_run_logger()
    home = resolve_home(home)
    pending, warnings = pending_entries(Path(home))
    for warning in warnings:
        logger.warning(warning)
    ready, settling = settled_entries(pending, settle_seconds)
    if settling and task_run.run_count <= LOOK_RETRIES:
        raise StillCopying(", ".join(path.name for path in settling) + " still being copied")
    for path in settling:
        logger.warning("inbox: %s is still being copied; left for the next look", path.name)
    plans = []
    for round_id, entries in ready.items():
        plan = plan_round(Path(home), round_id, entries)
        for line in drop_duplicates(plan):
            logger.info(line)
        if plan["new"]:
            plans.append(plan)
    return plans


@task(name="file-inbox")
def file_inbox(plan: dict, report: dict) -> list[str]:
    """Move the run's new exports to processed/, rejected/, held/ or blocked/ (the last
    three with a .why.txt)."""
    lines = file_entries(plan, report)
    logger = get_run_logger()
    for line in lines:
        logger.info(line)
    return lines
