"""The input contract (shared/spec/input-contract.md) as data: sheets, columns, types.

Ingest matches headers against these names; validation produces frames with these types;
the compute step creates the ``landing`` tables with these DuckDB types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from thio.errors import ThioError

PROVENANCE_COLUMNS = ("_file", "_file_sha256", "_sheet", "_row")
ROUND_ID_PATTERN = re.compile(r"^\d{4}(Q[1-4])?$", re.ASCII)


def check_round_id(round_id: str) -> str:
    """Return ``round_id`` if it is YYYYQn or YYYY; it names folders, so nothing else passes."""
    if not isinstance(round_id, str) or not ROUND_ID_PATTERN.fullmatch(round_id):
        raise ThioError(f"round id {round_id!r} is not YYYY or YYYYQn (e.g. 2024Q1 or 2024)")
    return round_id


@dataclass(frozen=True)
class Column:
    """One contract column: its name, accepted-frame type and whether a value is required."""

    name: str
    kind: str  # text | integer | number | date | component | judgment
    required: bool = True


@dataclass(frozen=True)
class Sheet:
    """One contract sheet (or CSV file) with its columns and whether the sheet is required."""

    name: str
    columns: tuple[Column, ...]
    required: bool = True

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


SHEETS: dict[str, Sheet] = {
    sheet.name: sheet
    for sheet in (
        Sheet(
            "firms",
            (
                Column("round_id", "text"),
                Column("firm_id", "text"),
                Column("firm_name", "text"),
                Column("sector_code", "text"),
                Column("sector_name", "text", required=False),
                Column("region_code", "text"),
                Column("region_name", "text", required=False),
                Column("size_class", "text", required=False),
                Column("workers", "integer", required=False),
                Column("sample_weight", "number", required=False),
                Column("survey_date", "date"),
                Column("enumerator", "text", required=False),
            ),
        ),
        Sheet(
            "items",
            (
                Column("firm_id", "text"),
                Column("component", "component"),
                Column("item_id", "text"),
                Column("item_name", "text", required=False),
                Column("weight", "number", required=False),
                Column("ll", "integer"),
                Column("ul", "integer"),
            ),
        ),
        Sheet(
            "sota",
            (
                Column("firm_id", "text"),
                Column("component", "component"),
                Column("item_id", "text"),
                Column("criterion", "text"),
                Column("rater", "text", required=False),
                Column("score", "number"),
            ),
        ),
        Sheet(
            "ahp",
            (
                Column("firm_id", "text", required=False),
                Column("panel_id", "text", required=False),
                Column("respondent", "text"),
                Column("row", "component"),
                Column("col", "component"),
                Column("value", "judgment"),
            ),
            required=False,
        ),
        Sheet(
            "weights",
            (
                Column("firm_id", "text", required=False),
                Column("panel_id", "text", required=False),
                Column("component", "component"),
                Column("beta", "number"),
            ),
            required=False,
        ),
        Sheet(
            "programs",
            (
                Column("program_id", "text"),
                Column("program_name", "text", required=False),
                Column("firm_id", "text"),
                Column("organisation", "text", required=False),
                Column("focus", "text"),
                Column("start_date", "date"),
                Column("end_date", "date"),
            ),
            required=False,
        ),
    )
}

# DuckDB type of each kind in the accepted frames and landing tables.
DUCKDB_TYPES = {
    "text": "varchar",
    "integer": "bigint",
    "number": "double",
    "date": "date",
    "component": "varchar",
    "judgment": "double",
}


def landing_columns(sheet: Sheet) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a landing table: contract columns then provenance."""
    columns = [(column.name, DUCKDB_TYPES[column.kind]) for column in sheet.columns]
    if sheet.name == "ahp":
        # the judgment as the file gave it, beside its exact scale value
        columns.append(("value_text", "varchar"))
    columns += [("_file", "varchar"), ("_file_sha256", "varchar"), ("_sheet", "varchar")]
    columns.append(("_row", "bigint"))
    return columns
