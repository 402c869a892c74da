"""OpenLineage run events of a survey-round run: what it read, what it published, how it went.

Every run emits, for the flow (job ``thio/survey_round``) and for each step
(``thio/survey_round.<step>``, with a parent facet naming the flow run), a START event and a
COMPLETE or FAIL event:

- inputs: each input file as archived, namespace ``file``, name the archive path
  ``<home>/raw/<round_id>/<sha256>.<ext>``, with a dataset-version facet (the sha256), the
  contract sheets and columns it held (schema facet), its row count and, from the validation
  step, data-quality assertions (one per check of ``meta.validation_results``);
- outputs: each published table, namespace ``duckdb://<home>/warehouse.duckdb``, name
  ``<schema>.<table>``, with its schema (from :mod:`thio.catalog`), the published round and
  version (dataset-version facet) and column lineage: which input sheets' columns each
  indicator is computed from (e.g. ``marts.firm_tcc.tcc`` ← ``sota.score``, ``items.ll``,
  ``items.ul``, ``items.weight``, ``ahp.value``, ``weights.beta``).

A round that is rejected or blocked publishes nothing: its flow run ends with FAIL and the
reason as the error message, as does a run that stops on an error.

Transport: JSON lines appended to ``<home>/lineage/<run_id>.jsonl`` (one file per run, named
by our own run id, never by an input), always first; then, when ``THIO_OPENLINEAGE_URL`` is
set, HTTP POSTs to that Marquez-compatible endpoint (``/api/v1/lineage``). Lineage is a
record, not a gate: a POST gets at most SEND_DEADLINE_SECONDS of wall-clock time in all
(connect, send and answer together: an endpoint that trickles a byte at a time cannot stretch
it) and a run at most RUN_SEND_BUDGET_SECONDS; once the budget is spent the run's remaining
events are only written to its file. Events not delivered are counted in
``<home>/lineage/<run_id>.sends.json`` (recorded as ``meta.runs.lineage_failures``) and the
first one of a run logs one warning line.
"""

from __future__ import annotations

import contextvars
import fcntl
import json
import logging
import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import thio
from thio.catalog import ALL_TABLES, Table
from thio.contract import SHEETS

log = logging.getLogger(__name__)

PRODUCER = f"https://github.com/thio-survey/thio/tree/{thio.__version__}"
JOB_NAMESPACE = "thio"
FLOW_JOB = "survey_round"
URL_VARIABLE = "THIO_OPENLINEAGE_URL"
ENDPOINT = "api/v1/lineage"  # joined to the URL as the OpenLineage HTTP transport does
# Wall-clock limit of one event's POST: a healthy Marquez answers in milliseconds, and a run
# sends about a dozen events, so a dead or trickling endpoint costs a run at most
# RUN_SEND_BUDGET_SECONDS (docs/operations.md).
SEND_DEADLINE_SECONDS = 2.0
RUN_SEND_BUDGET_SECONDS = 6.0
# Enough of an answer to read its status line; the rest is never waited for.
_STATUS_LINE_BYTES = 1024
STEPS = ("start-run", "ingest", "validate", "compute", "publish")

_SCORES = ("sota.score", "sota.criterion", "items.ll", "items.ul", "items.weight")
_BETAS = ("ahp.value", "ahp.row", "ahp.col", "weights.beta", "weights.component")
_FIRM = ("firms.firm_id",)
_GROUP = ("firms.sector_code", "firms.region_code", "firms.sample_weight")
_COMPONENTS = ("t", "h", "i", "o")

# Which input sheet columns each published column is computed from (method.md); columns
# not listed are copied from an input column of the same name or are bookkeeping.
COLUMN_SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "firm_tcc": {
        **{code: _SCORES for code in _COMPONENTS},
        **{f"beta_{code}": _BETAS for code in _COMPONENTS},
        "beta_source": _BETAS,
        "ahp_cr": ("ahp.value",),
        "lambda_max": ("ahp.value",),
        "tcc": _SCORES + _BETAS,
        "tcc_class": _SCORES + _BETAS,
        "technology_level": _SCORES + _BETAS,
        "priority": _SCORES + _BETAS,
        "sector_code": ("firms.sector_code",),
        "region_code": ("firms.region_code",),
        "firm_id": _FIRM,
        "survey_date": ("firms.survey_date",),
        "sample_weight": ("firms.sample_weight",),
    },
    "firm_component": {
        "contribution": _SCORES,
        "sota": ("sota.score", "items.weight"),
        "ll_min": ("items.ll",),
        "ul_max": ("items.ul",),
        "n_items": ("items.item_id",),
        "beta": _BETAS,
    },
    "tcc_by_group": {
        "tcc_mean": _SCORES + _BETAS + _GROUP,
        "tcc_median": _SCORES + _BETAS + _GROUP,
        **{f"{code}_mean": _SCORES + _GROUP for code in _COMPONENTS},
        **{f"beta_{code}_mean": _BETAS + _GROUP for code in _COMPONENTS},
        "priority": _SCORES + _BETAS + _GROUP,
        "n_firms": _GROUP,
    },
    "ahp_matrices": {
        **{f"a_{row}{col}": ("ahp.value",) for row in "thio" for col in "thio"},
        **{f"beta_{code}": ("ahp.value",) for code in _COMPONENTS},
        "cr": ("ahp.value",),
    },
    "program_firms": {
        "focus": ("programs.focus",),
        "start_date": ("programs.start_date",),
        "end_date": ("programs.end_date",),
    },
}


