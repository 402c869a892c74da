"""Release a held run: publish its staged results as they are, without computing them again.

A run whose audit failed warning expectations only, and was not forced, is held
(``meta.runs.status = 'held'``): nothing is published, and the files a release publishes
from -- the run's compute database ``work/<run_id>/compute.duckdb`` and the mart files its
views read, ``work/<run_id>/marts/<mart>.parquet`` -- are on record with their sha256 in
``meta.staged_files``. (The quarantine file is not: the held run's quarantined rows are
already in ``meta.quarantine``, and a release reads nothing else of the run.)

:func:`release_run` publishes them through the write every publication takes
(:func:`thio.publish.write_version`: writer lock, build copy, content hash, "unchanged" when
equal to the current version, one-rename swap), so the version is the one a run with
``--force-warnings`` of the same inputs publishes, content hash included. It refuses, in one
line naming the run, a release without a reason, of an unknown run or one of another round,
of a run that is not held or failed a blocking check (judged again with the run's archived
methodology), of a run released before, and of staged files that are missing or changed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from thio.catalog import MART_TABLES
from thio.contract import check_round_id
from thio.errors import ThioError
from thio.lineage import emit, published_outputs, run_event, run_inputs
from thio.methodology import load_methodology
from thio.publish import StagedVersion, insert_run, warehouse_path, write_version
from thio.runinfo import code_version, new_run_id, package_versions
from thio.runs import methodology_archive
from thio.warehouse import marts_dir

RELEASE_FLOW = "thio-release"  # meta.runs.flow_name of a release
RELEASE_JOB = "release"  # its OpenLineage job (namespace thio)
COMPUTE_FILE = "compute.duckdb"
_CHUNK = 1 << 20


def file_sha256(path: Path) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def staged_file_rows(home: Path, run: dict[str, Any], compute_db: Path) -> list[dict[str, Any]]:
    """The meta.staged_files rows of a held run: its compute database and every mart file
    beside it, each with its path relative to ``home``, sha256 and size."""
    home = Path(home).resolve()
    compute_db = Path(compute_db).resolve()
    rows = []
    for path in [compute_db, *sorted(marts_dir(compute_db).glob("*.parquet"))]:
        try:
            relative = path.relative_to(home)
        except ValueError:
            raise ThioError(
                f"run {run['run_id']}: staged file {path} is not inside the data home {home}"
            ) from None
        sha256, size = file_sha256(path)
        rows.append(
            {
                "run_id": run["run_id"],
                "round_id": run["round_id"],
                "path": relative.as_posix(),
                "sha256": sha256,
                "bytes": size,
            }
        )
    return rows


def _records(con: duckdb.DuckDBPyConnection, query: str, params: list) -> list[dict[str, Any]]:
    cursor = con.execute(query, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _methodology_sha256(held: dict[str, Any]) -> str | None:
    """The sha256 of the methodology the run ran with (meta.runs.parameters; runs recorded
    before held runs existed have none)."""
    parameters = json.loads(held["parameters"]) if held["parameters"] else {}
    sha256 = parameters.get("methodology_sha256") if isinstance(parameters, dict) else None
    return str(sha256) if sha256 else None


def _blocking_failures(home: Path, held: dict[str, Any], failed: list[str]) -> list[str]:
    """The failed checks of ``failed`` (``<suite>.<check>``) that the run's own methodology,
    as archived, marks blocking (the shipped file may have changed since)."""
    from thio.expectations import check_severities

    path = methodology_archive(home, held["methodology_sha256"])
    if not path.exists():
        raise ThioError(
            f"run {held['run_id']}: its methodology (sha256 {held['methodology_sha256']}) is "
            f"not archived in {path.parent}"
        )
    severities = check_severities(load_methodology(path))
    return [check for check in failed if severities.get(check) == "blocking"]


def held_run(home: Path, round_id: str, run_id: str) -> dict[str, Any]:
    """The held run ``run_id`` of ``round_id`` as meta.runs has it, with its staged files,
    checks and number of input files read; a ThioError says why it cannot be released.
    Reads the published warehouse read-only."""
    path = warehouse_path(home)
    if not path.exists():
        raise ThioError(f"{path}: no warehouse yet, so no run {run_id} to release")
    name = f"run {run_id}"
    with duckdb.connect(str(path), read_only=True) as con:
        runs = _records(con, "select * from meta.runs where run_id = ?", [run_id])
        if not runs:
            raise ThioError(f"{name}: no such run in meta.runs")
        held = runs[0]
        if held["round_id"] != round_id:
            raise ThioError(f"{name} is a run of round {held['round_id']}, not of {round_id}")
        name = f"run {run_id} of round {round_id}"
        if held["status"] == "released":
            versions = con.execute(
                "select version from meta.publications where run_id = ? order by version",
                [run_id],
            ).fetchall()
            published = f" (version {versions[-1][0]})" if versions else ""
            raise ThioError(f"{name} was already released{published}")
        held["methodology_sha256"] = _methodology_sha256(held)
        checks = _records(
            con,
            "select suite, check_name, success, observed from meta.validation_results "
            "where run_id = ? order by suite, check_name",
            [run_id],
        )
        failed = [f"{row['suite']}.{row['check_name']}" for row in checks if not row["success"]]
        blocking = []
        if failed and held["methodology_sha256"]:
            blocking = _blocking_failures(home, held, failed)
        if blocking:
            raise ThioError(
                f"{name} failed the blocking check {', '.join(blocking)}: only a run held "
                "by warning checks can be released"
            )
        if held["status"] != "held":
            raise ThioError(f"{name} is {held['status']}, not held: only a held run is released")
        if not held["methodology_sha256"]:
            raise ThioError(f"{name}: meta.runs names no methodology sha256")
        held["staged_files"] = _records(
            con, "select path, sha256, bytes from meta.staged_files where run_id = ?", [run_id]
        )
        held["checks"] = checks
        held["input_files"] = con.execute(
            "select count(*) from meta.input_files where run_id = ? and status = 'read'",
            [run_id],
        ).fetchone()[0]
    return held


def check_staged_files(home: Path, held: dict[str, Any]) -> Path:
    """Refuse a release whose staged files are not all on record, are missing, or whose
    bytes are no longer those recorded; returns the run's compute database."""
    name = f"run {held['run_id']} of round {held['round_id']}"
    compute_db = home / "work" / held["run_id"] / COMPUTE_FILE
    work = compute_db.parent.resolve()
    recorded = {row["path"]: row for row in held["staged_files"]}
    # what the publication reads: the compute database and, through its views, each mart
    needed = [compute_db, *(marts_dir(compute_db) / f"{m.name}.parquet" for m in MART_TABLES)]
    for path in needed:
        relative = path.relative_to(home).as_posix()
        if relative not in recorded:
            raise ThioError(f"{name}: staged file {relative} is not on record (meta.staged_files)")
    for relative, row in sorted(recorded.items()):
        path = (home / relative).resolve()
        if not path.is_relative_to(work):
            # the record is the warehouse's: a release reads nothing outside the run's folder
            raise ThioError(f"{name}: staged file {relative} is outside the run's work folder")
        if not path.is_file():
            raise ThioError(f"{name}: staged file {relative} is missing; run the round again")
        sha256, _ = file_sha256(path)
        if sha256 != row["sha256"]:
            raise ThioError(
                f"{name}: staged file {relative} changed since the run was held (sha256 "
                f"{sha256}, recorded {row['sha256']}); run the round again"
            )
    return compute_db


