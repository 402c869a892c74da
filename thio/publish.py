"""Publish a computed round into the versioned warehouse, atomically.

The published file ``<home>/warehouse.duckdb`` is never written in place. A run copies it to
a build file, appends its rows there in one transaction, checkpoints, and renames the build
file over the published one. Analysts' read-only connections keep the file they opened;
new connections see the new version whole. The previous file is kept as
``warehouse.previous.duckdb``. An exclusive lock on ``<home>/.warehouse.lock`` makes writers
take turns.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from thio.catalog import (
    ALL_TABLES,
    CROSS_ROUND_TABLES,
    MART_TABLES,
    SCHEMA_VERSION,
    Table,
    table,
)
from thio.errors import ThioError
from thio.housekeeping import remove_finished_work
from thio.lock import writer_lock
from thio.methodology import Methodology

WAREHOUSE_FILE = "warehouse.duckdb"
PREVIOUS_FILE = "warehouse.previous.duckdb"
PUBLISH_SQL_DIR = Path(__file__).resolve().parent.parent / "warehouse" / "publish"
# Doubles enter the content hash rounded to this many decimals, so that the last-bit noise
# of parallel floating-point sums never changes a hash (docs/ARCHITECTURE.md).
HASH_DECIMALS = 10
# Doubles at least this large (or not finite) enter the hash as DuckDB's text of them
# instead: round(x * 10^HASH_DECIMALS) must stay within a hugeint. No indicator comes near.
HASH_MAX_MAGNITUDE = 1e18
# A re-run whose doubles all lie this close to the current version's is the same result:
# DuckDB's parallel sums differ in the last bits between runs, and once in a while that
# noise straddles a rounding step of the hash. The method asks for 1e-6.
SAME_RESULT_TOLERANCE = 1e-9
# A run of one of these statuses publishes nothing (rounds.publish_run's verdicts).
UNPUBLISHED_STATUSES = ("blocked", "held", "rejected")


def warehouse_path(home: Path) -> Path:
    """The published warehouse file of a home."""
    return Path(home) / WAREHOUSE_FILE


def _literal(text: str) -> str:
    """A SQL string literal of our own catalog text (COMMENT ON takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _catalog_state(con: duckdb.DuckDBPyConnection) -> tuple[dict, dict]:
    """What the warehouse holds now: {(schema, relation): comment} of tables and views and
    {(schema, relation, column): comment} of their columns."""
    # only the warehouse's own catalog: an attached compute database has a marts schema too
    relations = {
        (schema, name): comment
        for schema, name, comment in con.execute(
            "select schema_name, table_name, comment from duckdb_tables() "
            "where database_name = current_database() and schema_name in ('meta', 'marts') "
            "union all select schema_name, view_name, comment from duckdb_views() "
            "where database_name = current_database() and schema_name = 'latest' "
            "and not internal"
        ).fetchall()
    }
    columns = {
        (schema, table, column): comment
        for schema, table, column, comment in con.execute(
            "select schema_name, table_name, column_name, comment from duckdb_columns() "
            "where database_name = current_database() "
            "and schema_name in ('meta', 'marts', 'latest')"
        ).fetchall()
    }
    return relations, columns


def _comment(con, kind: str, target: str, text: str, now: str | None) -> None:
    """COMMENT ON only where the comment differs (each statement costs a catalog write)."""
    if now != text:
        con.execute(f"comment on {kind} {target} is {_literal(text)}")


def _create_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Create what the catalog has and the warehouse lacks (schemas, tables, columns added by
    a later release, comments); returns whether a table or column was added. Touches nothing
    that is already as the catalog says, so a publication writes no schema it need not.
    Refuses a warehouse of a newer layout (meta.schema_version) before touching anything."""
    check_schema_version(con)
    relations, columns = _catalog_state(con)
    changed = False
    for schema in sorted({entry.schema for entry in ALL_TABLES}):
        con.execute(f"create schema if not exists {schema}")
    for entry in ALL_TABLES:
        key = (entry.schema, entry.name)
        if key not in relations:
            definition = ", ".join(f"{name} {kind}" for name, kind, _ in entry.columns)
            con.execute(f"create table {entry.qualified} ({definition})")
            changed = True
        for name, kind, _ in entry.columns:
            if key in relations and (*key, name) not in columns:
                # a warehouse published by an earlier release gains the columns added since
                con.execute(f"alter table {entry.qualified} add column {name} {kind}")
                changed = True
        _comment(con, "table", entry.qualified, entry.comment, relations.get(key))
        for name, _, comment in entry.columns:
            target = f"{entry.qualified}.{name}"
            _comment(con, "column", target, comment, columns.get((*key, name)))
    if schema_version(con) != SCHEMA_VERSION:
        from thio.runinfo import code_version

        con.execute("delete from meta.schema_version")
        con.execute(
            "insert into meta.schema_version (schema_version, code_version, updated_at) "
            "values (?, ?, ?)",
            [SCHEMA_VERSION, code_version(), datetime.now(UTC)],
        )
    return changed


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The layout version the warehouse was last written with (0: before versioning)."""
    found = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'meta' and table_name = 'schema_version'"
    ).fetchone()[0]
    if not found:
        return 0
    version = con.execute("select max(schema_version) from meta.schema_version").fetchone()[0]
    return int(version or 0)


