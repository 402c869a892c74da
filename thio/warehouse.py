"""The compute step: the accepted frames of a round through the SQL models in ``warehouse/``.

All indicator arithmetic lives in the SQL files; this module only orchestrates. It creates an
in-memory DuckDB database with the ``methodology`` tables and the ``landing`` views over the
accepted parquet files, runs the macros of ``warehouse/macros/`` and then every model
``warehouse/<layer>/<name>.sql`` (layers staging, intermediate, marts) in dependency order as
``create view|table <layer>.<name> as ...`` (see :func:`materialisations`), a model as soon as
the ones it references exist (independent models run side by side). Models are discovered
from the folder; their order comes from the ``<layer>.<name>`` references in their SQL text.
Each mart's rows then go to an uncompressed parquet file beside the compute database file
(a scratch copy the audit and publish steps read once: compressing it cost more than writing
the bytes), and the file gets the methodology tables, the landing views, the macros, the
staging views and a view per mart over its parquet file, in one transaction. Input values
only ever reach DuckDB as parameters or through parquet files, never as SQL text; the paths
in SQL text are the run's own files (each landing view's accepted parquet file and each
mart's, as quoted literals: a view's query and a COPY take no parameters), and the compute
file's, as a parameter.
"""

from __future__ import annotations

import re
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb

import warehouse
from thio.contract import SHEETS, landing_columns
from thio.errors import ThioError
from thio.methodology import Methodology, install_methodology

WAREHOUSE_DIR = Path(warehouse.__file__).resolve().parent
LAYERS = ("staging", "intermediate", "marts")
_REFERENCE = re.compile(r"\b(" + "|".join(LAYERS) + r")\.([a-z_][a-z0-9_]*)\b")


def _models(sql_dir: Path) -> dict[str, str]:
    """Every model's SQL text by its relation name ``<layer>.<name>``."""
    return {
        f"{layer}.{path.stem}": path.read_text(encoding="utf-8")
        for layer in LAYERS
        for path in sorted((sql_dir / layer).glob("*.sql"))
    }


def _references(sql_dir: Path) -> dict[str, set[str]]:
    """Every model of ``sql_dir`` with the models its SQL text references."""
    models = _models(sql_dir)
    graph: dict[str, set[str]] = {}
    for name, sql in models.items():
        references = {f"{layer}.{relation}" for layer, relation in _REFERENCE.findall(sql)}
        references.discard(name)
        unknown = sorted(references - models.keys())
        if unknown:
            raise ThioError(f"warehouse model {name} references missing {', '.join(unknown)}")
        graph[name] = references
    return graph


