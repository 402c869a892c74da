"""What auditors ask of a publication: its lineage, a firm's trace, a re-computation, a diff.

Every function here opens the published warehouse read-only (never blocking a run or another
reader) and returns the lines to print. Round ids, versions and firm ids from the command
line reach SQL only as parameters; archived files are found by the sha256 that
``meta.input_files`` recorded (checked to be 64 hex digits), never by a file name.

Re-reading an archived input (``trace``, ``verify``) copies it into a scratch folder under the
name ingest expects -- ``<sha256>.<ext>`` for a workbook, ``<sheet>.csv`` inside a folder of
its own for a CSV file (the sheet as recorded) -- and reads it with the same ingest code.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from thio.catalog import MART_TABLES, Table
from thio.contract import SHEETS, check_round_id
from thio.errors import ThioError
from thio.report import open_warehouse

SAME_VALUE = 1e-9  # doubles closer than this are the same result (parallel sums differ in ulps)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,127}")
_CONTENT_SHEETS = ("firms", "items", "sota", "ahp", "weights", "programs")


# ----------------------------------------------------------------------- publications


def publication_inputs(
    home: Path, round_id: str, version: int | None = None
) -> tuple[list[dict], Path | None]:
    """The input files (meta.input_files rows) of a publication's run, and the archived
    mapping file it read them with (None for canonical files)."""
    with open_warehouse(home) as con:
        publication = find_publication(con, round_id, version)
        files = _input_files(con, publication["run_id"])
        return files, run_mapping(con, home, publication["run_id"])


def run_mapping_sha256(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    """The sha256 of the mapping file a run read its exports with (None for canonical
    files), as meta.runs.parameters recorded it."""
    row = con.execute("select parameters from meta.runs where run_id = ?", [run_id]).fetchone()
    parameters = json.loads(row[0]) if row and row[0] else {}
    sha256 = parameters.get("mapping_sha256") if isinstance(parameters, dict) else None
    if not sha256:
        return None
    if not _SHA256.fullmatch(str(sha256)):
        raise ThioError(f"meta.runs: run {run_id} names no valid mapping sha256")
    return str(sha256)


def run_mapping(con: duckdb.DuckDBPyConnection, home: Path, run_id: str) -> Path | None:
    """The archived mapping file a run read its exports with (None for canonical files);
    refused when missing or no longer the bytes the run read."""
    sha256 = run_mapping_sha256(con, run_id)
    if sha256 is None:
        return None
    problem = archive_problem(home, "mapping", sha256)
    if problem:
        raise ThioError(f"the mapping file of run {run_id}: {problem}")
    return archive_path(home, "mapping", sha256)


def find_publication(
    con: duckdb.DuckDBPyConnection, round_id: str, version: int | None
) -> dict[str, Any]:
    """The publication (round, version), or the round's current published version."""
    round_id = check_round_id(round_id)
    if version is None:
        found = con.execute(
            "select max(version) from meta.publications where round_id = ? and status = "
            "'published'",
            [round_id],
        ).fetchone()[0]
        if found is None:
            raise ThioError(f"round {round_id} has no published version")
        version = found
    cursor = con.execute(
        "select * from meta.publications where round_id = ? and version = ?", [round_id, version]
    )
    row = cursor.fetchone()
    if row is None:
        raise ThioError(f"round {round_id} has no version {version}")
    return dict(zip([column[0] for column in cursor.description], row, strict=True))