def lineage_path(home: Path, run_id: str) -> Path:
    """The run's JSON-lines file (run ids are thio's own: a UUID or a timestamp id)."""
    return Path(home) / "lineage" / f"{run_uuid(run_id)}.jsonl"


def run_uuid(run_id: str) -> str:
    """OpenLineage wants a UUID run id: the Prefect flow run id is one; a run outside
    Prefect gets a UUID derived from its own id (the same id gives the same UUID)."""
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"thio:run:{run_id}"))


def step_uuid(run_id: str, step: str) -> str:
    """The run id of one step of a flow run (stable, so START and COMPLETE match)."""
    return str(uuid.uuid5(uuid.UUID(run_uuid(run_id)), step))


# ----------------------------------------------------------------------- datasets


def warehouse_namespace(home: Path) -> str:
    """OpenLineage namespace of the published warehouse."""
    return f"duckdb://{(Path(home) / 'warehouse.duckdb').resolve()}"


def archived_inputs(home: Path, ingest: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One dataset description per input file that was archived (rejected files included:
    they were read, and an auditor wants to see them)."""
    if not ingest:
        return []
    datasets = []
    for record in ingest.get("files", []):
        if not record.get("archived_as"):
            continue
        sheets = record.get("sheets", [])
        datasets.append(
            {
                "name": str((Path(home) / record["archived_as"]).resolve()),
                "file_name": record["file_name"],
                "sha256": record["sha256"],
                "rows": int(sum(record.get("rows_read", {}).values())),
                "fields": [
                    (f"{sheet}.{column}", kind)
                    for sheet in sheets
                    for column, kind in _sheet_columns(sheet)
                ],
                "sheets": sheets,
            }
        )
    return datasets


def run_inputs(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The archived inputs of a run, from the ingest record in its working folder."""
    path = Path(run["work_dir"]) / "ingest.json"
    if not path.exists():
        return []
    return archived_inputs(Path(run["home"]), json.loads(path.read_text(encoding="utf-8")))


def _sheet_columns(sheet: str) -> list[tuple[str, str]]:
    contract = SHEETS.get(sheet)
    if contract is None:
        return []
    return [(column.name, column.kind) for column in contract.columns]


def published_outputs(home: Path, publication: dict[str, Any] | None) -> list[Table]:
    """The tables a publication wrote (nothing when the round was not published)."""
    if not publication or publication.get("status") != "published":
        return []
    return [entry for entry in ALL_TABLES if entry.schema in ("marts", "meta")]


def _input_facets(dataset: dict[str, Any], checks: list[dict[str, Any]] | None) -> tuple:
    from openlineage.client.facet_v2 import (
        data_quality_assertions_dataset,
        dataset_version_dataset,
        schema_dataset,
    )
    from openlineage.client.facet_v2 import data_quality_metrics_input_dataset as metrics

    facets: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=dataset["sha256"], producer=PRODUCER
        ),
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=name, type=kind)
                for name, kind in dataset["fields"]
            ],
            producer=PRODUCER,
        ),
    }
    input_facets: dict[str, Any] = {
        "dataQualityMetrics": metrics.DataQualityMetricsInputDatasetFacet(
            columnMetrics={}, rowCount=dataset["rows"], producer=PRODUCER
        )
    }
    if checks:
        facets["dataQualityAssertions"] = (
            data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                assertions=[
                    data_quality_assertions_dataset.Assertion(
                        assertion=f"{check['suite']}.{check['check_name']}",
                        success=bool(check["success"]),
                        actual=None if check.get("observed") is None else str(check["observed"]),
                    )
                    for check in checks
                ],
                producer=PRODUCER,
            )
        )
    return facets, input_facets


