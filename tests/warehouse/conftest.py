"""Helpers for the warehouse tests: typed accepted parquet files and a built compute database.

The accepted files are what validation hands to the compute step (ARCHITECTURE.md): the
contract columns typed as thio.contract says, plus the provenance columns.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from thio.contract import SHEETS, landing_columns
from thio.methodology import Methodology, load_methodology
from thio.warehouse import build_compute_db

ARROW_TYPES = {
    "varchar": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
}
_counter = itertools.count()


def _typed(kind: str, value: Any) -> Any:
    """A cell as the accepted frame types it (text from a CSV, or a Python value)."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return None
    if kind == "bigint":
        return int(value)
    if kind == "double":
        return float(Fraction(value)) if isinstance(value, str) else float(value)
    if kind == "date":
        return dt.date.fromisoformat(value) if isinstance(value, str) else value
    return str(value)


def write_accepted(directory: Path, sheets: dict[str, Iterable[dict[str, Any]]]) -> Path:
    """Write ``<sheet>.parquet`` for each given sheet (rows as dicts) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in sheets.items():
        columns = landing_columns(SHEETS[name])
        records = []
        for number, row in enumerate(rows, start=2):
            row = dict(row)
            if name == "ahp" and "value_text" not in row:
                row["value_text"] = None if row.get("value") is None else str(row["value"])
            row.update(_file=f"{name}.csv", _file_sha256="0" * 64, _sheet=name, _row=number)
            records.append({column: _typed(kind, row.get(column)) for column, kind in columns})
        schema = pa.schema([(column, ARROW_TYPES[kind]) for column, kind in columns])
        frame = pd.DataFrame(records, columns=[column for column, _ in columns])
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        pq.write_table(table, directory / f"{name}.parquet")
    return directory


def csv_sheets(csv_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The sheets of a CSV round folder as rows of text (blank cells None)."""
    sheets = {}
    for path in sorted(csv_dir.glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        rows = frame.to_dict("records")
        if path.stem == "ahp":
            for row in rows:
                row["value_text"] = row["value"]
        sheets[path.stem] = rows
    return sheets


def with_settings(methodology: Methodology, **changes: Any) -> Methodology:
    """The methodology with some top-level settings (or ``ahp_method``) replaced."""
    settings = dict(methodology.settings)
    if "ahp_method" in changes:
        settings["ahp"] = {**settings["ahp"], "method": changes.pop("ahp_method")}
    settings.update(changes)
    return dataclasses.replace(methodology, settings=settings)


def firm_rows(
    firm_id: str,
    components: dict[str, Any],
    methodology: Methodology,
    sector_code: str = "10",
    region_code: str = "6474",
    sample_weight: float | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """One firm's firms/items/sota rows. ``components`` maps T, H, I, O to one item
    ``(ll, ul, score)`` or a list of items ``(ll, ul, score, weight)``; every criterion of the
    component is scored ``score`` by one (blank) rater, so s = score / 10 on the 0..10 scale
    and c = (ll + s * (ul - ll)) / 9."""
    criteria = methodology.criteria()
    sheets: dict[str, list[dict[str, Any]]] = {
        "firms": [
            {
                "round_id": "2023Q1",
                "firm_id": firm_id,
                "firm_name": f"firm {firm_id}",
                "sector_code": sector_code,
                "region_code": region_code,
                "sample_weight": sample_weight,
                "survey_date": "2023-01-11",
            }
        ],
        "items": [],
        "sota": [],
    }
    for component, spec in components.items():
        items = [(*spec, None)] if isinstance(spec, tuple) else spec
        for number, (ll, ul, score, weight) in enumerate(items, start=1):
            item_id = f"{component}{number}"
            sheets["items"].append(
                {
                    "firm_id": firm_id,
                    "component": component,
                    "item_id": item_id,
                    "weight": weight,
                    "ll": ll,
                    "ul": ul,
                }
            )
            for criterion in criteria[component]:
                sheets["sota"].append(
                    {
                        "firm_id": firm_id,
                        "component": component,
                        "item_id": item_id,
                        "criterion": criterion,
                        "score": score,
                    }
                )
    return sheets


def merge(*parts: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Concatenate sheets' rows across several firm_rows() / extra sheet dicts."""
    merged: dict[str, list[dict[str, Any]]] = {}
    for part in parts:
        for name, rows in part.items():
            merged.setdefault(name, []).extend(rows)
    return merged


def judgments(scope: dict[str, str], respondent: str, values: dict[str, Any]) -> list[dict]:
    """AHP rows of one respondent for a scope ({"firm_id": ..} or {"panel_id": ..}): values
    keyed "TH", "TI", ... (row then col)."""
    return [
        {**scope, "respondent": respondent, "row": pair[0], "col": pair[1], "value": value}
        for pair, value in values.items()
    ]


def weights(scope: dict[str, str], betas: dict[str, float]) -> list[dict]:
    """Given-weights rows for a scope."""
    return [{**scope, "component": component, "beta": beta} for component, beta in betas.items()]


def rows(con: duckdb.DuckDBPyConnection, query: str, *params: Any) -> list[dict[str, Any]]:
    """A query's rows as dicts."""
    cursor = con.execute(query, list(params))
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def by_key(records: list[dict[str, Any]], *key: str) -> dict[Any, dict[str, Any]]:
    """Records indexed by one column (or a tuple of columns)."""
    if len(key) == 1:
        return {record[key[0]]: record for record in records}
    return {tuple(record[column] for column in key): record for record in records}


def write_csv_round(folder: Path, sheets: dict[str, Iterable[dict[str, Any]]]) -> Path:
    """Write sheets of rows as the contract's CSV folder (every cell as text, blank = empty)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in sheets.items():
        columns = SHEETS[name].column_names
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(["" if row.get(col) is None else str(row[col]) for col in columns])
    return folder


def compute_round(
    work: Path,
    sheets: dict[str, Iterable[dict[str, Any]]],
    methodology: Methodology,
    round_id: str = "2023Q1",
    through: str = "sql",
) -> Path:
    """The compute database of a round given as rows, built one of two ways:

    ``sql``: the rows typed straight into accepted files, then the SQL models (one tier);
    ``pipeline``: the rows written as a CSV round and taken through ingest, validation,
    compute and publish, as ``thio run`` does; every row must be accepted and the round
    published, so a hand-made case is also a valid input.
    """
    if through == "sql":
        accepted = write_accepted(work / "accepted", sheets)
        build_compute_db(accepted, methodology, work / "compute.duckdb", round_id)
        return work / "compute.duckdb"
    from thio.ingest import ingest_inputs
    from thio.rounds import publish_run
    from thio.runs import start_run
    from thio.validation import validate_round

    folder = write_csv_round(work / "inputs" / "csv", sheets)
    method_file = work / "methodology.yaml"
    method_file.write_text(yaml.safe_dump(methodology.settings, allow_unicode=True))
    run = start_run(round_id, [str(folder)], str(work / "home"), str(method_file))
    work_dir = Path(run["work_dir"])
    ingest = ingest_inputs([folder], round_id, work / "home", work_dir)
    validation = validate_round(work_dir, round_id, methodology)
    assert validation["n_quarantine_records"] == 0, validation["messages"][:5]
    db_path = work_dir / "compute.duckdb"
    compute = build_compute_db(work_dir / "accepted", methodology, db_path, round_id)
    report = publish_run(run, ingest, validation, compute)
    assert report["publication"]["status"] == "published", report
    return db_path


@pytest.fixture(scope="session", params=["sql", "pipeline"])
def through(request: pytest.FixtureRequest) -> str:
    """Run a hand-made case through the SQL alone and through the whole pipeline."""
    return request.param


@pytest.fixture(scope="session")
def methodology() -> Methodology:
    """The shipped default methodology."""
    return load_methodology()


@contextlib.contextmanager
def _builder(
    tmp_path_factory: pytest.TempPathFactory, methodology: Methodology, through: str
) -> Iterator[Callable[..., duckdb.DuckDBPyConnection]]:
    connections = []

    def _build(
        sheets: dict[str, Iterable[dict[str, Any]]],
        using: Methodology | None = None,
        round_id: str = "2023Q1",
    ) -> duckdb.DuckDBPyConnection:
        work = tmp_path_factory.mktemp(f"round{next(_counter)}")
        db_path = compute_round(work, sheets, using or methodology, round_id, through)
        con = duckdb.connect(str(db_path), read_only=True)
        connections.append(con)
        return con

    yield _build
    for con in connections:
        con.close()


@pytest.fixture
def build(
    tmp_path_factory: pytest.TempPathFactory, methodology: Methodology, through: str
) -> Iterator[Callable[..., duckdb.DuckDBPyConnection]]:
    """Build a compute database from sheets of rows (optionally with another methodology:
    ``using=``), through the SQL alone and through the whole pipeline; returns a read-only
    connection to it."""
    with _builder(tmp_path_factory, methodology, through) as builder:
        yield builder


@pytest.fixture
def build_sql(
    tmp_path_factory: pytest.TempPathFactory, methodology: Methodology
) -> Iterator[Callable[..., duckdb.DuckDBPyConnection]]:
    """As ``build``, through the SQL alone: for rows that are not a whole round (AHP only)."""
    with _builder(tmp_path_factory, methodology, "sql") as builder:
        yield builder


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (conftest modules are not importable)."""
    return SimpleNamespace(
        write_accepted=write_accepted,
        compute_round=compute_round,
        csv_sheets=csv_sheets,
        with_settings=with_settings,
        firm_rows=firm_rows,
        merge=merge,
        judgments=judgments,
        weights=weights,
        rows=rows,
        by_key=by_key,
    )