def model_order(sql_dir: Path = WAREHOUSE_DIR) -> list[str]:
    """The models of ``sql_dir`` as ``<layer>.<name>``, each after every model it references."""
    try:
        return list(TopologicalSorter(_references(sql_dir)).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ThioError(f"warehouse models reference each other in a cycle: {cycle}") from None


def materialisations(sql_dir: Path = WAREHOUSE_DIR) -> dict[str, str]:
    """How each model of ``sql_dir`` is created: ``"view"`` or ``"table"``.

    Marts are tables: they are the compute database's result, which the publish step reads.
    Staging models are views: each is a projection of a landing view, and reading the
    parquet file again costs less than a copy of it. An intermediate model is a table only
    when several models read it, so that it is computed once; read by one model, it is a
    view, computed inside that model's query without being stored.
    """
    graph = _references(sql_dir)
    readers = {name: sum(name in upstream for upstream in graph.values()) for name in graph}
    kinds = {}
    for name, count in readers.items():
        layer = name.split(".", 1)[0]
        many = layer == "intermediate" and count > 1
        kinds[name] = "table" if layer == "marts" or many else "view"
    return kinds


def _literal(text: str) -> str:
    """``text`` as a SQL string literal (for a file path: a view's query takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _create_landing(con: duckdb.DuckDBPyConnection, accepted_dir: Path, round_id: str) -> None:
    """One ``landing.<sheet>`` view per contract sheet over its accepted parquet file.

    Each view has exactly the contract's columns and types (a column absent from the file
    reads as null; a sheet without a file is an empty view). The data stays in the parquet
    file: copying it into the database would cost more than reading it where it lies.
    """
    con.execute("create schema landing")
    for sheet in SHEETS.values():
        columns = landing_columns(sheet)
        path = accepted_dir / f"{sheet.name}.parquet"
        present: set[str] = set()
        if path.exists():
            described = con.execute("describe select * from read_parquet(?)", [str(path)])
            present = {row[0] for row in described.fetchall()}
        # names and types come from thio.contract, never from the input
        values = {name: f'"{name}"' if name in present else "null" for name, _ in columns}
        selected = ", ".join(
            f'cast({values[name]} as {kind}) as "{name}"' for name, kind in columns
        )
        source = (
            f"from read_parquet({_literal(str(path.resolve()))})" if path.exists() else "limit 0"
        )
        con.execute(f"create view landing.{sheet.name} as select {selected} {source}")
    con.execute("create table landing.run (round_id varchar)")
    con.execute("insert into landing.run values (?)", [round_id])


def build_compute_db(
    accepted_dir: Path, methodology: Methodology, db_path: Path, round_id: str
) -> dict[str, Any]:
    """Build the round's compute database at ``db_path`` from its accepted parquet files.

    A file already at ``db_path`` is replaced. The models run in an in-memory database
    (:func:`_run_models`), each mart's rows going to ``marts/<mart>.parquet`` beside the
    file as soon as the mart is built (uncompressed: a scratch copy the audit and publish
    steps read once; DuckDB writes it on all cores, in about half the time of storing the
    rows as tables in the file). The file then gets the ``methodology`` tables, one
    ``landing.<sheet>`` view per contract sheet over ``accepted_dir/<sheet>.parquet`` (empty
    when the file is absent; the views read the files, which must stay where they are for as
    long as the database is queried beyond its marts), ``landing.run(round_id)``, the macros
    the staging models as views and a view per mart over its parquet file (what the audit
    and publish steps read; the folder goes with the file), in one transaction; the
    intermediate models, which nothing reads after the build, are not stored. Returns a
    JSON-able summary: the database path, the round, the models in build order, the row
    count of every mart and the results of ``warehouse/checks`` (recorded in
    meta.validation_results).
    """
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    folder = marts_dir(db_path)
    folder.mkdir(exist_ok=True)
    for stale in folder.glob("*.parquet"):
        stale.unlink()
    order = model_order(WAREHOUSE_DIR)
    kinds = materialisations(WAREHOUSE_DIR)
    models = _models(WAREHOUSE_DIR)
    # the path is the run's own folder and a mart's name (never input text)
    files = {
        name: _literal(str((folder / f"{name.split('.', 1)[1]}.parquet").resolve()))
        for name in order
        if name.startswith("marts.")
    }
    con = duckdb.connect()
    try:
        _prepare(con, methodology, Path(accepted_dir), round_id)
        _run_models(con, kinds, models, files)
        marts = {
            name.split(".", 1)[1]: con.execute(f"select count(*) from {name}").fetchone()[0]
            for name in files
        }
        with con.cursor() as checker, ThreadPoolExecutor(max_workers=1) as pool:
            # the checks read the in-memory marts while the file is written
            checking = pool.submit(run_checks, checker)
            staging = {name: models[name] for name in order if name.startswith("staging.")}
            _write_file(con, db_path, staging, files, methodology, Path(accepted_dir), round_id)
            checks = checking.result()
    finally:
        con.close()
    return {
        "db_path": str(db_path),
        "round_id": round_id,
        "models": order,
        "marts": marts,
        "checks": checks,
    }


def _prepare(
    con: duckdb.DuckDBPyConnection, methodology: Methodology, accepted_dir: Path, round_id: str
) -> None:
    """The methodology tables, landing views, macros and layer schemas in ``con``'s
    current database."""
    install_methodology(con, methodology)
    _create_landing(con, accepted_dir, round_id)
    for path in sorted((WAREHOUSE_DIR / "macros").glob("*.sql")):
        con.execute(path.read_text(encoding="utf-8"))
    for layer in LAYERS:
        con.execute(f"create schema {layer}")


# Models created at once, each on its own cursor: one whose upstreams are built starts
# while others run (the AHP eigenvectors, a sequence of small steps that keeps one core
# busy, run beside the SOTA aggregation).
_MODEL_THREADS = 4


def _run_models(
    con: duckdb.DuckDBPyConnection,
    kinds: dict[str, str],
    models: dict[str, str],
    files: dict[str, str],
) -> None:
    """Create every model in ``con`` (in memory) as ``kinds`` says, each as soon as the
    models it references are there; a mart's rows are then copied to its file of ``files``
    (a quoted path)."""
    sorter = TopologicalSorter(_references(WAREHOUSE_DIR))
    sorter.prepare()

    def create(name: str) -> str:
        cursor = con.cursor()
        try:
            query = models[name].strip().rstrip(";")
            cursor.execute(f"create {kinds[name]} {name} as\n{query}\n")
            if name in files:
                cursor.execute(
                    f"copy {name} to {files[name]} (format parquet, compression uncompressed)"
                )
        except duckdb.Error as exc:
            raise ThioError(f"warehouse model {name} failed: {exc}") from exc
        finally:
            cursor.close()
        return name

    with ThreadPoolExecutor(max_workers=_MODEL_THREADS) as pool:
        running: set[Future[str]] = set()
        while sorter.is_active():
            running.update(pool.submit(create, name) for name in sorter.get_ready())
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                sorter.done(future.result())


def marts_dir(db_path: Path) -> Path:
    """The folder of a compute database's mart files: ``marts/`` beside it."""
    return Path(db_path).with_name("marts")


