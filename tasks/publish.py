"""Task: publish the computed round as a new immutable version."""

from prefect import task

from thio.lineage import flow_finished, published_outputs, recorded_step, run_inputs
from thio.rounds import publish_run


@task(name="publish")
def publish_version(run: dict, ingest: dict, validation: dict | None, compute: dict | None) -> dict:
    """Record the run and publish its marts atomically (or record why nothing was); the
    flow run's lineage ends here."""
    with recorded_step(run, "publish") as step:
        report = publish_run(run, ingest, validation, compute)
        step["publication"] = report.get("publication")
        step["inputs"] = run_inputs(run)
        step["outputs"] = published_outputs(run["home"], report.get("publication"))
    flow_finished(run, ingest, validation, compute, report)
    return report