def _output_facets(
    entry: Table, inputs: list[dict[str, Any]], publication: dict[str, Any]
) -> dict[str, Any]:
    from openlineage.client.facet_v2 import (
        column_lineage_dataset,
        dataset_version_dataset,
        documentation_dataset,
        schema_dataset,
    )

    facets: dict[str, Any] = {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=name, type=kind, description=comment)
                for name, kind, comment in entry.columns
            ],
            producer=PRODUCER,
        ),
        "documentation": documentation_dataset.DocumentationDatasetFacet(
            description=entry.comment, producer=PRODUCER
        ),
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=f"{publication['round_id']}/v{publication['version']}",
            producer=PRODUCER,
        ),
    }
    sources = COLUMN_SOURCES.get(entry.name) if entry.schema == "marts" else None
    if sources and inputs:
        fields = {}
        for column, source_fields in sources.items():
            input_fields = [
                column_lineage_dataset.InputField(namespace="file", name=dataset["name"], field=f)
                for dataset in inputs
                for f in source_fields
                if f.split(".")[0] in dataset["sheets"]
            ]
            if input_fields:
                fields[column] = column_lineage_dataset.Fields(inputFields=input_fields)
        if fields:
            facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
                fields=fields, producer=PRODUCER
            )
    return facets


# ----------------------------------------------------------------------- events


def run_event(
    run: dict[str, Any],
    event_type: str,
    *,
    step: str | None = None,
    job: str | None = None,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[Table] | None = None,
    publication: dict[str, Any] | None = None,
    checks: list[dict[str, Any]] | None = None,
    error: str | None = None,
) -> Any:
    """One OpenLineage RunEvent (START, COMPLETE or FAIL) of the flow, of a step, or of a
    ``job`` of its own (e.g. the release of a held run, thio.release)."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent
    from openlineage.client.facet_v2 import (
        error_message_run,
        job_type_job,
        nominal_time_run,
        parent_run,
        processing_engine_run,
    )

    run_facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=str(run.get("code_version") or thio.__version__),
            name="thio",
            openlineageAdapterVersion=_openlineage_version(),
            producer=PRODUCER,
        ),
    }
    scheduled = (run.get("parameters") or {}).get("scheduled")
    if scheduled:
        run_facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=scheduled, producer=PRODUCER
        )
    if job is not None:
        job_name, run_id, job_type = job, run_uuid(run["run_id"]), "JOB"
    elif step is None:
        job_name, run_id, job_type = FLOW_JOB, run_uuid(run["run_id"]), "FLOW"
    else:
        job_name, run_id, job_type = f"{FLOW_JOB}.{step}", step_uuid(run["run_id"], step), "TASK"
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_uuid(run["run_id"])),
            job=parent_run.Job(namespace=JOB_NAMESPACE, name=FLOW_JOB),
            producer=PRODUCER,
        )
    if error is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python", producer=PRODUCER
        )
    job = Job(
        namespace=JOB_NAMESPACE,
        name=job_name,
        facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="THIO", jobType=job_type, producer=PRODUCER
            )
        },
    )
    input_datasets = []
    for dataset in inputs or []:
        facets, input_facets = _input_facets(dataset, checks)
        input_datasets.append(
            InputDataset(
                namespace="file", name=dataset["name"], facets=facets, inputFacets=input_facets
            )
        )
    home = Path(run["home"])
    output_datasets = [
        OutputDataset(
            namespace=warehouse_namespace(home),
            name=entry.qualified,
            facets=_output_facets(entry, inputs or [], publication or {}),
        )
        for entry in outputs or []
    ]
    return RunEvent(
        eventType=event_type,
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=run_id, facets=run_facets),
        job=job,
        producer=PRODUCER,
        inputs=input_datasets,
        outputs=output_datasets,
    )


def _openlineage_version() -> str:
    from importlib import metadata

    return metadata.version("openlineage-python")


def event_dict(event: Any) -> dict[str, Any]:
    """The event as the JSON object the transports send."""
    from openlineage.client.serde import Serde

    return Serde.to_dict(event)


def emit(home: Path, run_id: str, events: list[Any]) -> None:
    """Append the events to the run's JSON-lines file and then, when configured, POST them
    (or queue them, inside :func:`sends_deferred`)."""
    path = lineage_path(home, run_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            for event in events:
                handle.write(json.dumps(event_dict(event), sort_keys=True) + "\n")
    except OSError as exc:
        log.warning("lineage: could not write %s: %s", path, exc)
    url = os.environ.get(URL_VARIABLE)
    if not url:
        return
    deferred = _DEFERRED.get()
    if deferred is not None:
        deferred.append((Path(home), run_id, url, list(events)))
        return
    _send_all(Path(home), run_id, url, events)


_DEFERRED: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "thio_lineage_deferred", default=None
)


@contextmanager
def sends_deferred() -> Iterator[None]:
    """Events emitted inside the block are written to their files at once but POSTed only
    when the block ends, however it ends: the publish step's events must not keep the home's
    warehouse slot taken while an endpoint is slow."""
    if _DEFERRED.get() is not None:  # an outer block sends them
        yield
        return
    queued: list = []
    token = _DEFERRED.set(queued)
    try:
        yield
    finally:
        _DEFERRED.reset(token)
        for home, run_id, url, events in queued:
            _send_all(home, run_id, url, events)


def sends_path(home: Path, run_id: str) -> Path:
    """The run's send ledger: time spent POSTing and the events sent, failed and skipped."""
    return Path(home) / "lineage" / f"{run_uuid(run_id)}.sends.json"