def check_schema_version(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a warehouse written by a newer thio: its layout may mean what this code would
    misread, and rows written by this code could break it."""
    found = schema_version(con)
    if found > SCHEMA_VERSION:
        raise ThioError(newer_schema_message(found))


def newer_schema_message(found: int) -> str:
    """The one line that refuses a warehouse of layout version ``found``."""
    return (
        f"the warehouse has schema version {found}, newer than this thio's "
        f"{SCHEMA_VERSION}: upgrade thio to write or verify it"
    )


_CURRENT_VERSIONS = (
    "select round_id, max(version) as version from meta.publications "
    "where status = 'published' group by round_id"
)


def latest_view_query(entry: Table) -> str:
    """The query of the view latest.<name> of a mart: each round's current published version
    (a cross-round mart is one version already)."""
    if entry in CROSS_ROUND_TABLES:
        return f"select * from {entry.qualified}"
    selected = ", ".join(f"mart.{name}" for name in entry.column_names)
    return (
        f"select {selected} from {entry.qualified} as mart "
        f"inner join ({_CURRENT_VERSIONS}) as current_version "
        "on mart.round_id = current_version.round_id "
        "and mart.version = current_version.version"
    )


@functools.cache
def latest_view_definitions() -> dict[str, str]:
    """{view name: the SQL text DuckDB keeps for it} of every latest.* view as publish makes
    it. DuckDB keeps a view's text re-rendered in its own spelling, so the text is taken
    from the views built once per process in an empty in-memory database."""
    with duckdb.connect() as con:
        for schema in sorted({entry.schema for entry in ALL_TABLES} | {"latest"}):
            con.execute(f"create schema if not exists {schema}")
        for entry in ALL_TABLES:
            definition = ", ".join(f"{name} {kind}" for name, kind, _ in entry.columns)
            con.execute(f"create table {entry.qualified} ({definition})")
        for entry in MART_TABLES + CROSS_ROUND_TABLES:
            con.execute(f"create view latest.{entry.name} as {latest_view_query(entry)}")
        return latest_views(con)


def latest_views(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """{view name: SQL text} of the latest.* views the connected warehouse holds."""
    return dict(
        con.execute(
            "select view_name, sql from duckdb_views() where database_name = "
            "current_database() and schema_name = 'latest' and not internal"
        ).fetchall()
    )


def _create_latest_views(con: duckdb.DuckDBPyConnection, tables_changed: bool = True) -> None:
    """The latest.* views (re)made when a table changed or a view is missing or is not what
    publish makes (rewritten by hand: a tampered view never outlives the next write); views
    publish does not make are dropped from latest."""
    relations, columns = _catalog_state(con)
    con.execute("create schema if not exists latest")
    expected = latest_view_definitions()
    held = latest_views(con)
    for name in sorted(set(held) - set(expected)):
        con.execute(f'drop view latest."{name.replace(chr(34), chr(34) * 2)}"')
    for entry in MART_TABLES + CROSS_ROUND_TABLES:
        if tables_changed or held.get(entry.name) != expected[entry.name]:
            query = latest_view_query(entry)
            con.execute(f"create or replace view latest.{entry.name} as {query}")
            relations.pop(("latest", entry.name), None)
            columns = {
                key: value for key, value in columns.items() if key[:2] != ("latest", entry.name)
            }
        comment = entry.comment
        if entry in MART_TABLES:
            comment = f"{comment} Current published version of every round."
        _comment(
            con, "view", f"latest.{entry.name}", comment, relations.get(("latest", entry.name))
        )
        for name, _, column_comment in entry.columns:
            now = columns.get(("latest", entry.name, name))
            _comment(con, "column", f"latest.{entry.name}.{name}", column_comment, now)


def _hash_expression(entry: Table, source: str) -> str:
    """SQL text of one canonical line per row of a mart (our own column names only): the
    mart's name and every catalog column but ``version``, joined by ``|`` (see
    docs/ARCHITECTURE.md, "Content hash")."""
    parts = [f"'{entry.name}'"]
    for name, kind, _ in entry.columns:
        if name == "version":
            continue
        if kind == "double":
            # x rounded to HASH_DECIMALS decimals, written as the integer round(x * 10^d):
            # the same rounding as a fixed-point text, at a third of printf's cost
            scaled = f"round({name} * 1e{HASH_DECIMALS})"
            parts.append(
                f"coalesce(case when abs({name}) < {HASH_MAX_MAGNITUDE!r} "
                f"then cast(cast({scaled} as hugeint) as varchar) "
                f"else cast({name} as varchar) end, '')"
            )
        else:
            parts.append(f"coalesce(cast({name} as varchar), '')")
    return f"select concat_ws('|', {', '.join(parts)}) as line from {source}"


def _text_digest(lines: pa.Table) -> str:
    """sha256 of the text values of a one-column Arrow table, concatenated as they are."""
    digest = hashlib.sha256()
    for chunk in lines.column(0).chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            chunk = chunk.cast(pa.large_string())
        if len(chunk) == 0:
            continue
        _, offsets, data = chunk.buffers()
        width = 8 if pa.types.is_large_string(chunk.type) else 4
        bounds = np.frombuffer(
            offsets, dtype=f"<i{width}", count=len(chunk) + 1, offset=chunk.offset * width
        )
        digest.update(memoryview(data)[int(bounds[0]) : int(bounds[-1])])
    return digest.hexdigest()


def content_sha256(con: duckdb.DuckDBPyConnection, schema: str) -> str:
    """sha256 of the marts in ``schema`` (docs/ARCHITECTURE.md, "Content hash"): per mart,
    the sha256 of its canonical lines (one per row, sorted bytewise, each ended by a
    newline); then the sha256 of the "name:digest" lines of the marts in catalog order."""
    with ThreadPoolExecutor(max_workers=len(MART_TABLES)) as pool:
        return _started_content_sha256(con, schema, pool)()


def _started_content_sha256(
    con: duckdb.DuckDBPyConnection, schema: str, pool: ThreadPoolExecutor
) -> Callable[[], str]:
    """Start hashing the marts in ``schema`` in ``pool``; returns the call that waits for the
    content hash. Each mart is hashed on its own cursor, made here, in the calling thread, so
    that ``con`` may go on running statements meanwhile (DuckDB sorts and Arrow and hashlib
    work without the GIL)."""
    cursors = [con.cursor() for _ in MART_TABLES]

    def mart_digest(entry: Table, cursor: duckdb.DuckDBPyConnection) -> str:
        try:
            lines = _hash_expression(entry, f"{schema}.{entry.name}")
            query = f"select line || chr(10) as ended from ({lines}) order by line"
            return _text_digest(cursor.sql(query).to_arrow_table())
        finally:
            cursor.close()

    futures = [
        pool.submit(mart_digest, entry, cursor)
        for entry, cursor in zip(MART_TABLES, cursors, strict=True)
    ]

    def result() -> str:
        summary = "".join(
            f"{entry.name}:{future.result()}\n"
            for entry, future in zip(MART_TABLES, futures, strict=True)
        )
        return hashlib.sha256(summary.encode()).hexdigest()

    return result


def _insert_rows(
    con: duckdb.DuckDBPyConnection, target: Table, columns: list[str], rows: list[list[Any]]
) -> None:
    """Insert ``rows`` (values of ``columns``) into ``target`` in one statement: a statement
    costs about as much as a short insert itself."""
    if not rows:
        return
    placeholders = "(" + ", ".join("?" for _ in columns) + ")"
    con.execute(
        f"insert into {target.qualified} ({', '.join(columns)}) values "
        + ", ".join(placeholders for _ in rows),
        [value for row in rows for value in row],
    )


def _insert_inputs(
    con: duckdb.DuckDBPyConnection,
    run: dict[str, Any],
    file_rows: list[dict[str, Any]],
    quarantine_path: Path | None,
) -> None:
    """The run's meta.input_files, meta.input_sheets and meta.quarantine rows."""
    for qualified, is_file in (("meta.input_files", True), ("meta.input_sheets", False)):
        target = table(qualified)
        rows = [
            [row.get(name) for name in target.column_names]
            for row in file_rows
            if (row.get("sheet") is None) == is_file
        ]
        _insert_rows(con, target, list(target.column_names), rows)
    if quarantine_path is not None and quarantine_path.exists():
        con.execute(
            "insert into meta.quarantine (run_id, round_id, file_name, file_sha256, sheet, "
            "row_number, column_name, value, rule, message, firm_id) "
            "select ?, ?, _file, _file_sha256, _sheet, _row, column_name, value, rule, message, "
            "firm_id from read_parquet(?)",
            [run["run_id"], run["round_id"], str(quarantine_path)],
        )