def _records(con: duckdb.DuckDBPyConnection, query: str, params: list) -> list[dict[str, Any]]:
    cursor = con.execute(query, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _input_files(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    return _records(
        con,
        "select * from meta.input_files where run_id = ? order by file_name",
        [run_id],
    )


def _label(publication: dict[str, Any]) -> str:
    label = f"round {publication['round_id']} version {publication['version']}"
    if publication["status"] == "retracted":
        label += f" (retracted {publication['retracted_at']:%Y-%m-%d}: "
        label += f"{publication['retract_reason']})"
    return label


# ----------------------------------------------------------------------- lineage


def lineage_lines(home: Path, round_id: str, version: int | None = None) -> list[str]:
    """The publication's run, input files with hashes and row reconciliation, methodology
    hash, validation summary and code version."""
    with open_warehouse(home) as con:
        publication = find_publication(con, round_id, version)
        runs = _records(con, "select * from meta.runs where run_id = ?", [publication["run_id"]])
        files = _input_files(con, publication["run_id"])
        checks = con.execute(
            "select suite, count(*), count(*) filter (where not success) "
            "from meta.validation_results where run_id = ? group by suite order by suite",
            [publication["run_id"]],
        ).fetchall()
        quarantined = con.execute(
            "select count(*) from meta.quarantine where run_id = ? and rule <> 'duplicate_row'",
            [publication["run_id"]],
        ).fetchone()[0]
    run = runs[0] if runs else {}
    lines = [
        f"{_label(publication)}: {publication['n_firms']} firms, published "
        f"{publication['published_at']:%Y-%m-%d %H:%M:%S %Z} ({publication['reason']})",
        f"content sha256      {publication['content_sha256']}",
        f"methodology sha256  {publication['methodology_sha256']}",
        f"code version        {publication['code_version']}",
        f"run                 {publication['run_id']} ({run.get('flow_name') or 'survey-round'}, "
        f"started {_when(run.get('started_at'))}, finished {_when(run.get('finished_at'))})",
    ]
    versions = run.get("package_versions")
    if versions:
        packages = json.loads(versions) if isinstance(versions, str) else versions
        lines.append(
            "packages            " + ", ".join(f"{name} {v}" for name, v in packages.items())
        )
    lines.append(f"input files ({len(files)}):")
    for row in files:
        reconciled = (
            f"{row['rows_read']} rows read = {row['rows_accepted']} accepted + "
            f"{row['rows_quarantined']} quarantined"
        )
        status = "" if row["status"] == "read" else f" [{row['status']}: {row['message']}]"
        lines.append(f"  {row['file_name']}  sha256 {row['sha256']}  {reconciled}{status}")
    lines.append(f"quarantined cells or rows: {quarantined}")
    lines.append(
        "checks: " + "; ".join(f"{suite} {n - failed}/{n} passed" for suite, n, failed in checks)
    )
    return lines


def _when(value: Any) -> str:
    return "?" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


# ----------------------------------------------------------------------- archived inputs


@contextmanager
def restored_inputs(
    home: Path, round_id: str, files: list[dict[str, Any]], exports: bool = False
) -> Iterator[list[Path]]:
    """The archived files of a run, copied into a scratch folder as ingest reads them;
    yields the input paths (deleted afterwards)."""
    with tempfile.TemporaryDirectory(prefix="thio-audit-") as scratch:
        yield restore_inputs(home, round_id, files, Path(scratch), exports=exports)


def _plain_name(name: str) -> str | None:
    """``name`` when it is a plain file or folder name we may recreate, else None."""
    return name if _PLAIN_NAME.fullmatch(name) and name not in (".", "..") else None


def restore_inputs(
    home: Path,
    round_id: str,
    files: list[dict[str, Any]],
    target: Path,
    keep_names: bool = False,
    exports: bool = False,
) -> list[Path]:
    """Copy the archived files of a run into ``target`` as ingest reads them; returns the
    input paths. A file whose archived bytes no longer have the recorded sha256 is refused:
    it was changed after the run. ``keep_names`` recreates the original names (a workbook's
    file name, a CSV file's folder) where they are plain names, so that a re-run reports
    the files as the first run did; otherwise files are named by their sha256. ``exports``:
    the files are survey-tool exports read through a mapping (a CSV file is one export, not
    a sheet)."""
    import hashlib

    archive = Path(home) / "raw" / check_round_id(round_id)
    inputs: list[Path] = []
    for number, row in enumerate(files):
        if row["status"] != "read":
            continue
        sha256 = str(row["sha256"])
        if not _SHA256.fullmatch(sha256):
            raise ThioError(f"meta.input_files: {row['file_name']} has no valid sha256")
        found = sorted(archive.glob(f"{sha256}.*"))
        if not found:
            raise ThioError(
                f"{row['file_name']}: archived copy raw/{round_id}/{sha256}.* is missing"
            )
        source = found[0]
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        if digest != sha256:
            raise ThioError(
                f"{row['file_name']}: archived copy {source.name} was changed after the run "
                f"(its sha256 is now {digest})"
            )
        parts = str(row["file_name"]).split("/")
        sheets = [sheet for sheet in (row["sheets"] or "").split(",") if sheet in SHEETS]
        if source.suffix == ".csv" and not exports:
            if len(sheets) != 1:
                raise ThioError(f"{row['file_name']}: archived CSV file without its sheet")
            folder_name = _plain_name(parts[0]) if keep_names and len(parts) == 2 else None
            folder = target / (folder_name or f"input-{number}")
            if folder not in inputs:
                folder.mkdir(parents=True, exist_ok=True)
                inputs.append(folder)
            destination = folder / f"{sheets[0]}.csv"
        else:
            name = _plain_name(parts[-1]) if keep_names and len(parts) == 1 else None
            if name is None or Path(name).suffix.lower() != source.suffix:
                name = f"{sha256}{source.suffix}"
            destination = target / name
            inputs.append(destination)
        if destination.exists():
            raise ThioError(f"{row['file_name']}: two archived files restore to one name")
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    return inputs


# ----------------------------------------------------------------------- trace


def trace_lines(home: Path, round_id: str, firm_id: str, version: int | None = None) -> list[str]:
    """Every published number of the firm, with the input rows it came from (file, sheet,
    row number, original values), the AHP matrices used and the beta source."""
    from thio.ingest import ingest_inputs

    with open_warehouse(home) as con:
        publication = find_publication(con, round_id, version)
        key = [publication["round_id"], publication["version"], firm_id]
        firm = _records(
            con,
            "select * from marts.firm_tcc where round_id = ? and version = ? and firm_id = ?",
            key,
        )
        components = _records(
            con,
            "select * from marts.firm_component where round_id = ? and version = ? "
            "and firm_id = ? order by position(component in 'THIO')",
            key,
        )
        files = _input_files(con, publication["run_id"])
        mapping = run_mapping(con, home, publication["run_id"])
        quarantine = _records(
            con,
            "select file_name, sheet, row_number, column_name, value, rule, message "
            "from meta.quarantine where run_id = ? and firm_id = ? order by all",
            [publication["run_id"], firm_id],
        )
        matrices: list[dict[str, Any]] = []
        if firm:
            scope = (
                ("firm", firm_id)
                if firm[0]["beta_source"].startswith("firm")
                else ("panel", firm[0]["sector_code"])
            )
            matrices = _records(
                con,
                "select * from marts.ahp_matrices where round_id = ? and version = ? "
                "and scope_type = ? and scope_id = ? order by matrix_kind desc, respondent",
                [publication["round_id"], publication["version"], *scope],
            )
    if not firm and not quarantine:
        raise ThioError(f"firm {firm_id} is not in {_label(publication)}")
    lines = [f"firm {firm_id}, {_label(publication)}"]
    if firm:
        row = firm[0]
        lines.append(
            f"  TCC {row['tcc']:.6f}  class {row['tcc_class']}  level {row['technology_level']}  "
            f"priority {row['priority']}"
        )
        lines.append(
            "  components  "
            + "  ".join(f"{code.upper()} {row[code]:.6f}" for code in ("t", "h", "i", "o"))
        )
        lines.append(
            "  betas       "
            + "  ".join(
                f"{code.upper()} {row[f'beta_{code}']:.6f}" for code in ("t", "h", "i", "o")
            )
            + f"  source {row['beta_source']}"
            + ("" if row["ahp_cr"] is None else f"  CR {row['ahp_cr']:.6f}")
        )
        for component in components:
            lines.append(
                f"  {component['component']}: contribution {component['contribution']:.6f}, "
                f"sota {component['sota']:.6f}, ll_min {component['ll_min']}, "
                f"ul_max {component['ul_max']}, {component['n_items']} items"
            )
    else:
        lines.append("  excluded from the indicators (see the quarantined rows below)")
    for matrix in matrices:
        who = matrix["respondent"] or "aggregate"
        cells = " ".join(f"{matrix[f'a_{r}{c}']:.4g}" for r in "thio" for c in "thio")
        lines.append(
            f"  AHP {matrix['scope_type']} {matrix['scope_id']} {who}: CR {matrix['cr']:.6f}"
            f" ({'consistent' if matrix['consistent'] else 'inconsistent'}"
            f"{', used' if matrix['used'] else ''}); matrix T,H,I,O rows: {cells}"
        )
    lines.append("  input rows:")
    by_sha = {row["sha256"]: row["file_name"] for row in files}
    exports = mapping is not None
    with restored_inputs(home, publication["round_id"], files, exports) as inputs:
        if inputs:
            with tempfile.TemporaryDirectory(prefix="thio-trace-") as work:
                ingest = ingest_inputs(
                    inputs, publication["round_id"], Path(work), Path(work), mapping
                )
                lines += _firm_rows(Path(work), ingest, firm_id, by_sha)
    for row in quarantine:
        lines.append(
            f"  quarantined: {row['file_name']}, sheet {row['sheet']}, row {row['row_number']}, "
            f"column {row['column_name'] or '-'}: {row['message']}"
        )
    return lines


def _firm_rows(
    work: Path, ingest: dict[str, Any], firm_id: str, by_sha: dict[str, str]
) -> list[str]:
    lines = []
    with duckdb.connect() as con:
        for sheet in _CONTENT_SHEETS:
            relative = ingest["raw"].get(sheet)
            if relative is None or not (work / relative).exists():
                continue
            columns = [name for name in SHEETS[sheet].column_names if name != "firm_id"]
            cursor = con.execute(
                "select * from read_parquet(?) where firm_id = ? order by _file, _row",
                [str(work / relative), firm_id],
            )
            names = [column[0] for column in cursor.description]
            for values in cursor.fetchall():
                row = dict(zip(names, values, strict=True))
                cells = ", ".join(
                    f"{name}={row[name]}" for name in columns if row.get(name) is not None
                )
                source = by_sha.get(row["_file_sha256"], row["_file"])
                lines.append(f"    {source}, sheet {row['_sheet']}, row {row['_row']}: {cells}")
    return lines


# ----------------------------------------------------------------------- diff


def diff_lines(home: Path, round_id: str, from_version: int, to_version: int) -> list[str]:
    """Firms added, removed and changed between two versions, with old and new TCC and class."""
    with open_warehouse(home) as con:
        old = find_publication(con, round_id, from_version)
        new = find_publication(con, round_id, to_version)
        rows = con.execute(
            "with old as (select * from marts.firm_tcc where round_id = ? and version = ?), "
            "new as (select * from marts.firm_tcc where round_id = ? and version = ?) "
            "select coalesce(old.firm_id, new.firm_id) as firm_id, old.tcc, new.tcc, "
            "old.tcc_class, new.tcc_class, old.priority, new.priority "
            "from old full join new on old.firm_id = new.firm_id order by 1",
            [old["round_id"], old["version"], new["round_id"], new["version"]],
        ).fetchall()
    added, removed, changed = [], [], []
    for firm_id, tcc_old, tcc_new, class_old, class_new, prio_old, prio_new in rows:
        if tcc_old is None:
            added.append(f"  + {firm_id}: TCC {tcc_new:.6f} {class_new}")
        elif tcc_new is None:
            removed.append(f"  - {firm_id}: TCC {tcc_old:.6f} {class_old}")
        elif abs(tcc_new - tcc_old) > SAME_VALUE or class_old != class_new or prio_old != prio_new:
            change = f"  ~ {firm_id}: TCC {tcc_old:.6f} -> {tcc_new:.6f} ({tcc_new - tcc_old:+.6f})"
            change += f", class {class_old} -> {class_new}" if class_old != class_new else ""
            change += f", priority {prio_old} -> {prio_new}" if prio_old != prio_new else ""
            changed.append(change)
    lines = [
        f"round {old['round_id']}: version {old['version']} -> {new['version']}: "
        f"{len(added)} added, {len(removed)} removed, {len(changed)} changed, "
        f"{len(rows) - len(added) - len(removed) - len(changed)} unchanged"
    ]
    return lines + added + removed + changed


# ----------------------------------------------------------------------- verify


def verify_publication(
    home: Path, round_id: str, version: int | None = None
) -> tuple[bool, list[str]]:
    """Check everything the version depends on: recompute it from its archived raw files and
    archived methodology (and mapping) in a scratch folder and compare with the recorded
    content_sha256; check that the published rows still hash to it, that the archived
    methodology and mapping files still hash to their names, and that the latest.* views are
    as publish makes them. Returns (ok, lines); the lines name the first differing table and
    key, file or view. A warehouse of a newer layout than this code's is refused
    (ThioError)."""
    from thio.publish import (
        check_schema_version,
        content_sha256,
        latest_view_definitions,
        latest_views,
    )

    home = Path(home)
    with open_warehouse(home) as con:
        check_schema_version(con)
        publication = find_publication(con, round_id, version)
        files = _input_files(con, publication["run_id"])
        mapping_sha256 = run_mapping_sha256(con, publication["run_id"])
        views = latest_views(con)
    label = _label(publication)
    recorded = publication["content_sha256"]
    lines = [f"{label}: recorded content sha256 {recorded}"]

    with tempfile.TemporaryDirectory(prefix="thio-verify-") as scratch:
        published_copy = Path(scratch) / "version.duckdb"
        with duckdb.connect(str(published_copy)) as copy:
            _copy_version(copy, home, publication)
            published_digest = content_sha256(copy, "marts")
        ok_published = published_digest == recorded
        lines.append(
            f"published rows      {published_digest} "
            + ("match" if ok_published else "DIFFER: the published rows were changed")
        )
        archives = [("methodology", str(publication["methodology_sha256"]))]
        archives += [("mapping", mapping_sha256)] if mapping_sha256 else []
        ok_archives = True
        for kind, sha256 in archives:
            problem = archive_problem(home, kind, sha256)
            ok_archives = ok_archives and problem is None
            lines.append(
                f"{kind + ' archive':<20}{problem or archive_name(kind, sha256) + ' match'}"
            )
        ok_views, view_lines = _views_as_published(views, latest_view_definitions())
        ok_recomputed, difference = False, None
        if not ok_archives:
            lines.append("recomputed          not possible: an archived file is missing or changed")
        else:
            mapping = archive_path(home, "mapping", mapping_sha256) if mapping_sha256 else None
            methodology_file = archive_path(home, "methodology", archives[0][1])
            try:
                compute_db = _recompute(
                    home, publication, files, methodology_file, Path(scratch), mapping
                )
            except ThioError as exc:
                compute_db = None
                lines.append(f"recomputed          not possible: {exc}")
            if compute_db is not None:
                with duckdb.connect(str(compute_db), read_only=True) as compute:
                    recomputed = content_sha256(compute, "marts")
                ok_recomputed = recomputed == recorded
                if not ok_recomputed or not ok_published:
                    difference = _first_difference(compute_db, published_copy)
                if not ok_recomputed and difference is None:
                    ok_recomputed = True  # same rows within SAME_VALUE: float rounding
                    lines.append(
                        f"recomputed          {recomputed} same values within {SAME_VALUE:g}"
                    )
                else:
                    lines.append(
                        f"recomputed          {recomputed} {'match' if ok_recomputed else 'DIFFER'}"
                    )
    lines += view_lines
    if difference:
        lines.append(f"first difference: {difference}")
    ok = ok_published and ok_archives and ok_recomputed and ok_views
    lines.append("verified" if ok else "NOT verified")
    return ok, lines


def archive_path(home: Path, kind: str, sha256: str) -> Path:
    """Where a run's methodology or mapping file is archived, by its sha256."""
    from thio.runs import methodology_archive

    if kind == "methodology":
        return methodology_archive(home, sha256)
    return Path(home) / "mappings" / f"{sha256}.yaml"  # thio.mapping archives it there


def archive_name(kind: str, sha256: str) -> str:
    """The archived file, relative to the data home (as printed)."""
    path = archive_path(Path("."), kind, sha256)
    return path.as_posix()


def archive_problem(home: Path, kind: str, sha256: str) -> str | None:
    """What is wrong with the archived methodology or mapping file of that sha256 (missing,
    or bytes that no longer hash to its name), else None."""
    import hashlib

    if not _SHA256.fullmatch(sha256):
        return f"no valid {kind} sha256 recorded ({sha256!r})"
    path = archive_path(home, kind, sha256)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return f"{archive_name(kind, sha256)} is not archived"
    except OSError as exc:
        return f"{archive_name(kind, sha256)} cannot be read: {exc.strerror or exc}"
    if digest != sha256:
        return (
            f"{archive_name(kind, sha256)} was changed after the run (its sha256 is now {digest})"
        )
    return None


def _views_as_published(held: dict[str, str], expected: dict[str, str]) -> tuple[bool, list[str]]:
    """Whether the warehouse's latest.* views are the ones publish makes; one line each that
    is not (a view rewritten, missing or added by hand), or one line saying they match."""
    problems = []
    for name in sorted(set(held) | set(expected)):
        if name not in held:
            problems.append(f"latest views        latest.{name} is missing")
        elif name not in expected:
            problems.append(f"latest views        latest.{name} is not a view publish makes")
        elif held[name] != expected[name]:
            problems.append(
                f"latest views        latest.{name} DIFFERS from what publish makes: "
                "its definition was rewritten"
            )
    return not problems, problems or [f"latest views        {len(expected)} views match"]


def _copy_version(copy: duckdb.DuckDBPyConnection, home: Path, publication: dict) -> None:
    """The version's published rows as marts.* tables of a scratch database."""
    from thio.publish import warehouse_path

    copy.execute("attach ? as warehouse (read_only)", [str(warehouse_path(home))])
    copy.execute("create schema marts")
    for entry in MART_TABLES:
        copy.execute(
            f"create table marts.{entry.name} as select * from warehouse.{entry.qualified} "
            "where round_id = ? and version = ?",
            [publication["round_id"], publication["version"]],
        )
    copy.execute("detach warehouse")


def _recompute(
    home: Path,
    publication: dict,
    files: list[dict],
    methodology_file: Path,
    scratch: Path,
    mapping: Path | None,
) -> Path:
    from thio.ingest import ingest_inputs
    from thio.methodology import load_methodology
    from thio.validation import validate_round
    from thio.warehouse import build_compute_db

    round_id = publication["round_id"]
    methodology = load_methodology(methodology_file)
    work = scratch / "work"
    with restored_inputs(home, round_id, files, mapping is not None) as inputs:
        if not inputs:
            raise ThioError("the run that published it read no file")
        ingest = ingest_inputs(
            inputs, round_id, scratch / "home", work, mapping, limits=methodology.ingest_limits
        )
    if not ingest["ok"]:
        raise ThioError("the archived files no longer form a round")
    validation = validate_round(work, round_id, methodology)
    if validation.get("blocked"):
        raise ThioError(f"the archived files are blocked now: {validation.get('blocked_reason')}")
    return Path(
        build_compute_db(work / "accepted", methodology, work / "compute.duckdb", round_id)[
            "db_path"
        ]
    )


def _first_difference(compute_db: Path, published_copy: Path) -> str | None:
    """The first mart row (catalog order, then key order) whose values differ by more than
    SAME_VALUE, or that is in one database only."""
    with duckdb.connect() as con:
        con.execute("attach ? as recomputed (read_only)", [str(compute_db)])
        con.execute("attach ? as published (read_only)", [str(published_copy)])
        for entry in MART_TABLES:
            found = _table_difference(con, entry)
            if found:
                return found
    return None


def _table_difference(con: duckdb.DuckDBPyConnection, entry: Table) -> str | None:
    # Built from our catalog's names only; no value reaches the SQL text.
    key = [name for name in entry.key if name not in ("round_id", "version")]
    values = [
        (name, kind) for name, kind, _ in entry.columns if name not in (*key, "round_id", "version")
    ]
    on = " and ".join(
        f"recomputed_row.{name} is not distinct from published_row.{name}" for name in key
    )
    tests = [
        (
            f"(abs(recomputed_row.{name} - published_row.{name}) > {SAME_VALUE!r} "
            f"or (recomputed_row.{name} is null) <> (published_row.{name} is null))"
            if kind == "double"
            else f"(recomputed_row.{name} is distinct from published_row.{name})"
        )
        for name, kind in values
    ]
    differing = ", ".join(
        f"case when {test} then '{name}' end" for test, (name, _) in zip(tests, values, strict=True)
    )
    key_select = ", ".join(f"coalesce(recomputed_row.{n}, published_row.{n})" for n in key)
    query = (
        f"select {key_select}, recomputed_row.{key[0]} is null as only_published, "
        f"published_row.{key[0]} is null as only_recomputed, "
        f"list_filter([{differing}], lambda name: name is not null) as columns "
        f"from recomputed.marts.{entry.name} as recomputed_row "
        f"full join published.marts.{entry.name} as published_row on {on} "
        f"where recomputed_row.{key[0]} is null or published_row.{key[0]} is null "
        f"or {' or '.join(tests)} order by all limit 1"
    )
    row = con.execute(query).fetchone()
    if row is None:
        return None
    *key_values, only_published, only_recomputed, columns = row
    key_text = ", ".join(f"{name}={value}" for name, value in zip(key, key_values, strict=True))
    if only_published:
        where = "only in the published rows"
    elif only_recomputed:
        where = "only in the recomputed rows"
    else:
        where = "differs in " + ", ".join(columns)
    return f"marts.{entry.name} ({key_text}): {where}"
