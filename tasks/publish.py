"""Task: publish the computed round as a new immutable version."""

import duckdb
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.concurrency import warehouse_slot
from thio.errors import ThioError
from thio.lineage import flow_finished, published_outputs, recorded_step, run_inputs
from thio.report import map_table, run_summary_markdown
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
    here; the run's summary and the round's map become artifacts keyed by round."""
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
    key = run["round_id"].lower()
    create_markdown_artifact(
        run_summary_markdown(report),
        key=f"thio-run-{key}",
        description=f"Run summary of round {run['round_id']}",
    )
    if report["publication"]["status"] in ("published", "unchanged"):
        title, rows = map_table(run["home"], run["round_id"])
        header, *body = rows
        create_table_artifact(
            [dict(zip(header, row, strict=True)) for row in body],
            key=f"thio-map-{key}",
            description=title,
        )
    return report
