"""The compute step: the accepted frames of a round through the SQL models in ``warehouse/``.

All indicator arithmetic lives in the SQL files; this module only orchestrates. It creates a
fresh DuckDB file with the ``methodology`` tables and the ``landing`` tables, runs the macros
of ``warehouse/macros/`` and then every model ``warehouse/<layer>/<name>.sql`` (layers
staging, intermediate, marts) in dependency order as ``create table <layer>.<name> as ...``.
Models are discovered from the folder; their order comes from the ``<layer>.<name>``
references in their SQL text. Input values only ever reach DuckDB as parameters or through
parquet files, never as SQL text.
"""

from __future__ import annotations

import re
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


def model_order(sql_dir: Path = WAREHOUSE_DIR) -> list[str]:
    """The models of ``sql_dir`` as ``<layer>.<name>``, each after every model it references."""
    models = _models(sql_dir)
    graph: dict[str, set[str]] = {}
    for name, sql in models.items():
        references = {f"{layer}.{relation}" for layer, relation in _REFERENCE.findall(sql)}
        references.discard(name)
        unknown = sorted(references - models.keys())
        if unknown:
            raise ThioError(f"warehouse model {name} references missing {', '.join(unknown)}")
        graph[name] = references
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ThioError(f"warehouse models reference each other in a cycle: {cycle}") from None


def _create_landing(con: duckdb.DuckDBPyConnection, accepted_dir: Path, round_id: str) -> None:
    con.execute("create schema landing")
    for sheet in SHEETS.values():
        columns = landing_columns(sheet)
        # names and types come from thio.contract, never from the input
        definition = ", ".join(f'"{name}" {kind}' for name, kind in columns)
        con.execute(f"create table landing.{sheet.name} ({definition})")
        path = accepted_dir / f"{sheet.name}.parquet"
        if not path.exists():
            continue
        described = con.execute("describe select * from read_parquet(?)", [str(path)])
        present = {row[0] for row in described.fetchall()}
        selected = ", ".join(f'"{name}"' for name, _ in columns if name in present)
        if selected:
            con.execute(
                f"insert into landing.{sheet.name} by name select {selected} from read_parquet(?)",
                [str(path)],
            )
    con.execute("create table landing.run (round_id varchar)")
    con.execute("insert into landing.run values (?)", [round_id])


def build_compute_db(
    accepted_dir: Path, methodology: Methodology, db_path: Path, round_id: str
) -> dict[str, Any]:
    """Build the round's compute database at ``db_path`` from its accepted parquet files.

    A file already at ``db_path`` is replaced. Creates the ``methodology`` tables, one
    ``landing.<sheet>`` table per contract sheet (empty when ``<sheet>.parquet`` is absent
    from ``accepted_dir``), ``landing.run(round_id)``, the macros, and every model of
    ``warehouse/``. Returns a JSON-able summary: the database path, the round, the models in
    build order and the row count of every mart.
    """
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    order = model_order(WAREHOUSE_DIR)
    models = _models(WAREHOUSE_DIR)
    con = duckdb.connect(str(db_path))
    try:
        install_methodology(con, methodology)
        _create_landing(con, Path(accepted_dir), round_id)
        for path in sorted((WAREHOUSE_DIR / "macros").glob("*.sql")):
            con.execute(path.read_text(encoding="utf-8"))
        for layer in LAYERS:
            con.execute(f"create schema {layer}")
        for name in order:
            query = models[name].strip().rstrip(";")
            try:
                con.execute(f"create table {name} as\n{query}\n")
            except duckdb.Error as exc:
                raise ThioError(f"warehouse model {name} failed: {exc}") from exc
        marts = {
            name.split(".", 1)[1]: con.execute(f"select count(*) from {name}").fetchone()[0]
            for name in order
            if name.startswith("marts.")
        }
        con.execute("checkpoint")
    finally:
        con.close()
    return {"db_path": str(db_path), "round_id": round_id, "models": order, "marts": marts}


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