def release_run(
    home: Path,
    round_id: str,
    run_id: str,
    reason: str,
    released_by: str,
    *,
    flow_run_id: str | None = None,
) -> dict[str, Any]:
    """Publish the held run ``run_id`` of ``round_id`` from its staged files, recording who
    released it and why.

    Returns the publication as :func:`thio.publish.publish_round` does ({round_id, version,
    status, n_firms, content_sha256}; status "published", or "unchanged" when the rows equal
    the round's current version) plus ``data_docs`` (the held run's audit report, moved to
    ``reports/<round>/v<version>/``; None when it is gone), ``release_run_id`` (the
    release's row in meta.runs, flow "thio-release"; ``flow_run_id`` is the Prefect flow
    run doing the release, when there is one), and ``released_by`` and ``release_reason`` as
    recorded (blanks collapsed). The held run's status becomes "released".
    """
    home = Path(home).resolve()
    round_id = check_round_id(round_id)
    reason = " ".join(str(reason or "").split())
    released_by = " ".join(str(released_by or "").split())
    if not reason:
        raise ThioError(f"run {run_id}: give a reason for the release (--reason)")
    if not released_by:
        raise ThioError(f"run {run_id}: say who releases it (--by)")
    held = held_run(home, round_id, run_id)
    compute_db = check_staged_files(home, held)
    release = {
        "run_id": new_run_id(),
        "flow_run_id": flow_run_id,
        "flow_name": RELEASE_FLOW,
        "round_id": round_id,
        "home": str(home),
        "started_at": datetime.now(UTC),
        "parameters": {
            "held_run_id": run_id,
            "reason": reason,
            "released_by": released_by,
            "home": str(home),
        },
        "code_version": code_version(),
        "package_versions": package_versions(),
    }
    staged = StagedVersion(
        compute_db,
        run_id,
        held["methodology_sha256"],
        held["code_version"],
        int(held["input_files"]),
        released_by,
        reason,
    )

    def record(con: duckdb.DuckDBPyConnection, result: dict[str, Any]) -> None:
        # under the writer lock: a release that got here first has made the run "released"
        (updated,) = con.execute(
            "update meta.runs set status = 'released' where run_id = ? and status = 'held'",
            [run_id],
        ).fetchone()
        if not updated:
            raise ThioError(f"run {run_id} of round {round_id} was released meanwhile")
        insert_run(con, {**release, "status": result["status"], "finished_at": datetime.now(UTC)})

    inputs = run_inputs({"home": str(home), "work_dir": str(compute_db.parent)})
    emit(home, release["run_id"], [run_event(release, "START", job=RELEASE_JOB, inputs=inputs)])
    try:
        result = write_version(home, round_id, release["run_id"], staged, record)
    except BaseException as exc:
        error = (str(exc).strip().splitlines() or [""])[0]
        event = run_event(release, "FAIL", job=RELEASE_JOB, error=f"{type(exc).__name__}: {error}")
        emit(home, release["run_id"], [event])
        raise
    event = run_event(
        release,
        "COMPLETE",
        job=RELEASE_JOB,
        inputs=inputs,
        outputs=published_outputs(home, result),
        publication=result,
        checks=held["checks"],
    )
    emit(home, release["run_id"], [event])
    return {
        **result,
        "data_docs": _place_data_docs(home, held, release, result),
        "release_run_id": release["run_id"],
        "released_by": released_by,
        "release_reason": reason,
    }


def _place_data_docs(
    home: Path, held: dict[str, Any], release: dict[str, Any], result: dict[str, Any]
) -> str | None:
    """Move the held run's audit folder to the version it became (the place a forced run's
    would have); its audit.json records the release."""
    from thio.expectations import data_docs_target, place_data_docs

    folder = data_docs_target(home, held["round_id"], held["run_id"], None)
    audit_file = folder / "audit.json"
    if not audit_file.exists():
        return None
    audit = json.loads(audit_file.read_text(encoding="utf-8"))
    # where it is now, should the home have moved since the run
    audit["project_dir"] = str(folder)
    audit["released"] = {
        "release_run_id": release["run_id"],
        "released_by": release["parameters"]["released_by"],
        "reason": release["parameters"]["reason"],
        "status": result["status"],
        "version": result["version"],
    }
    return place_data_docs(audit, home, result)
