"""Task: publish the computed round as a new immutable version."""

from prefect import task

from thio.rounds import publish_run


@task(name="publish")
def publish_version(run: dict, ingest: dict, validation: dict | None, compute: dict | None) -> dict:
    """Record the run and publish its marts atomically (or record why nothing was)."""
    return publish_run(run, ingest, validation, compute)