def _write_file(
    con: duckdb.DuckDBPyConnection,
    db_path: Path,
    staging: dict[str, str],
    files: dict[str, str],
    methodology: Methodology,
    accepted_dir: Path,
    round_id: str,
) -> None:
    """Write the compute database file: the methodology tables, the landing views, the
    macros, the ``staging`` models as views (projections of the landing views, which the
    checks of ``warehouse/checks`` read beside the marts) and a view per mart over its
    parquet file of ``files``, in one transaction."""
    con.execute("attach ? as compute_file", [str(db_path)])
    con.execute("use compute_file")
    try:
        con.execute("begin transaction")
        _prepare(con, methodology, accepted_dir, round_id)
        for name, query in staging.items():
            con.execute(f"create view {name} as\n{query.strip().rstrip(';')}\n")
        for name, path in files.items():
            con.execute(f"create view {name} as select * from read_parquet({path})")
        con.execute("commit")
        con.execute("checkpoint")
    finally:
        con.execute("use memory")
        con.execute("detach compute_file")


def _as_text(columns: list[str], row: tuple) -> dict[str, str | None]:
    """A result row as JSON-able text values."""
    pairs = zip(columns, row, strict=True)
    return {column: None if value is None else str(value) for column, value in pairs}


def run_checks(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Run every ``warehouse/checks/*.sql`` on a compute database; one result per check.

    A check's query returns the violating rows, so an empty result passes. Each result has
    suite ("warehouse"), check_name (the file's stem), success, unexpected_count and observed
    (up to five violating rows as dicts of text).
    """
    results = []
    for path in sorted((WAREHOUSE_DIR / "checks").glob("*.sql")):
        cursor = con.execute(path.read_text(encoding="utf-8").strip().rstrip(";"))
        columns = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
        results.append(
            {
                "suite": "warehouse",
                "check_name": path.stem,
                "success": not rows,
                "unexpected_count": len(rows),
                "observed": [_as_text(columns, row) for row in rows[:5]],
            }
        )
    return results