def send_failures(home: Path, run_id: str) -> int | None:
    """Events of the run not delivered to the endpoint so far (failed, or skipped once the
    run's budget was spent); None when the run sent nothing (no endpoint set)."""
    try:
        ledger = json.loads(sends_path(home, run_id).read_text(encoding="utf-8"))
        return int(ledger["failed"]) + int(ledger["skipped"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _send_all(home: Path, run_id: str, url: str, events: list[Any]) -> None:
    """POST the events one by one within the run's budget, holding the run's ledger locked
    (a run's sends take turns, so two threads cannot both spend the last of its budget)."""
    path = sends_path(home, run_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            ledger = _send_within_budget(home, run_id, url, events, _ledger(handle.read()))
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(ledger, sort_keys=True))
    except OSError as exc:  # a full disk: the count is lost, the run goes on
        log.warning("lineage: could not write %s: %s", path, exc)


def _ledger(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text or "{}")
    except ValueError:  # a run killed while writing it: start again
        found = {}
    found = found if isinstance(found, dict) else {}
    return {
        "spent_seconds": float(found.get("spent_seconds", 0.0)),
        **{key: int(found.get(key, 0)) for key in ("sent", "failed", "skipped")},
        "warned": bool(found.get("warned", False)),
    }


def _send_within_budget(
    home: Path, run_id: str, url: str, events: list[Any], ledger: dict[str, Any]
) -> dict[str, Any]:
    for event in events:
        left = RUN_SEND_BUDGET_SECONDS - ledger["spent_seconds"]
        if left <= 0:
            ledger["skipped"] += 1
            problem = f"the run's {RUN_SEND_BUDGET_SECONDS:g} s sending budget is spent"
        else:
            started = time.monotonic()
            try:
                problem = post_event(url, event_dict(event), min(SEND_DEADLINE_SECONDS, left))
            except Exception as exc:  # lineage is a record, never a reason to stop a run
                problem = f"{type(exc).__name__}: {exc}"
            ledger["spent_seconds"] += time.monotonic() - started
            ledger["failed" if problem else "sent"] += 1
        if problem and not ledger["warned"]:
            ledger["warned"] = True
            log.warning(
                "lineage: could not send an event to %s (%s); this run's events are in "
                "%s and the ones not sent are counted in meta.runs.lineage_failures",
                _shown(url),
                problem,
                lineage_path(home, run_id),
            )
        elif problem:
            log.debug("lineage: event not sent to %s: %s", _shown(url), problem)
    return ledger


def post_event(url: str, event: dict[str, Any], seconds: float) -> str | None:
    """POST one event to the endpoint within ``seconds`` of wall-clock time in all; returns
    None when it answered 2xx, else what went wrong (one line)."""
    from urllib.parse import urljoin, urlsplit

    deadline = time.monotonic() + seconds
    target = urlsplit(urljoin(url if url.endswith("/") else url + "/", ENDPOINT))
    if target.scheme not in ("http", "https") or not target.hostname:
        return f"{URL_VARIABLE} is not an http(s) URL"
    body = json.dumps(event, sort_keys=True).encode()
    path = target.path + (f"?{target.query}" if target.query else "")
    host = target.hostname if ":" not in target.hostname else f"[{target.hostname}]"
    port = target.port or (443 if target.scheme == "https" else 80)
    credentials = ""
    if target.username is not None:  # http://user:password@host/, as requests honours it
        from base64 import b64encode
        from urllib.parse import unquote

        pair = f"{unquote(target.username)}:{unquote(target.password or '')}"
        credentials = f"Authorization: Basic {b64encode(pair.encode()).decode()}\r\n"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{credentials}"
        "Content-Type: application/json\r\nAccept: application/json\r\n"
        f"User-Agent: thio/{thio.__version__}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    try:
        address = _resolve(target.hostname, port, deadline)
        connection = socket.socket(address[0], socket.SOCK_STREAM)
        try:
            connection.settimeout(_left(deadline))
            connection.connect(address[1])
            if target.scheme == "https":
                # the handshake is bounded by the socket's timeout as a whole
                connection = ssl.create_default_context().wrap_socket(
                    connection, server_hostname=target.hostname
                )
            # since Python 3.5 a socket timeout bounds a whole sendall, not each chunk
            connection.settimeout(_left(deadline))
            connection.sendall(request)
            answer = b""
            while b"\r\n" not in answer and len(answer) < _STATUS_LINE_BYTES:
                # each read gets only what is left of the deadline: a byte every second
                # must not restart the clock
                connection.settimeout(_left(deadline))
                chunk = connection.recv(_STATUS_LINE_BYTES)
                if not chunk:
                    break
                answer += chunk
        finally:
            connection.close()
    except TimeoutError:
        return f"no answer within {seconds:g} s"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    status = answer.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(status) < 2 or not status[0].startswith("HTTP/"):
        return "the endpoint gave no HTTP answer"
    if not status[1].startswith("2"):
        return f"the endpoint answered HTTP {status[1]}"
    return None


def _shown(url: str) -> str:
    """The URL as logged: without a password it may hold."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _resolve(host: str, port: int, deadline: float) -> tuple[int, Any]:
    """(family, address) of the host, looked up in a thread of its own so that a slow
    resolver counts against the deadline (a lookup left behind ends with the resolver's own
    timeout)."""
    found: list = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)

    thread = threading.Thread(target=lookup, name="thio-lineage-resolve", daemon=True)
    thread.start()
    thread.join(_left(deadline))
    if not found:
        raise TimeoutError
    if isinstance(found[0], OSError):
        raise found[0]
    family, _, _, _, address = found[0][0]
    return family, address


@contextmanager
def recorded_step(run: dict[str, Any], step: str) -> Iterator[dict[str, Any]]:
    """START before the step, COMPLETE after it or FAIL with the error; the caller fills
    ``inputs`` / ``outputs`` / ``publication`` / ``checks`` of the yielded dict."""
    home = Path(run["home"])
    emit(home, run["run_id"], [run_event(run, "START", step=step)])
    record: dict[str, Any] = {}
    try:
        yield record
    except BaseException as exc:
        emit(home, run["run_id"], [run_event(run, "FAIL", step=step, error=_message(exc))])
        raise
    emit(home, run["run_id"], [run_event(run, "COMPLETE", step=step, **record)])


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def flow_started(run: dict[str, Any]) -> None:
    """The flow run's START event."""
    emit(Path(run["home"]), run["run_id"], [run_event(run, "START")])


def flow_finished(
    run: dict[str, Any],
    ingest: dict[str, Any] | None,
    validation: dict[str, Any] | None,
    compute: dict[str, Any] | None,
    report: dict[str, Any],
) -> None:
    """The flow run's COMPLETE event (published or unchanged) or FAIL (nothing published:
    the round was rejected or blocked), with every input and published table."""
    home = Path(run["home"])
    publication = report.get("publication") or {}
    checks = list((validation or {}).get("checks", [])) + list((compute or {}).get("checks", []))
    status = publication.get("status")
    error = None
    if status not in ("published", "unchanged"):
        reasons = [line for line in report.get("messages", []) if line][:3]
        error = f"round {run['round_id']} {status}: " + ("; ".join(reasons) or "nothing published")
    event = run_event(
        run,
        "FAIL" if error else "COMPLETE",
        inputs=archived_inputs(home, ingest),
        outputs=published_outputs(home, publication),
        publication=publication,
        checks=checks,
        error=error,
    )
    emit(home, run["run_id"], [event])


def flow_failed(home: str | Path, run_id: str, parameters: dict[str, Any], error: str) -> None:
    """A FAIL event for a flow run that stopped on an error (called by the flow's failure
    hook, which knows only the flow run's id and parameters)."""
    run = {
        "run_id": run_id,
        "home": str(Path(home).resolve()),
        "round_id": parameters.get("round_id"),
        "parameters": {"scheduled": None},
    }
    emit(Path(home), run_id, [run_event(run, "FAIL", error=error)])
