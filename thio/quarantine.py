"""The quarantine review loop: what a round's last run quarantined, and a workbook for the
enumerators who fix it (``thio quarantine``).

The review workbook has one sheet per input sheet (firms, items, sota, ahp, weights,
programs) that has quarantined rows. Each holds those rows exactly as the input file had
them (every cell as text, the contract's columns in the contract's order, so a corrected row
can be pasted back over the original), then ``problem`` (what is wrong, one line per
problem), ``file`` and ``row`` (where the row is). The enumerators correct the round's
workbook(s) and the round is run again (``thio run``): the run publishes the next version,
and its quarantine lists only what is still wrong.

The original rows come from the run's staged raw frames (``<home>/work/<run_id>/raw``), or,
when that folder is gone, from the run's archived input files read again.

Every cell is written as a string, never as a formula: a cell whose text begins with
``= + - @`` or a tab or carriage return is marked text (Excel's quote prefix), so that
opening or editing the workbook never evaluates input text.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from thio.contract import SHEETS
from thio.errors import ThioError
from thio.publish import warehouse_path
from thio.release import RELEASE_FLOW

# The text openers spreadsheet programs read as a formula.
FORMULA_OPENERS = ("=", "+", "-", "@", "\t", "\r")
# Rules of rows quarantined only because their firm or item was (thio.rounds.CASCADE_RULES).
CASCADE_RULES = ("firm_excluded", "item_excluded")
# The records of exact duplicate rows (thio.validation.DUPLICATE_RULE): collapsed into the row
# they repeat, not quarantined -- listed apart, and not in the review workbook (nothing to fix).
DUPLICATE_RULE = "duplicate_row"
REVIEW_COLUMNS = ("problem", "file", "row")


def round_quarantine(
    home: Path, round_id: str, run_id: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run (the round's latest run, or ``run_id``) and its meta.quarantine records, by
    file, sheet and row. Reads the published warehouse read-only."""
    path = warehouse_path(Path(home))
    if not path.exists():
        raise ThioError(f"{path}: no warehouse yet (run a round first)")
    with duckdb.connect(str(path), read_only=True) as con:
        # a release (thio release) read no file: the round's latest run is one that did
        query = (
            "select run_id, round_id, status, started_at from meta.runs where round_id = ? "
            + ("and run_id = ? " if run_id else "and flow_name is distinct from ? ")
            + "order by started_at desc limit 1"
        )
        found = con.execute(query, [round_id, run_id or RELEASE_FLOW]).fetchone()
        if found is None:
            which = f"run {run_id} of round {round_id}" if run_id else f"round {round_id}"
            raise ThioError(f"no {which} in meta.runs")
        run = dict(zip(("run_id", "round_id", "status", "started_at"), found, strict=True))
        cursor = con.execute(
            "select * from meta.quarantine where run_id = ? "
            "order by file_name, sheet, row_number, column_name",
            [run["run_id"]],
        )
        names = [column[0] for column in cursor.description]
        records = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        cursor = con.execute(
            "select * from meta.input_files where run_id = ? order by file_name", [run["run_id"]]
        )
        names = [column[0] for column in cursor.description]
        run["files"] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return run, records


