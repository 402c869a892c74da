"""Task: publish the computed round as a new immutable version."""

import errno
import os

import duckdb
from prefect import task

from tasks.artifacts import record_artifacts
from tasks.concurrency import warehouse_slot
from thio.errors import ThioError
from thio.lineage import (
    flow_finished,
    published_outputs,
    recorded_step,
    run_inputs,
    sends_deferred,
)
from thio.rounds import publish_run

# What the operating system says when a write fails for want of room or of a working device:
# DuckDB does not raise an IOException for these but names them in the message of whatever
# it raises (a full disk on commit is a TransactionException, on checkpoint a FatalException).
IO_TROUBLE_MESSAGES = tuple(os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT, errno.EIO))


def is_io_trouble(error: object) -> bool:
    """Whether ``error`` is I/O trouble that may pass (a full disk freed, a network share
    back), not bad input: an OSError, a DuckDB IOException, or a DuckDB error that names a
    full disk, an exceeded quota or an I/O error."""
    if isinstance(error, ThioError):
        return False
    if isinstance(error, OSError | duckdb.IOException):
        return True
    return isinstance(error, duckdb.Error) and any(
        message in str(error) for message in IO_TROUBLE_MESSAGES
    )


def _transient(task, task_run, state) -> bool:
    """Retry on I/O trouble (:func:`is_io_trouble`), not on bad input."""
    del task, task_run
    return is_io_trouble(state.result(raise_on_failure=False))


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
    # sends_deferred first: the step's events are written as it goes but POSTed only once
    # the slot is free, so a slow lineage endpoint never keeps other runs of the home waiting
    with (
        sends_deferred(),
        warehouse_slot(run["home"], run["run_id"]),
        recorded_step(run, "publish") as step,
    ):
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