def _insert_validation_results(
    con: duckdb.DuckDBPyConnection, run: dict[str, Any], results: list[dict[str, Any]]
) -> None:
    columns = ["run_id", "round_id", "suite", "check_name", "success", "observed"]
    columns += ["unexpected_count"]
    rows = [
        [
            run["run_id"],
            run["round_id"],
            result["suite"],
            result["check_name"],
            bool(result["success"]),
            None if result.get("observed") is None else str(result["observed"]),
            result.get("unexpected_count"),
        ]
        for result in results
    ]
    _insert_rows(con, table("meta.validation_results"), columns, rows)


def _current_version(
    con: duckdb.DuckDBPyConnection, round_id: str
) -> tuple[int, int | None, str | None]:
    """(highest version of the round, its current published version, that version's hash)."""
    highest = con.execute(
        "select coalesce(max(version), 0) from meta.publications where round_id = ?", [round_id]
    ).fetchone()[0]
    current = con.execute(
        "select version, content_sha256 from meta.publications where round_id = ? "
        "and status = 'published' order by version desc limit 1",
        [round_id],
    ).fetchone()
    return int(highest), *(current if current else (None, None))


def _matches_version(con: duckdb.DuckDBPyConnection, round_id: str, version: int) -> bool:
    """Whether the computed marts equal a published version's rows, doubles within
    SAME_RESULT_TOLERANCE (parallel sums differ in the last bits between runs)."""
    for entry in MART_TABLES:
        key = [name for name in entry.key if name not in ("round_id", "version")]
        differs = []
        for name, kind, _ in entry.columns:
            if name in ("round_id", "version") or name in key:
                continue
            if kind == "double":
                differs.append(
                    f"coalesce(abs(new.{name} - old.{name}) > {SAME_RESULT_TOLERANCE!r}, "
                    f"new.{name} is distinct from old.{name})"
                )
            else:
                differs.append(f"new.{name} is distinct from old.{name}")
        joined = " and ".join(f"new.{name} is not distinct from old.{name}" for name in key)
        query = (
            f"select count(*) from compute.marts.{entry.name} as new "
            f"full outer join (select * from {entry.qualified} where round_id = ? "
            f"and version = ?) as old on {joined} "
            f"where new.{key[0]} is null or old.{key[0]} is null or {' or '.join(differs)}"
        )
        if con.execute(query, [round_id, version]).fetchone()[0]:
            return False
    return True