def quarantine_lines(run: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """The console listing: a header, then one line per quarantined cell or row, root
    causes first and the rows quarantined only because their firm or item was after them;
    then, under a line of their own, the exact duplicate rows collapsed (not quarantined)."""
    duplicates = [record for record in records if record["rule"] == DUPLICATE_RULE]
    records = [record for record in records if record["rule"] != DUPLICATE_RULE]
    rows = {(record["file_sha256"], record["sheet"], record["row_number"]) for record in records}
    lines = [
        f"round {run['round_id']}, run {run['run_id']} ({run['status']}): "
        f"{len(rows)} quarantined rows, {len(records)} problems"
    ]
    causes = [record for record in records if record["rule"] not in CASCADE_RULES]
    cascades = [record for record in records if record["rule"] in CASCADE_RULES]
    lines += [f"{record['message']} [{record['rule']}]" for record in causes + cascades]
    if duplicates:
        lines.append(
            f"{len(duplicates)} exact duplicate rows collapsed into the rows they repeat "
            "(not quarantined):"
        )
        lines += [f"{record['message']} [{record['rule']}]" for record in duplicates]
    return lines


def _problem(record: dict[str, Any]) -> str:
    """The record's message without the file, sheet and row the review row already shows."""
    prefix = f"{record['file_name']}, sheet {record['sheet']}, row {record['row_number']}, "
    message = str(record["message"])
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return f"{message} [{record['rule']}]"


def review_rows(
    home: Path, run: dict[str, Any], records: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The quarantined rows as the input had them, per contract sheet (those with any), each
    row a dict of the contract's columns (text) plus problem, file and row."""
    problems: dict[tuple[str, str, int], list[str]] = {}
    for record in records:
        if record["rule"] == DUPLICATE_RULE:
            continue
        key = (record["file_sha256"], record["sheet"], int(record["row_number"]))
        problems.setdefault(key, []).append(_problem(record))
    if not problems:
        return {}
    raw_dir = Path(home) / "work" / run["run_id"] / "raw"
    if raw_dir.is_dir():
        return _rows_from_raw(raw_dir, problems)
    with tempfile.TemporaryDirectory(prefix="thio-quarantine-") as scratch:
        return _rows_from_raw(_read_archived(home, run, Path(scratch)), problems)


def _read_archived(home: Path, run: dict[str, Any], scratch: Path) -> Path:
    """Read the run's archived input files again into ``scratch``; their raw frames' folder."""
    from thio.audit import restore_inputs
    from thio.ingest import ingest_inputs

    inputs = restore_inputs(home, run["round_id"], run["files"], scratch / "inputs", True)
    if not inputs:
        raise ThioError(f"run {run['run_id']} read no file to show")
    ingest_inputs(inputs, run["round_id"], scratch / "home", scratch / "work")
    return scratch / "work" / "raw"


def _rows_from_raw(
    raw_dir: Path, problems: dict[tuple[str, str, int], list[str]]
) -> dict[str, list[dict[str, Any]]]:
    wanted = pa.table(
        {
            "_file_sha256": [key[0] for key in problems],
            "_sheet": [key[1] for key in problems],
            "_row": pa.array([key[2] for key in problems], pa.int64()),
        }
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for name, sheet in SHEETS.items():
        path = raw_dir / f"{name}.parquet"
        if not path.exists():
            continue
        columns = [*sheet.column_names, "_file", "_file_sha256", "_sheet", "_row"]
        present = set(pq.read_schema(path).names)
        table = pq.read_table(path, columns=[column for column in columns if column in present])
        # dictionary-encoded text (as ingest writes it) compares as plain text
        table = pa.table(
            {
                column: table[column].cast(pa.string())
                if pa.types.is_dictionary(table[column].type)
                else table[column]
                for column in table.column_names
            }
        )
        mask = pc.is_in(table["_row"], value_set=wanted["_row"])
        candidates = table.filter(mask).to_pylist()
        rows = []
        for row in candidates:
            key = (row["_file_sha256"], row["_sheet"], int(row["_row"]))
            if key not in problems:
                continue
            record = {column: row.get(column) for column in sheet.column_names}
            record["problem"] = "\n".join(problems[key])
            record["file"] = row["_file"]
            record["row"] = int(row["_row"])
            rows.append(record)
        if rows:
            found[name] = sorted(rows, key=lambda item: (item["file"], item["row"]))
    return found


def formula_safe(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` as text (it opens with no formula opener)."""
    return not text.startswith(FORMULA_OPENERS)


def write_review_workbook(rows: dict[str, list[dict[str, Any]]], out: Path) -> dict[str, int]:
    """Write the review workbook (one sheet per input sheet with quarantined rows) to
    ``out``; returns the number of rows per sheet."""
    import xlsxwriter

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    workbook = xlsxwriter.Workbook(str(out), {"strings_to_formulas": False})
    try:
        header = workbook.add_format({"bold": True, "bg_color": "#DDDDDD"})
        problem = workbook.add_format({"text_wrap": True, "font_color": "#9C0006"})
        quoted = workbook.add_format({"quote_prefix": True})
        for name, sheet_rows in rows.items():
            columns = [*SHEETS[name].column_names, *REVIEW_COLUMNS]
            sheet = workbook.add_worksheet(name)
            for number, column in enumerate(columns):
                sheet.write_string(0, number, column, header)
            for index, row in enumerate(sheet_rows, start=1):
                for number, column in enumerate(columns):
                    value = row.get(column)
                    if value is None:
                        continue
                    if column == "row":
                        sheet.write_number(index, number, int(value))
                        continue
                    text = str(value)
                    style = problem if column == "problem" else None
                    if not formula_safe(text):
                        style = quoted
                    sheet.write_string(index, number, text, style)
            sheet.freeze_panes(1, 0)
            sheet.set_column(columns.index("problem"), columns.index("problem"), 60)
            counts[name] = len(sheet_rows)
    finally:
        workbook.close()
    return counts
