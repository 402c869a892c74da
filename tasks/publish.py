"""Task: publish the computed round as a new immutable version."""

import duckdb
from prefect import task

from tasks.artifacts import record_artifacts
from tasks.concurrency import warehouse_slot
from thio.errors import ThioError
from thio.lineage import flow_finished, published_outputs, recorded_step, run_inputs
from thio.rounds import publish_run


def _transient(task, task_run, state) -> bool:
    """Retry on I/O trouble (a full disk freed, a network share back), not on bad input."""
    del task, task_run
    error = state.result(raise_on_failure=False)
    return isinstance(error, OSError | duckdb.IOException) and not isinstance(error, ThioError)


@task(name="publish", retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=_transient)
def publish_version(
    run: dict,
    ingest: dict,
    validation: dict | None,
    compute: dict | None,
    audit: dict | None = None,
) -> dict:
    """Record the run and publish its marts atomically when the audit did not block them (or
    record why nothing was), holding the home's warehouse slot; the flow run's lineage ends
    here; the run's summary, the round's map and its Data Docs link become artifacts keyed
    by round (tasks.artifacts)."""
    with warehouse_slot(run["home"]), recorded_step(run, "publish") as step:
        report = publish_run(run, ingest, validation, compute, audit)
        step["publication"] = report.get("publication")
        step["inputs"] = run_inputs(run)
        step["outputs"] = published_outputs(run["home"], report.get("publication"))
    # the audit's checks join the compute step's in the flow run's quality assertions
    audited = compute
    if audit is not None and compute is not None:
        audited = {**compute, "checks": [*compute.get("checks", []), *audit["checks"]]}
    flow_finished(run, ingest, validation, audited, report)
    record_artifacts(run, report)
    return report