def _append_marts(con: duckdb.DuckDBPyConnection, round_id: str, version: int) -> None:
    for entry in MART_TABLES:
        columns = [name for name in entry.column_names if name not in ("round_id", "version")]
        selected = ", ".join(columns)
        con.execute(
            f"insert into {entry.qualified} (round_id, version, {selected}) "
            f"select ?, ?, {selected} from compute.marts.{entry.name}",
            [round_id, version],
        )


def _rebuild_cross_round(con: duckdb.DuckDBPyConnection) -> None:
    for entry in CROSS_ROUND_TABLES:
        query = (PUBLISH_SQL_DIR / f"{entry.name}.sql").read_text(encoding="utf-8")
        con.execute(f"delete from {entry.qualified}")
        con.execute(f"insert into {entry.qualified} by name {query}")


@dataclass(frozen=True)
class StagedVersion:
    """A computed round to publish as the round's next version: its compute database and
    what meta.publications records about where the rows came from."""

    compute_db: Path
    run_id: str  # the run that computed the rows (a held run's, for a release)
    methodology_sha256: str
    code_version: str
    input_files: int  # input files read
    released_by: str | None = None
    release_reason: str | None = None


def _publish_version(
    con: duckdb.DuckDBPyConnection,
    round_id: str,
    staged: StagedVersion,
    digest: Callable[[], str],
    result: dict[str, Any],
) -> None:
    """Append the attached compute database's marts as the round's next version, unless they
    equal its current version; ``digest`` waits for their content hash. Fills ``result``."""
    highest, current, current_digest = _current_version(con, round_id)
    n_firms = con.execute("select count(*) from compute.marts.firm_tcc").fetchone()[0]
    result.update(n_firms=int(n_firms))
    if current is not None:
        # only a round with a current version needs the hash before it appends anything
        result.update(content_sha256=digest())
        if result["content_sha256"] == current_digest or _matches_version(con, round_id, current):
            result.update(status="unchanged", version=current, content_sha256=current_digest)
            return
    version = highest + 1
    _append_marts(con, round_id, version)
    result.update(content_sha256=digest(), status="published", version=version)
    reason = "first version" if highest == 0 else "changed input or method"
    con.execute(
        "insert into meta.publications (round_id, version, status, published_at, run_id, "
        "content_sha256, methodology_sha256, code_version, input_files, n_firms, reason, "
        "released_by, release_reason) values (?, ?, 'published', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            round_id,
            version,
            datetime.now(UTC),
            staged.run_id,
            result["content_sha256"],
            staged.methodology_sha256,
            staged.code_version,
            staged.input_files,
            int(n_firms),
            reason,
            staged.released_by,
            staged.release_reason,
        ],
    )
    _rebuild_cross_round(con)


def write_version(
    home: Path,
    round_id: str,
    build_name: str,
    staged: StagedVersion | None,
    record: Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], None],
    status: str | None = None,
) -> dict[str, Any]:
    """The one way a version reaches the warehouse (a run's publication and a release of a
    held run): holding the writer lock, copy the published file to a build file, publish
    ``staged`` there as the round's next version (or "unchanged" when its rows equal the
    current version's), let ``record`` write the meta rows of the write in the same
    transaction (``record(con, result)``; an exception from it undoes everything), and swap
    the build file in with one rename.

    ``status`` is the outcome reported when nothing is staged (the run's blocked, held or
    rejected). Returns {round_id, version, status, n_firms, content_sha256}.
    """
    home = Path(home)
    build_dir = home / ".build"
    build_dir.mkdir(parents=True, exist_ok=True)
    published = warehouse_path(home)
    with writer_lock(home, holder=build_name):
        remove_stale_builds(build_dir)
        build = build_dir / f"warehouse-{build_name}.duckdb"
        if published.exists():
            shutil.copyfile(published, build)
        con = duckdb.connect(str(build))
        try:
            result = {"round_id": round_id, "version": None, "status": status}
            result.update(n_firms=0, content_sha256=None)
            con.execute("begin transaction")
            if staged is not None:
                con.execute("attach ? as compute (read_only)", [str(staged.compute_db)])
                with ThreadPoolExecutor(max_workers=len(MART_TABLES)) as pool:
                    # the hash runs on its own cursors while this connection writes
                    digest = _started_content_sha256(con, "compute.marts", pool)
                    tables_changed = _create_tables(con)
                    _publish_version(con, round_id, staged, digest, result)
            else:
                tables_changed = _create_tables(con)
            record(con, result)
            _create_latest_views(con, tables_changed)
            con.execute("commit")
            # a commit of a version's rows checkpoints by itself (DuckDB skips the WAL for a
            # large commit); a small one, an unchanged re-run, leaves a WAL, which the swap
            # would not carry: fold it into the file
            con.execute("checkpoint")
            runs = con.execute("select run_id, status, started_at from meta.runs").fetchall()
        except BaseException:
            con.close()
            build.unlink(missing_ok=True)
            raise
        con.close()
        _swap_in(build, published, home / PREVIOUS_FILE)
        remove_finished_work(home, runs)
    return result


def insert_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> None:
    """The run's meta.runs row (``run`` as :func:`publish_round` takes it, with its final
    status and finished_at)."""
    from thio.lineage import send_failures

    failures = send_failures(Path(run["home"]), run["run_id"]) if run.get("home") else None
    con.execute(
        "insert into meta.runs (run_id, flow_run_id, flow_name, round_id, started_at, "
        "finished_at, status, parameters, code_version, package_versions, lineage_failures) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run["run_id"],
            run.get("flow_run_id"),
            run.get("flow_name"),
            run["round_id"],
            run["started_at"],
            run["finished_at"],
            run["status"],
            json.dumps(run.get("parameters", {}), sort_keys=True, default=str),
            run["code_version"],
            json.dumps(run.get("package_versions", {}), sort_keys=True),
            failures,
        ],
    )


def publish_round(
    home: Path,
    run: dict[str, Any],
    methodology: Methodology,
    file_rows: list[dict[str, Any]],
    quarantine_path: Path | None,
    compute_db: Path | None,
    validation_results: list[dict[str, Any]] | None = None,
    staged_files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Record the run and, when ``compute_db`` is given, publish its marts as a new version.

    ``run`` holds run_id, round_id, started_at, parameters, code_version, package_versions and
    the run's status so far ("blocked", "held" or "rejected" when nothing may be published).
    ``staged_files`` are the meta.staged_files rows of a held run (what a release publishes
    from). Returns {round_id, version, status, n_firms, content_sha256}: status "published",
    "unchanged" (identical results to the current version: no new version), or the run's
    status.
    """
    staged = None
    if compute_db is not None and run["status"] not in UNPUBLISHED_STATUSES:
        n_files = len(
            {
                row["file_name"]
                for row in file_rows
                if row["sheet"] is None and row["status"] == "read"
            }
        )
        staged = StagedVersion(
            compute_db, run["run_id"], methodology.sha256, run["code_version"], n_files
        )
    # the method's hash with the run, so that a held run's checks can be judged again by the
    # method that ran them (thio release)
    parameters = {**run.get("parameters", {}), "methodology_sha256": methodology.sha256}

    def record(con: duckdb.DuckDBPyConnection, result: dict[str, Any]) -> None:
        finished = {**run, "status": result["status"], "finished_at": datetime.now(UTC)}
        insert_run(con, {**finished, "parameters": parameters})
        _insert_inputs(con, finished, file_rows, quarantine_path)
        _insert_validation_results(con, finished, validation_results or [])
        target = table("meta.staged_files")
        rows = [[row[name] for name in target.column_names] for row in staged_files or []]
        _insert_rows(con, target, list(target.column_names), rows)

    return write_version(home, run["round_id"], run["run_id"], staged, record, run["status"])


def remove_stale_builds(build_dir: Path) -> None:
    """Delete build files a killed run left behind (call holding the writer lock: no other
    writer can be using them)."""
    for path in build_dir.glob("warehouse-*.duckdb*"):
        path.unlink(missing_ok=True)


def _swap_in(build: Path, published: Path, previous: Path) -> None:
    """Make ``build`` the published file in one rename, keeping the old one as ``previous``."""
    with open(build, "rb") as handle:
        os.fsync(handle.fileno())
    if published.exists():
        previous.unlink(missing_ok=True)
        os.link(published, previous)
    os.replace(build, published)
    directory = os.open(published.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
