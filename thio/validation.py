"""Validation: parse the raw frames, run the sheet schemas and the cross-sheet rules.

Every raw row ends up either in ``accepted/<sheet>.parquet`` or in ``quarantine.parquet``
(one record per bad cell, or per row for the rules about whole rows; a row counts once).
Each rule is checked in one place:

* type rules (a number, a whole number, a date, a component, a Saaty judgment, a focus
  list, a size class): :mod:`thio.parse`, while building the typed frame; a date that is
  1900-02-29 (Excel's serial day 60, a day that never existed) has a rule of its own,
  ``impossible_date``;
* ``survey_date_window``: a firms row whose survey_date lies further before the round's
  first day or after its last day than the methodology's ``survey_date_window`` allows;
* rules within a row or a sheet (required values, patterns, ranges, ``ul >= ll``, the
  criterion belongs to the component, ``row != col``, dates in order, the scope of ahp and
  weights rows, ``sample_weight`` all-or-none, unique keys incl. a firm in two files): the
  pandera schemas in ``schemas/<sheet>.py``, validated lazily;
* rules across rows and sheets: here, in this order, each applied to rows not yet
  quarantined --

  1. ``unknown_firm``: an items/sota/ahp/weights row names a firm_id not in the firms sheet;
  2. sota -> items: ``unknown_item`` (no such items row), ``item_excluded`` (its items row is
     quarantined);
  3. ``missing_criterion``: an item lacks a valid score for a criterion of its component
     (from every rater) -> the item is quarantined, and its sota rows (``item_excluded``);
  4. ``missing_component``: a firm without a valid item in a component is excluded (the
     record is on its firms row);
  5. ``firm_excluded``: every other row of an excluded firm (firms row quarantined, a
     duplicate, or ``missing_component``) in items, sota, firm-scope ahp and weights;
  6. ``unknown_panel``: an ahp/weights panel_id that is not the sector_code of an accepted
     firm;
  7. ahp: ``reciprocal`` (an upper- and lower-triangle judgment of one pair that are not
     reciprocal within ``ahp.reciprocal_tolerance``: both rows), then ``incomplete_ahp``
     (a respondent of a scope without a valid judgment for each of the six pairs: all the
     respondent's rows);
  8. weights: ``incomplete_weights`` (a scope without the four components) and
     ``weights_sum`` (four betas not summing to 1 within ``given_weights_tolerance``): all
     the scope's rows.

Before any rule, two things ingest found are settled:

* an exact duplicate row -- the same text in every contract column as an earlier row of
  the sheet, in the same or another file of the round (e.g. a firm's rows sent in two
  regional files) -- is collapsed into the first: it is neither accepted nor quarantined
  but counted as ``rows_duplicate`` of its file and sheet, so that for every file and sheet
  rows_read = rows_accepted + rows_quarantined + rows_duplicate. Each collapsed row is
  also listed in ``quarantine.parquet`` (so in ``meta.quarantine``) with the rule
  ``duplicate_row`` and a message naming the row it repeats, after every problem; these
  records count nowhere (not in the quarantined rows, the rules, the checks, the messages
  nor the quarantine share). Rows that share a key but
  differ in a cell are not duplicates: the key rule quarantines each of them, naming the
  other places (a firm with conflicting attributes in two files);
* a cell ingest marked (``_problems``): an Excel error value (``error_cell``, e.g. #DIV/0!),
  a formula without a cached value (``no_cached_value``) or a formula whose cached value is
  a placeholder (``untrusted_formula``: the workbook declares fullCalcOnLoad) quarantines
  its row, the
  record naming the cell, and no type rule is reported again for that cell.

The AHP consistency ratio is not a validation rule: an inconsistent respondent's
judgments are accepted and handled by the compute step.

The round's quarantine share is the share of firms with a quarantined row (in firms,
items, sota, firm-scope ahp or weights) or excluded, among the firm ids read (the firms
sheet's, plus the unknown firm ids other sheets name); it is reported here and judged by
the audit gate against ``quarantine_threshold`` (:mod:`thio.expectations`, check
``round.quarantine_share``). Validation blocks the round only when no firm is accepted
(nothing to compute). Panel-scope ahp/weights and programs rows do not belong to a firm of
the round and do not count in the share.

How the work is done (a round has millions of sota rows): the raw frames are read as Arrow
with their text dictionary-encoded, as parquet stores it, and parsed once per distinct value
(:mod:`thio.parse`). pandera validates each sheet's typed pandas frame, whose text columns
are categorical: the codes and distinct values of the dictionary-encoded columns
(:func:`thio.parse.text_categories`), which the key and criterion checks use as they are
(:func:`schemas.common.value_codes`), so no text is decoded per row nor hashed twice. The
cross-sheet rules work on integer codes, and the accepted frames are written from the
dictionary-encoded columns; no string per row is built. On this scale most of the cost is
memory to clear (each new array of millions of rows), so the work over every sota row --
the exact-duplicate and key searches, the sota -> items rules -- is done a block of rows
at a time in reused buffers, and arrays as long as a sheet are as narrow as they can be.
The biggest sheet is read and parsed in a second thread while the others are validated, and
the accepted frames are written in a second thread while the remaining rules run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import string
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import ahp as ahp_schema
from schemas import firms as firms_schema
from schemas import items as items_schema
from schemas import programs as programs_schema
from schemas import sota as sota_schema
from schemas import weights as weights_schema
from schemas.common import SheetSchema, fmt, repeated_rows, run_schema
from thio.contract import PROVENANCE_COLUMNS, SHEETS, Column, Sheet, landing_columns
from thio.methodology import Methodology
from thio.parse import (
    IMPOSSIBLE_DATE,
    PARSERS,
    Parsed,
    distinct,
    indices,
    phantom_leap_days,
    text_categories,
)

SCHEMA_BUILDERS = {
    "firms": firms_schema.build_schema,
    "items": items_schema.build_schema,
    "sota": sota_schema.build_schema,
    "ahp": ahp_schema.build_schema,
    "weights": weights_schema.build_schema,
    "programs": programs_schema.build_schema,
}
# Contract "text" columns that are parsed all the same.
KIND_OVERRIDES = {("programs", "focus"): "focus", ("firms", "size_class"): "size_class"}
# Rules checked here (not in the schemas), per sheet: for the checks list of validation.json.
CROSS_SHEET_RULES = {
    "firms": ["survey_date_window", "missing_component"],
    "items": ["unknown_firm", "missing_criterion", "firm_excluded"],
    "sota": ["unknown_firm", "unknown_item", "item_excluded", "firm_excluded"],
    "ahp": ["unknown_firm", "firm_excluded", "unknown_panel", "reciprocal", "incomplete_ahp"],
    "weights": [
        "unknown_firm",
        "firm_excluded",
        "unknown_panel",
        "incomplete_weights",
        "weights_sum",
    ],
    "programs": [],
}
# Rules of the cells ingest marked in a raw row's _problems column ("<column>:<rule>;...").
CELL_RULES = {
    "error_cell": "{value} is an Excel error value (a formula that failed); the row is quarantined",
    "no_cached_value": (
        "formula {value} has no saved value (the workbook was written without calculating "
        "it; open it in Excel, save it and send it again)"
    ),
    "untrusted_formula": (
        "{value}: a formula cell whose saved value is not trusted (the workbook asks to be "
        "recalculated when opened, fullCalcOnLoad, as a library that never calculated its "
        "formulas writes it; open it in Excel, save it and send it again)"
    ),
}
PROBLEMS_COLUMN = "_problems"
# Column kinds that label a row (ids, codes; the sheet's rows are grouped by them) rather
# than measure something: the exact-duplicate search combines them first.
LABEL_KINDS = ("text", "component")
DUPLICATES_LISTED = 1000
# The rule of an exact duplicate row's record in quarantine.parquet (meta.quarantine): the row
# was collapsed into the one it repeats, not quarantined (thio.rounds and thio.quarantine
# list these records apart from the problems).
DUPLICATE_RULE = "duplicate_row"
QUARANTINE_COLUMNS = [
    "_file",
    "_file_sha256",
    "_sheet",
    "_row",
    "sheet",
    "column_name",
    "value",
    "rule",
    "message",
    "firm_id",
]
MESSAGES_LISTED = 1000
PLACES_LISTED = 3
BLANK = "(blank)"
_ARROW_TYPES = {
    "varchar": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
}


@dataclass
class _Sheet:
    """One sheet during validation: raw text, typed values, the quarantined rows.

    ``raw`` is the raw frame as Arrow (text dictionary-encoded, one chunk per column).
    ``parsed`` is the typed frame the pandera schema validates; ``texts`` its text columns
    as dictionary-encoded Arrow arrays (free text: the raw column). Once the row rules have
    run, the text columns are dropped from ``parsed``: the rest of the work uses ``texts``.
    """

    sheet: Sheet
    raw: pa.Table
    parsed: pd.DataFrame = field(default_factory=pd.DataFrame)
    texts: dict[str, pa.DictionaryArray] = field(default_factory=dict)
    found: pd.DataFrame = field(default_factory=pd.DataFrame)  # type failures, until checked
    schema: SheetSchema | None = None
    bad: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    records: list[pd.DataFrame] = field(default_factory=list)
    files: _Files | None = None  # the rows of each input file, duplicates collapsed
    _good: np.ndarray | None = None  # ~bad, until a row is quarantined

    @property
    def name(self) -> str:
        return self.sheet.name

    @property
    def good(self) -> np.ndarray:
        """The rows not quarantined (read-only; kept until a row is quarantined: a sheet of
        millions of rows is asked often, and each new array is memory to clear)."""
        if self._good is None or len(self._good) != len(self.bad):
            self._good = ~self.bad
            self._good.flags.writeable = False
        return self._good

    def __len__(self) -> int:
        return self.raw.num_rows

    def kind(self, column: str) -> str:
        return KIND_OVERRIDES.get((self.name, column), self.sheet.column(column).kind)

    def text(self, column: str) -> pa.DictionaryArray:
        """A parsed text column (dictionary-encoded)."""
        return self.texts[column]

    def cells(self, column: str, positions: np.ndarray) -> np.ndarray:
        """The raw cells of ``column`` at ``positions`` (object array, None where empty)."""
        return _cells(_array(self.raw.column(column)), positions)

    def quarantine(
        self,
        mask: np.ndarray,
        column: str,
        rule: str,
        message: str | np.ndarray,
        extra: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Quarantine the rows of ``mask`` (bool array, or positions) with one record each.

        ``message`` is a template (see schemas.common) or the rendered tails, one per row.
        """
        positions = np.flatnonzero(mask) if mask.dtype == bool else np.asarray(mask, "int64")
        if positions.size == 0:
            return
        if isinstance(message, str):
            tails = _render(message, self, positions, column, extra or {})
        else:
            tails = np.asarray(message, dtype=object)
        self.records.append(
            pd.DataFrame(
                {
                    "position": positions,
                    "column_name": column,
                    "rule": rule,
                    "tail": tails,
                }
            )
        )
        self.bad[positions] = True
        self._good = None  # a new one: the old one may be held as a snapshot


@dataclass
class _Files:
    """The input files of a sheet's raw rows, in order of appearance, and their counts.

    ``codes`` gives each (kept) row's file; ``rows_read`` and ``duplicates`` count each
    file's rows before the collapse and the exact duplicates collapsed; ``collapsed`` lists
    (file, sheet, row, first file, first sheet, first row) of the duplicates, at most
    ``DUPLICATES_LISTED``; ``records`` has every duplicate's quarantine record (rule
    ``duplicate_row``, the message naming the row it repeats).
    """

    codes: np.ndarray
    shas: list[str]
    names: list[str]
    rows_read: np.ndarray
    duplicates: np.ndarray
    collapsed: list[tuple[Any, ...]] = field(default_factory=list)
    records: pd.DataFrame | None = None


def validate_round(work_dir: Path, round_id: str, methodology: Methodology) -> dict[str, Any]:
    """Validate ``work_dir/raw/*.parquet``; write accepted frames, quarantine, validation.json.

    Returns the ``validation.json`` content::

        {"round_id": "2023Q1",
         "files": [{"file_name": "c01.xlsx", "file_sha256": "...", "sheet": "items",
                    "rows_read": 15, "rows_accepted": 14, "rows_quarantined": 1}],
         "sheets": {"firms": {"rows_read": 3, "rows_accepted": 3, "rows_quarantined": 0}, ...},
         "rules": {"range": 1, ...},            # quarantine records per rule
         "checks": [{"suite": "items", "check_name": "range", "success": false,
                     "unexpected_count": 1}, ...],
         "n_firms_read": 3, "n_unknown_firm_ids": 0, "n_firms_accepted": 3,
         "n_firms_excluded": 0, "n_firms_with_problems": 1,
         "quarantine_share": 0.3333, "quarantine_threshold": 0.05,
         "blocked": true, "blocked_reason": "..." | null,
         "excluded_firms": [{"firm_id": "F002", "reason": "..."}],   # at most 1000 listed
         "n_quarantine_records": 1, "reconciled": true,
         "messages": ["<file>, sheet items, row 7, column ul: 12 is outside 1..9", ...],
         "messages_not_listed": 0,
         "n_duplicate_rows": 1,
         "duplicates": ["<file>, sheet items, row 9: an exact duplicate of row 8, collapsed"]}

    Every ``files`` and ``sheets`` entry also has ``rows_duplicate`` (exact duplicate rows
    collapsed): rows_read = rows_accepted + rows_quarantined + rows_duplicate.
    """
    result = _validate(Path(work_dir), round_id, methodology)
    pa.default_memory_pool().release_unused()  # hand the freed memory back to the system
    return result


def _validate(work_dir: Path, round_id: str, methodology: Methodology) -> dict[str, Any]:
    # The biggest sheet (sota, as a rule) is read and parsed in a second thread -- Arrow and
    # numpy work, mostly outside the GIL -- while the other sheets are validated; its
    # schema runs after theirs (one pandera validation at a time).
    biggest = max(SHEETS, key=lambda name: _raw_rows(work_dir, name))
    accepted = work_dir / "accepted"
    accepted.mkdir(parents=True, exist_ok=True)
    loaded: dict[str, _Sheet] = {}
    # parquet writing is outside the GIL: each sheet is written in a second thread (the
    # biggest first) once its last rule has run, while the work goes on
    with ThreadPoolExecutor(max_workers=2) as pool:
        loading = pool.submit(_parse_rows, work_dir, SHEETS[biggest], methodology)
        for name, sheet in SHEETS.items():
            if name != biggest:
                loaded[name] = _parse_rows(work_dir, sheet, methodology)
                _check_rows(loaded[name], methodology, round_id)
        loaded[biggest] = loading.result()
        sheets = {name: loaded[name] for name in SHEETS}
        writes = []

        def write(*names: str) -> None:
            for state in sorted((sheets[name] for name in names), key=len, reverse=True):
                if state.name in early:
                    continue
                path = accepted / f"{state.name}.parquet"
                table = _accepted_table(state)
                writes.append(pool.submit(_write_accepted, table, path, state.good))

        # The biggest sheet is written while its schema and the cross-sheet rules run, with
        # the rows good once parsed: in a round worth publishing those rules seldom
        # quarantine one of its rows, and when they do, it is written again (the file is the
        # same either way; only its writing moved earlier). Its rows are taken as Arrow
        # columns here, before the schema runs on the frame they come from.
        early: dict[str, tuple[np.ndarray, Any]] = {}
        if biggest in ("firms", "items", "sota", "programs"):
            good = sheets[biggest].good
            path = accepted / f"{biggest}.parquet"
            table = _accepted_table(sheets[biggest])
            early[biggest] = (good, pool.submit(_write_accepted, table, path, good))
        _check_rows(sheets[biggest], methodology, round_id)
        known_firms, excluded = _check_firm_data(sheets, methodology)
        for name, (good, writing) in early.items():
            writes.append(writing)
            if not np.array_equal(good, sheets[name].good):
                writing.result()
                path = accepted / f"{name}.parquet"
                table = _accepted_table(sheets[name])
                writes.append(pool.submit(_write_accepted, table, path, sheets[name].good))
        write("firms", "items", "sota", "programs")  # no rule below touches these
        firms = sheets["firms"]
        accepted_sectors = _unique(firms.text("sector_code").filter(pa.array(firms.good)))
        for name in ("ahp", "weights"):
            _check_scope(sheets[name], known_firms, excluded, accepted_sectors)
        _check_ahp(sheets["ahp"], methodology)
        _check_weights(sheets["weights"], methodology)
        write("ahp", "weights")
        quarantine = _quarantine_frame(sheets)
        # the collapsed duplicates after every problem: listed, never counted as quarantined
        listed = pd.concat([quarantine, *_duplicates_frame(sheets)], ignore_index=True)
        pq.write_table(
            pa.Table.from_pandas(listed, schema=_quarantine_schema(), preserve_index=False),
            work_dir / "quarantine.parquet",
        )
        result = _summary(sheets, quarantine, known_firms, excluded, round_id, methodology)
        for done in writes:
            done.result()
    (work_dir / "validation.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return result


# ---------------------------------------------------------------- reading and row rules


def _read_raw(work_dir: Path, sheet: Sheet) -> pa.Table:
    """The raw frame: text dictionary-encoded (parquet's own dictionaries, read as they are:
    no string per row is built), each column in one chunk, absent columns null."""
    path = work_dir / "raw" / f"{sheet.name}.parquet"
    names = [*sheet.column_names, *PROVENANCE_COLUMNS, PROBLEMS_COLUMN]
    table = None
    if path.exists():
        stored = set(pq.read_schema(path).names)
        source = pq.ParquetFile(
            path,
            read_dictionary=[name for name in names[:-1] if name in stored],
            memory_map=True,
        )
        table = source.read(columns=[name for name in names if name in stored])
    length = table.num_rows if table is not None else 0
    columns = []
    for name in names:
        if table is not None and name in table.column_names:
            column = table.column(name)
        elif name == "_row":
            column = pa.chunked_array([pa.nulls(length, pa.int64())])
        else:
            column = pa.chunked_array([_null_text(length)])
        if name == "_row":
            column = column.cast(pa.int64())
        elif not pa.types.is_dictionary(column.type):
            column = column.cast(pa.string()).dictionary_encode()
        columns.append(column)
    # one chunk per row group (per input file): combining unifies their dictionaries
    return pa.table(columns, names=names).combine_chunks()


def _raw_rows(work_dir: Path, name: str) -> int:
    path = work_dir / "raw" / f"{name}.parquet"
    return pq.read_metadata(path).num_rows if path.exists() else 0


def _parse_rows(work_dir: Path, sheet: Sheet, methodology: Methodology) -> _Sheet:
    """Read a raw frame and parse every column (type rules; failures in ``state.found``)."""
    state = _Sheet(sheet, _read_raw(work_dir, sheet))
    _collapse_duplicates(state)
    state.bad = np.zeros(len(state), dtype=bool)
    state.parsed, state.texts, state.found = _parse_sheet(state, methodology)
    return state


def _check_rows(state: _Sheet, methodology: Methodology, round_id: str) -> None:
    """Run the sheet's pandera schema; quarantine the type and schema failures."""
    schema = state.schema = SCHEMA_BUILDERS[state.name](methodology, round_id)
    # the text columns are categorical: their codes are their dictionaries' indices
    failures = run_schema(schema, state.parsed)
    found = pd.concat([state.found, failures, _cell_problems(state)], ignore_index=True)
    state.found = pd.DataFrame()
    if not found.empty:
        _quarantine_found(state, schema, found)
    if state.name == "firms":
        _check_survey_dates(state, methodology, round_id)
    # the text columns go on as dictionary-encoded Arrow (state.texts)
    state.parsed = state.parsed.drop(
        columns=[name for name in state.parsed.columns if name in state.texts or name[0] == "_"]
    )


def round_period(round_id: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a round: a quarter (``2023Q1``) or a year (``2023``)."""
    year, _, quarter = round_id.partition("Q")
    if not quarter:
        return dt.date(int(year), 1, 1), dt.date(int(year), 12, 31)
    first = dt.date(int(year), 3 * int(quarter) - 2, 1)
    if int(quarter) == 4:
        return first, dt.date(int(year), 12, 31)
    return first, dt.date(int(year), 3 * int(quarter) + 1, 1) - dt.timedelta(days=1)


def _check_survey_dates(state: _Sheet, methodology: Methodology, round_id: str) -> None:
    """``survey_date_window``: a firms row whose survey_date lies further before the round's
    first day or after its last day than the methodology allows is quarantined."""
    before, after = methodology.survey_date_window
    first, last = round_period(round_id)
    earliest = np.datetime64(first - dt.timedelta(days=before), "s")
    latest = np.datetime64(last + dt.timedelta(days=after), "s")
    dates = state.parsed["survey_date"].to_numpy(dtype="datetime64[s]")
    outside = state.good & ~np.isnat(dates) & ((dates < earliest) | (dates > latest))
    state.quarantine(
        outside,
        "survey_date",
        "survey_date_window",
        f"{{value}} is outside the survey dates of round {round_id}, {earliest.astype('M8[D]')} "
        f"to {latest.astype('M8[D]')} (survey_date_window: {before} days before the round "
        f"begins, {after} days after it ends)",
    )


def _collapse_duplicates(state: _Sheet) -> None:
    """Count each file's rows, and drop the exact duplicate rows (see the module docstring).

    The rows' key over every contract column is built from integer codes (no string per
    row); only when a key repeats are the first rows looked up.
    """
    raw = state.raw
    codes, first, shas = _first_appearance(_array(raw.column("_file_sha256")))
    names = list(_cells(_array(raw.column("_file")), first)) if len(shas) else []
    if len(shas) == 1:
        rows_read = np.array([len(codes)])
    else:
        rows_read = np.bincount(codes, minlength=len(shas))
    duplicate, origin = _duplicate_rows(raw, state.sheet.columns)
    state.files = _Files(
        codes=codes,
        shas=shas,
        names=names,
        rows_read=rows_read,
        duplicates=np.zeros(len(shas), dtype="int64"),
    )
    if duplicate is None:
        return
    state.files.duplicates = np.bincount(codes[duplicate], minlength=len(shas))
    positions = np.flatnonzero(duplicate)
    originals = origin[positions]
    places = [
        _cells(_array(raw.column(name)), where)
        for where in (positions, originals)
        for name in ("_file", "_sheet", "_row")
    ]
    state.files.collapsed = list(zip(*[place[:DUPLICATES_LISTED] for place in places], strict=True))
    state.files.records = _duplicate_records(state, positions, places)
    keep = ~duplicate
    state.raw = raw.filter(pa.array(keep))
    state.files.codes = codes[keep]


def _duplicate_record_tails(places: list[np.ndarray]) -> np.ndarray:
    """ "an exact duplicate of row N[ (file, sheet S)], collapsed into it" per duplicate."""
    file, sheet, _, first_file, first_sheet, first_row = places
    same = (file == first_file) & (sheet == first_sheet)
    where = np.where(same, "", " (" + first_file + ", sheet " + first_sheet + ")")
    return "an exact duplicate of row " + first_row.astype(str).astype(object) + where


def _duplicate_records(
    state: _Sheet, positions: np.ndarray, places: list[np.ndarray]
) -> pd.DataFrame:
    """The quarantine records of the exact duplicate rows at ``positions`` (of the raw frame
    before the collapse): rule ``duplicate_row``, no column, no value. They are listed for an
    auditor to see which rows were collapsed; they count neither as quarantined rows nor in
    the quarantine share."""
    raw = state.raw
    file, sheet, row = places[:3]
    firm_ids = (
        _cells(_array(raw.column("firm_id")), positions)
        if "firm_id" in state.sheet.column_names
        else np.full(len(positions), None, dtype=object)
    )
    return pd.DataFrame(
        {
            "_file": file,
            "_file_sha256": _cells(_array(raw.column("_file_sha256")), positions),
            "_sheet": sheet,
            "_row": row.astype("int64"),
            "sheet": state.name,
            "column_name": None,
            "value": None,
            "rule": DUPLICATE_RULE,
            "message": file + ", sheet " + sheet + ", row " + row.astype(str).astype(object)
            + ": " + _duplicate_record_tails(places) + ", collapsed into it",
            "firm_id": firm_ids,
        }
    )  # fmt: skip


def _duplicate_rows(raw: pa.Table, columns: tuple[Column, ...]) -> tuple[Any, Any]:
    """(mask of rows repeating an earlier row in every column, or None: no row does; the
    first row of each row's key, or None); null is a value of its own."""
    total = raw.num_rows
    labels, measures = [], []
    for column in columns:
        coded = _column_codes(_array(raw.column(column.name)))
        (labels if column.kind in LABEL_KINDS else measures).append(coded)
    found = repeated_rows(labels, total, then=measures)
    if found is None:
        return None, None
    order, starts = found
    # the stable order puts each key's first row first
    first = np.maximum.accumulate(np.where(starts, np.arange(total), 0))
    origin = np.empty(total, dtype="int64")
    origin[order] = order[first]
    return origin != np.arange(total), origin


def _column_codes(array: pa.Array) -> tuple[np.ndarray, int]:
    """Integer codes of a text column's values (-1 for null) and the number of codes; a
    dictionary holding a value twice is first made unique."""
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    codes = indices(array)
    dictionary = array.dictionary
    unique = pc.dictionary_encode(dictionary)
    if len(unique.dictionary) != len(dictionary):
        remap = np.append(unique.indices.to_numpy(zero_copy_only=False).astype("int64"), -1)
        return remap[codes], len(unique.dictionary)
    return codes, len(dictionary)


def _cell_problems(state: _Sheet) -> pd.DataFrame:
    """Type failures (priority -1: they stand for the cell) of the cells ingest marked."""
    columns = ["position", "column_name", "rule", "message", "priority"]
    problems = _array(state.raw.column(PROBLEMS_COLUMN))
    if problems.null_count == len(problems):
        return pd.DataFrame(columns=columns)
    positions = np.flatnonzero(_present(problems))
    records = []
    for position, text in zip(positions, _cells(problems, positions), strict=True):
        for part in str(text).split(";"):
            column, _, rule = part.partition(":")
            if rule in CELL_RULES and column in state.sheet.column_names:
                records.append((int(position), column, rule, CELL_RULES[rule], -1))
    return pd.DataFrame(records, columns=columns)


def _quarantine_found(state: _Sheet, schema: SheetSchema, found: pd.DataFrame) -> None:
    key_rule = schema.key_rule
    also = pd.Series(dtype=object)
    if key_rule is not None:
        is_key = (found["rule"] == key_rule.code) & (found["message"] == key_rule.message)
        duplicates = np.unique(found.loc[is_key, "position"].to_numpy(dtype="int64"))
        if duplicates.size:
            also = pd.Series(_other_places(state, schema.key, duplicates), index=duplicates)
    # one record per cell: the first failure by priority (type, column check, row, key)
    found = found.sort_values(["priority"], kind="stable").drop_duplicates(
        ["position", "column_name"]
    )
    for (column, rule, message), group in found.groupby(
        ["column_name", "rule", "message"], sort=False
    ):
        positions = group["position"].to_numpy(dtype="int64")
        extra = {}
        if key_rule is not None and rule == key_rule.code and message == key_rule.message:
            extra["also"] = also.reindex(positions).to_numpy(dtype=object)
        state.quarantine(positions, column, rule, message, extra)


def _parse_sheet(
    state: _Sheet, methodology: Methodology
) -> tuple[pd.DataFrame, dict[str, pa.DictionaryArray], pd.DataFrame]:
    """The typed frame, its text columns dictionary-encoded, and the type failures."""
    aliases = methodology.component_aliases()
    ahp_settings = methodology.settings.get("ahp", {})

    def parse(column: Column) -> Parsed:
        kind = state.kind(column.name)
        function = PARSERS[kind].function
        values = state.raw.column(column.name)
        if kind == "component":
            return function(values, aliases)
        if kind == "judgment":
            tolerance = float(ahp_settings.get("judgment_tolerance", 0.01))
            return function(values, methodology.saaty_values(), tolerance)
        if kind == "focus":
            return function(values, aliases, methodology.component_codes)
        return function(values)

    # one column after the other: the biggest sheet is parsed in a second thread already,
    # and more threads only contend for the GIL and the two cores
    results = [parse(column) for column in state.sheet.columns]
    columns: dict[str, pd.Series] = {}
    texts: dict[str, pa.DictionaryArray] = {}
    failures = []
    for column, result in zip(state.sheet.columns, results, strict=True):
        columns[column.name] = result.values.reset_index(drop=True)
        if result.text is not None:
            texts[column.name] = result.text
        if result.invalid.any():
            parser = PARSERS[state.kind(column.name)]
            invalid = result.invalid
            if parser.kind == "date":
                # 1900-02-29 is no date: a rule of its own, saying why
                impossible = invalid & phantom_leap_days(state.raw.column(column.name))
                if impossible.any():
                    failures.append(_failures(impossible, column.name, *IMPOSSIBLE_DATE))
                    invalid = invalid & ~impossible
            if invalid.any():
                failures.append(_failures(invalid, column.name, parser.rule, parser.message))
    parsed = pd.DataFrame(columns, index=pd.RangeIndex(len(state)), copy=False)
    if state.name == "ahp":
        texts["value_text"] = _array(state.raw.column("value"))
        parsed["value_text"] = text_categories(texts["value_text"])
    if state.name == "sota":  # the rater with a blank read as the default rater
        default_rater = str(methodology.settings.get("default_rater", "1"))
        raters = texts["rater"].dictionary.to_pylist()
        if default_rater not in raters:
            raters.append(default_rater)
        no_blank = texts["rater"].null_count == 0  # then the same text as rater
        filled = texts["rater"].indices
        if not no_blank:
            filled = pc.fill_null(filled, raters.index(default_rater))
        texts["_rater"] = pa.DictionaryArray.from_arrays(filled, pa.array(raters, pa.string()))
        parsed["_rater"] = parsed["rater"] if no_blank else text_categories(texts["_rater"])
    empty = pd.DataFrame(columns=["position", "column_name", "rule", "message", "priority"])
    failures_frame = pd.concat([empty, *failures], ignore_index=True) if failures else empty
    return parsed, texts, failures_frame


def _failures(mask: np.ndarray, column: str, rule: str, message: str) -> pd.DataFrame:
    """Type failures of a column's rows in ``mask`` (``message``: the tail after the value)."""
    return pd.DataFrame(
        {
            "position": np.flatnonzero(mask),
            "column_name": column,
            "rule": rule,
            "message": "{value} " + message,
            "priority": 0,
        }
    )


def _other_places(state: _Sheet, key: list[str], positions: np.ndarray) -> np.ndarray:
    """For rows sharing a key: " (also <file>, sheet <s>, row <n>; ...)" naming the others."""
    keys = state.parsed.loc[positions, key]
    group = keys.groupby(key, dropna=False, sort=False).ngroup().to_numpy()
    places = (
        state.cells("_file", positions)
        + ", sheet "
        + state.cells("_sheet", positions)
        + ", row "
        + state.cells("_row", positions).astype(str).astype(object)
    )
    members: dict[int, list[int]] = {}
    for index, code in enumerate(group):
        members.setdefault(int(code), []).append(index)
    also = np.empty(len(positions), dtype=object)
    for index, code in enumerate(group):
        group_members = members[int(code)]
        others = [places[o] for o in group_members[: PLACES_LISTED + 1] if o != index]
        others = others[:PLACES_LISTED]
        more = len(group_members) - 1 - len(others)
        if not others:
            also[index] = ""
            continue
        listed = "; ".join(others)
        also[index] = f" (also {listed}{f' and {more} more' if more > 0 else ''})"
    return also


# ---------------------------------------------------------------- firms, items, sota


def _check_firm_data(
    sheets: dict[str, _Sheet], methodology: Methodology
) -> tuple[pd.Index, dict[str, str]]:
    """Rules 1-5 of the module docstring. Returns (firm ids read, excluded firm -> reason)."""
    firms, items, sota = sheets["firms"], sheets["items"], sheets["sota"]
    known_firms = _unique(firms.text("firm_id"))
    # the firm ids of the three sheets coded together: the rules below look codes up in
    # tables over them (null, -1, picks the tables' last entry)
    firm = _codes_over([firms.text("firm_id"), items.text("firm_id"), sota.text("firm_id")])
    firm_code = firm.codes[0]
    known = _flags(firm.n_values + 1, firm_code)
    known[-1] = False

    # 1. unknown firms
    for index, state in ((1, items), (2, sota)):
        unknown = np.append(~known[:-1], False)[firm.remaps[index]]
        rows = _rows_valued(state.text("firm_id"), unknown, state.good)
        state.quarantine(rows, "firm_id", "unknown_firm", "{value} is not in the firms sheet")

    # 2. sota -> items; 3. every criterion of the item's component scored by a rater
    _check_items_scored(items, sota, firm, methodology)

    # 4. every component of a valid firm has a valid item
    codes = methodology.component_codes
    item_firm_code = firm.codes[1]
    component_index = {code: index for index, code in enumerate(codes)}
    item_component = _lookup(items.text("component"), component_index, -1)
    covered = np.zeros((firm.n_values + 1, len(codes)), dtype=bool)
    valid_items = items.good & (item_component >= 0)
    covered[item_firm_code[valid_items], item_component[valid_items]] = True
    lacking = firms.good & ~covered[firm_code].all(axis=1)
    reasons: dict[str, str] = {}
    if lacking.any():
        positions = np.flatnonzero(lacking)
        missing = [
            ", ".join(code for index, code in enumerate(codes) if not row[index])
            for row in covered[firm_code[positions]]
        ]
        firm_ids = firms.cells("firm_id", positions)
        for firm_id, lacks in zip(firm_ids, missing, strict=True):
            reasons[firm_id] = f"it has no valid item for component {lacks}"
        firms.quarantine(
            positions,
            "firm_id",
            "missing_component",
            "firm {value} has no valid item for component {missing}; the firm is excluded",
            {"missing": np.asarray(missing, dtype=object)},
        )

    # 5. the other rows of excluded firms: the firm ids read without a valid firms row, in
    # the order they first appear
    valid = _flags(firm.n_values + 1, firm_code[firms.good])
    order = pd.unique(firm_code[firm_code >= 0])
    names = firm.values.take(pa.array(order[~valid[order]], pa.int64())).to_pylist()
    excluded = dict.fromkeys(names, "")
    for record in firms.records:
        firm_ids = firms.cells("firm_id", record["position"].to_numpy())
        for firm_id, rule, column, tail in zip(
            firm_ids, record["rule"], record["column_name"], record["tail"], strict=True
        ):
            if firm_id not in excluded or excluded[firm_id]:
                continue
            if rule == "missing_component":
                excluded[firm_id] = reasons[firm_id]
            elif rule == "duplicate_key":
                excluded[firm_id] = "it appears more than once in the firms sheet"
            else:
                excluded[firm_id] = f"its firms row is quarantined ({column}: {tail})"
    _cascade_excluded((items, sota), excluded)
    return known_firms, excluded


ITEM_KEY = ["firm_id", "component", "item_id"]


def _check_items_scored(
    items: _Sheet, sota: _Sheet, firm: _Union, methodology: Methodology
) -> None:
    """Rules 2 and 3 of the module docstring, with no array as long as the sota sheet.

    A sota row's item key (firm_id, component, item_id) is a mixed-radix number over the
    columns' codes, computed a block of rows at a time in a reused buffer (a key space too
    big for tables over it is renumbered over the rows instead: :func:`_joint_codes`).
    Each block is looked up in a table of the items' keys (rule 2), then the criteria its
    good rows score are or'ed into each key's set of criteria (rule 3).
    """
    # (items' codes, sota's codes) of each key column; ``firm`` also has the firms sheet's
    coded = [(firm.codes[1], firm.codes[2])]
    widths = [firm.n_values + 1]
    for name in ITEM_KEY[1:]:
        union = _codes_over([items.text(name), sota.text(name)])
        coded.append((union.codes[0], union.codes[1]))
        widths.append(union.n_values + 1)
    n_keys = math.prod(widths)
    sota_key = None
    if n_keys <= max(2 * (len(items) + len(sota)), _DENSE_TABLE_LIMIT):
        item_key = np.zeros(len(items), dtype="int64")
        for codes, width in zip(coded, widths, strict=True):
            item_key *= width
            item_key += codes[0]
            item_key += 1  # null (-1) is a value of its own
    else:
        (item_key, sota_key), n_keys = _joint_codes([items, sota], ITEM_KEY)

    def blocks() -> Iterator[tuple[int, np.ndarray]]:
        """(first row, the keys) of each block of sota rows (a buffer used again)."""
        buffer = np.empty(_BLOCK_ROWS, dtype=np.intp)
        for low in range(0, len(sota), _BLOCK_ROWS):
            high = min(low + _BLOCK_ROWS, len(sota))
            if sota_key is not None:
                yield low, sota_key[low:high]
                continue
            key = buffer[: high - low]
            key[:] = 0
            for codes, width in zip(coded, widths, strict=True):
                key *= width
                key += codes[1][low:high]
                key += 1
            yield low, key

    def rows_keyed(flagged: np.ndarray) -> np.ndarray:
        """The good sota rows whose key is flagged."""
        found = [np.flatnonzero(flagged[key]) + low for low, key in blocks()]
        rows = np.concatenate(found) if found else np.zeros(0, dtype=np.intp)
        return rows[sota.good[rows]]

    def keys_of(rows: np.ndarray) -> np.ndarray:
        if sota_key is not None:
            return sota_key[rows]
        key = np.zeros(len(rows), dtype="int64")
        for codes, width in zip(coded, widths, strict=True):
            key *= width
            key += codes[1][rows]
            key += 1
        return key

    # 2. the key's items row: 0 none, 1 quarantined only, 2 valid
    status = np.zeros(n_keys, dtype="uint8")
    status[item_key] = 1
    status[item_key[items.good]] = 2
    rows = rows_keyed(status != 2)
    if rows.size:
        exists = status[keys_of(rows)] > 0
        sota.quarantine(
            rows[~exists],
            "item_id",
            "unknown_item",
            "item {value} of firm {firm_id}, component {component} is not in the items sheet",
        )
        sota.quarantine(
            rows[exists],
            "item_id",
            "item_excluded",
            "item {value} of firm {firm_id} is quarantined in the items sheet",
        )

    # 3. the criteria scored for each key: a bit per criterion of a component (its place in
    # the component's list; the schema quarantined a criterion under another component), in
    # words of up to 64 bits
    criteria = methodology.criteria()
    place = {name: index for names in criteria.values() for index, name in enumerate(names)}
    n_bits = max((len(names) for names in criteria.values()), default=1)
    word = {1: np.uint8, 2: np.uint16, 3: np.uint32, 4: np.uint32}.get(-(-n_bits // 8), np.uint64)
    size = np.iinfo(word).bits
    n_words = -(-n_bits // size)
    criterion_codes, criterion_names = distinct(sota.text("criterion"))
    bit = np.zeros((n_words, len(criterion_names) + 1), dtype=word)  # the last: no criterion
    for code, name in enumerate(criterion_names.to_pylist()):
        if name in place:
            bit[place[name] // size, code] = word(1) << word(place[name] % size)
    scored = np.zeros((n_words, n_keys), dtype=word)
    good = sota.good
    all_good = bool(good.all())
    for low, key in blocks():
        high = low + len(key)
        # or'ed over the runs of a key (a sheet's rows come grouped by item), then per key
        starts = np.flatnonzero(key[1:] != key[:-1])
        starts += 1
        starts = np.concatenate(([0], starts))
        for index in range(n_words):
            bits = bit[index][criterion_codes[low:high]]
            if not all_good:
                bits *= good[low:high]
            np.bitwise_or.at(scored[index], key[starts], np.bitwise_or.reduceat(bits, starts))
    component_codes, component_names = distinct(items.text("component"))
    components = component_names.to_pylist()
    needed = np.zeros((n_words, len(components) + 1), dtype=word)  # the last: no component
    for code, name in enumerate(components):
        for index in range(len(criteria.get(name, []))):
            needed[index // size, code] |= word(1) << word(index % size)
    incomplete = np.zeros(len(items), dtype=bool)
    for index in range(n_words):
        need = needed[index][component_codes]
        incomplete |= (scored[index][item_key] & need) != need
    incomplete &= items.good
    if not incomplete.any():
        return
    positions = np.flatnonzero(incomplete)
    missing = []
    for position, code in zip(positions, component_codes[positions], strict=True):
        key = item_key[position]
        missing.append(
            ", ".join(
                name
                for index, name in enumerate(criteria[components[code]])
                if not scored[index // size, key] >> word(index % size) & word(1)
            )
        )
    items.quarantine(
        positions,
        "item_id",
        "missing_criterion",
        "item {value} of firm {firm_id} has no valid score for {missing}; the item is quarantined",
        {"missing": np.asarray(missing, dtype=object)},
    )
    # the sota rows of the items quarantined now
    was_valid = status == 2
    status[item_key[positions]] = 1
    status[item_key[items.good]] = 2
    sota.quarantine(
        rows_keyed(was_valid & (status != 2)),
        "item_id",
        "item_excluded",
        "item {value} of firm {firm_id} is quarantined: it lacks a valid score for a criterion",
    )


def _cascade_excluded(states: tuple[_Sheet, ...], excluded: dict[str, str]) -> None:
    if not excluded:
        return
    reasons = pd.Series(excluded, dtype="str")
    for state in states:
        firm_ids = state.text("firm_id")
        rows = _rows_valued(firm_ids, _isin_values(firm_ids, reasons.index), state.good)
        if not rows.size:
            continue
        why = reasons.reindex(_cells(firm_ids, rows)).to_numpy(dtype=object)
        state.quarantine(
            rows,
            "firm_id",
            "firm_excluded",
            "firm {value} is excluded from the round: {why}",
            {"why": why},
        )


# ---------------------------------------------------------------- ahp and weights


def _check_scope(
    state: _Sheet, known_firms: pd.Index, excluded: dict[str, str], sectors: pd.Index
) -> None:
    """unknown_firm, firm_excluded, unknown_panel for the rows of an ahp/weights sheet."""
    firm_ids = state.text("firm_id")
    state.quarantine(
        state.good & _present(firm_ids) & ~_isin(firm_ids, known_firms),
        "firm_id",
        "unknown_firm",
        "{value} is not in the firms sheet",
    )
    _cascade_excluded((state,), excluded)
    panels = state.text("panel_id")
    state.quarantine(
        state.good & _present(panels) & ~_isin(panels, sectors),
        "panel_id",
        "unknown_panel",
        "{value} is not the sector_code of an accepted firm",
    )


def _scope_names(state: _Sheet, positions: np.ndarray) -> np.ndarray:
    firm_ids = state.cells("firm_id", positions)
    panels = state.cells("panel_id", positions)
    return np.array(
        [
            f"firm {firm}" if isinstance(firm, str) else f"panel {panel}"
            for firm, panel in zip(firm_ids, panels, strict=True)
        ],
        dtype=object,
    )


def _check_ahp(state: _Sheet, methodology: Methodology) -> None:
    """Reversed duplicates reciprocal; each (scope, respondent) judges every pair."""
    if not state.good.any():
        return
    codes = methodology.component_codes
    rank = {code: index for index, code in enumerate(codes)}
    n = len(codes)
    tolerance = float(methodology.settings.get("ahp", {}).get("reciprocal_tolerance", 0.01))
    (group,), n_groups = _joint_codes([state], ["firm_id", "panel_id", "respondent"])
    rows, cols = state.text("row"), state.text("col")
    row_rank = _lookup(rows, rank, -1)
    col_rank = _lookup(cols, rank, -1)
    low, high = np.minimum(row_rank, col_rank), np.maximum(row_rank, col_rank)
    pair = low * n + high
    upper = row_rank < col_rank
    values = state.parsed["value"].to_numpy(dtype="float64")

    # reciprocal: an upper and a lower judgment of one pair
    good = state.good
    frame = pd.DataFrame(
        {"group": group, "pair": pair, "value": values, "position": np.arange(len(state))}
    )
    ups = frame[good & upper]
    downs = frame[good & ~upper]
    both = ups.merge(downs, on=["group", "pair"], suffixes=("_up", "_down"))
    if not both.empty:
        product = both["value_up"] * both["value_down"]
        conflict = both[(product - 1).abs() > tolerance]
        if not conflict.empty:
            for mine, other in (("up", "down"), ("down", "up")):
                positions = conflict[f"position_{mine}"].to_numpy("int64")
                others = conflict[f"position_{other}"].to_numpy("int64")
                state.quarantine(
                    positions,
                    "value",
                    "reciprocal",
                    "{row}:{col} {value} and {other_pair} {other} are not reciprocal "
                    f"(within {fmt(tolerance * 100)} %)",
                    {
                        "other_pair": _cells(rows, others) + ":" + _cells(cols, others),
                        "other": _blank(state.cells("value", others)),
                    },
                )

    # every pair judged
    good = state.good
    n_pairs = n * (n - 1) // 2
    valid = good & (row_rank >= 0) & (col_rank >= 0) & (row_rank != col_rank)
    unique_pairs = _distinct_ints(group[valid] * n * n + pair[valid], n_groups * n * n)
    judged = np.bincount(unique_pairs // (n * n), minlength=n_groups)
    incomplete = good & (judged[group] < n_pairs)
    if not incomplete.any():
        return
    present: dict[int, set[int]] = {}
    for value in unique_pairs:
        present.setdefault(int(value // (n * n)), set()).add(int(value % (n * n)))
    all_pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    positions = np.flatnonzero(incomplete)
    missing = np.array(
        [
            ", ".join(
                f"{codes[i]}:{codes[j]}"
                for i, j in all_pairs
                if i * n + j not in present.get(int(group[position]), set())
            )
            for position in positions
        ],
        dtype=object,
    )
    state.quarantine(
        positions,
        "respondent",
        "incomplete_ahp",
        "respondent {value} of {scope} gives no valid judgment for {missing}; "
        "the respondent's judgments are set aside",
        {"scope": _scope_names(state, positions), "missing": missing},
    )


def _check_weights(state: _Sheet, methodology: Methodology) -> None:
    """A scope's betas: all four components, summing to 1 within the tolerance."""
    if not state.good.any():
        return
    codes = methodology.component_codes
    tolerance = float(methodology.settings.get("given_weights_tolerance", 0.005))
    (group,), n_groups = _joint_codes([state], ["firm_id", "panel_id"])
    good = state.good
    n_given = np.bincount(group[good], minlength=n_groups)  # components are unique per scope
    betas = state.parsed["beta"].to_numpy(dtype="float64")
    total = np.bincount(group[good], weights=betas[good], minlength=n_groups)
    short = good & (n_given[group] < len(codes))
    if short.any():
        positions = np.flatnonzero(short)
        components = _cells(state.text("component"), positions)
        given_by_group: dict[int, set[str]] = {}
        for position, component in zip(positions, components, strict=True):
            given_by_group.setdefault(int(group[position]), set()).add(component)
        given = np.array(
            [
                ", ".join(code for code in codes if code in given_by_group[int(group[position])])
                for position in positions
            ],
            dtype=object,
        )
        state.quarantine(
            positions,
            "component",
            "incomplete_weights",
            "{scope} gives betas for {given} only; all four components are needed",
            {"scope": _scope_names(state, positions), "given": given},
        )
    off = state.good & (np.abs(total[group] - 1) > tolerance)
    if off.any():
        positions = np.flatnonzero(off)
        sums = np.array([f"{value:.6g}" for value in total[group[positions]]], dtype=object)
        state.quarantine(
            positions,
            "beta",
            "weights_sum",
            f"the betas of {{scope}} sum to {{total}}, not 1 within {fmt(tolerance)}",
            {"scope": _scope_names(state, positions), "total": sums},
        )


# ---------------------------------------------------------------- outputs


def _accepted_schema(sheet: Sheet) -> pa.Schema:
    return pa.schema([pa.field(name, _ARROW_TYPES[kind]) for name, kind in landing_columns(sheet)])


def _accepted_table(state: _Sheet) -> pa.Table:
    """A sheet's typed frame as the Arrow table of its accepted file, every row, with the
    landing types (see ``_accepted_schema``) and the pandas metadata that
    ``pa.Table.from_pandas`` gives the typed frame, so that ``pd.read_parquet`` restores the
    same dtypes (nullable Int64, dates). The text columns are the dictionary-encoded arrays
    they are (parquet takes the dictionary, not a string per row)."""
    schema = _accepted_schema(state.sheet)
    columns = []
    dtypes = {}
    for field_ in schema:
        name = field_.name
        if name in state.texts:
            columns.append(state.texts[name])
            dtypes[name] = pd.StringDtype(na_value=np.nan)
        elif name in state.parsed.columns:
            series = state.parsed[name]
            columns.append(pa.array(series, type=field_.type, from_pandas=True))
            dtypes[name] = series.dtype
        else:  # provenance: the raw column
            columns.append(_array(state.raw.column(name)))
            dtypes[name] = np.dtype("int64") if name == "_row" else pd.StringDtype(na_value=np.nan)
    empty = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})
    metadata = pa.Table.from_pandas(empty, schema=schema, preserve_index=False).schema.metadata
    return pa.Table.from_arrays(columns, names=schema.names).replace_schema_metadata(metadata)


def _write_accepted(table: pa.Table, path: Path, good: np.ndarray) -> None:
    """Write an accepted file: ``table``'s rows where ``good`` (a copy of the sheet's
    ``good`` taken when the writing was asked for: rules may go on marking rows meanwhile).

    The file carries no Arrow schema, so the text columns read back as plain ``string``;
    the pandas metadata goes in as the file's key-value metadata. Uncompressed and without
    statistics: the file is read once, whole, by the compute step, and encoding dominated
    the writing.
    """
    metadata = table.schema.metadata
    table = table.replace_schema_metadata(None)
    if not good.all():
        table = table.filter(pa.array(good))  # Arrow's filter: no per-row Python
    text = [field_.name for field_ in table.schema if field_.type == pa.string()]
    text += [field_.name for field_ in table.schema if pa.types.is_dictionary(field_.type)]
    with pq.ParquetWriter(
        path,
        table.schema,
        use_dictionary=text,
        compression="none",
        write_statistics=False,
        write_batch_size=1 << 16,
        store_schema=False,
    ) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata(metadata)


def _quarantine_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field(name, pa.int64() if name == "_row" else pa.string())
            for name in QUARANTINE_COLUMNS
        ]
    )


def _quarantine_frame(sheets: dict[str, _Sheet]) -> pd.DataFrame:
    parts = []
    order = {name: index for index, name in enumerate(SHEETS)}
    for state in sheets.values():
        if not state.records:
            continue
        records = pd.concat(state.records, ignore_index=True)
        positions = records["position"].to_numpy("int64")
        part = pd.DataFrame({name: state.cells(name, positions) for name in PROVENANCE_COLUMNS})
        part["sheet"] = state.name
        part["column_name"] = records["column_name"].to_numpy(dtype=object)
        values = np.empty(len(records), dtype=object)
        for column, group in records.groupby("column_name", sort=False):
            values[group.index] = state.cells(column, positions[group.index])
        part["value"] = pd.Series(values, dtype="str")
        part["rule"] = records["rule"].to_numpy(dtype=object)
        part["message"] = (
            part["_file"].astype(object)
            + ", sheet "
            + part["_sheet"].astype(object)
            + ", row "
            + part["_row"].astype(str).astype(object)
            + ", column "
            + part["column_name"].astype(object)
            + ": "
            + records["tail"].to_numpy(dtype=object)
        )
        part["firm_id"] = state.cells("firm_id", positions)
        part["_order"] = order[state.name]
        part["_position"] = positions
        parts.append(part)
    if not parts:
        return pd.DataFrame({name: pd.Series(dtype="str") for name in QUARANTINE_COLUMNS}).astype(
            {"_row": "int64"}
        )
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["_order", "_position"], kind="stable")
    frame = frame[QUARANTINE_COLUMNS].reset_index(drop=True)
    for name in QUARANTINE_COLUMNS:
        if name != "_row":
            frame[name] = frame[name].astype("str")
    frame["_row"] = frame["_row"].astype("int64")
    return frame


def _duplicates_frame(sheets: dict[str, _Sheet]) -> list[pd.DataFrame]:
    """The exact duplicate rows' records, sheet by sheet (none: an empty list)."""
    frames = []
    for state in sheets.values():
        records = state.files.records if state.files is not None else None
        if records is not None and len(records):
            frames.append(records[QUARANTINE_COLUMNS])
    return frames


def _summary(
    sheets: dict[str, _Sheet],
    quarantine: pd.DataFrame,
    known_firms: pd.Index,
    excluded: dict[str, str],
    round_id: str,
    methodology: Methodology,
) -> dict[str, Any]:
    files = []
    sheet_counts = {}
    reconciled = True
    duplicates = []
    n_duplicates = 0
    for state in sheets.values():
        known = state.files
        assert known is not None  # set by _collapse_duplicates
        bad = np.bincount(known.codes[state.bad], minlength=len(known.shas))
        for index, sha256 in enumerate(known.shas):
            read, twice = int(known.rows_read[index]), int(known.duplicates[index])
            files.append(
                {
                    "file_name": known.names[index],
                    "file_sha256": sha256,
                    "sheet": state.name,
                    "rows_read": read,
                    "rows_accepted": read - twice - int(bad[index]),
                    "rows_quarantined": int(bad[index]),
                    "rows_duplicate": twice,
                }
            )
        n_bad = int(state.bad.sum())
        n_twice = int(known.duplicates.sum())
        n_duplicates += n_twice
        sheet_counts[state.name] = {
            "rows_read": len(state) + n_twice,
            "rows_accepted": len(state) - n_bad,
            "rows_quarantined": n_bad,
            "rows_duplicate": n_twice,
        }
        for file, sheet, row, first_file, first_sheet, first_row in known.collapsed:
            where = "" if (first_file, first_sheet) == (file, sheet) else (
                f" ({first_file}, sheet {first_sheet})"
            )  # fmt: skip
            duplicates.append(
                f"{file}, sheet {sheet}, row {row}: an exact duplicate of row {first_row}"
                f"{where}, collapsed into it"
            )
        in_quarantine = quarantine[quarantine["sheet"] == state.name]
        distinct = len(in_quarantine.drop_duplicates(["_file_sha256", "_row"]))
        reconciled &= distinct == n_bad

    rules = quarantine["rule"].value_counts().to_dict()
    checks = []
    for state in sheets.values():
        schema = state.schema
        assert schema is not None  # set by _check_rows
        names = ["type", *CELL_RULES, "required", *[rule.code for rule in schema.rules.values()]]
        if state.name == "ahp":
            names.insert(1, "saaty_scale")
        if any(state.kind(column.name) == "date" for column in state.sheet.columns):
            names.insert(1, IMPOSSIBLE_DATE[0])
        if schema.key_rule is not None:
            names.append(schema.key_rule.code)
        names += CROSS_SHEET_RULES[state.name]
        counts = quarantine.loc[quarantine["sheet"] == state.name, "rule"].value_counts()
        for name in dict.fromkeys(names):
            count = int(counts.get(name, 0))
            checks.append(
                {
                    "suite": state.name,
                    "check_name": name,
                    "success": count == 0,
                    "unexpected_count": count,
                }
            )

    firm_rows = quarantine[
        quarantine["sheet"].isin(["firms", "items", "sota", "ahp", "weights"])
        & quarantine["firm_id"].notna()
    ]
    problem_ids = set(firm_rows["firm_id"].unique())
    unknown_ids = problem_ids - set(known_firms)
    n_read = len(known_firms)
    denominator = n_read + len(unknown_ids)
    n_problems = len(problem_ids | set(excluded))
    share = n_problems / denominator if denominator else 0.0
    threshold = methodology.quarantine_threshold
    n_accepted = int(sheets["firms"].good.sum())
    blocked_reason = None
    if n_accepted == 0:
        blocked_reason = f"round {round_id}: no firm was accepted"
    # the share is judged against the threshold by the audit gate (round.quarantine_share)
    messages = quarantine["message"].head(MESSAGES_LISTED).tolist()
    excluded_list = [
        {"firm_id": firm_id, "reason": reason}
        for firm_id, reason in sorted(excluded.items())[:MESSAGES_LISTED]
    ]
    return {
        "round_id": round_id,
        "files": files,
        "sheets": sheet_counts,
        "rules": {str(key): int(value) for key, value in rules.items()},
        "checks": checks,
        "n_firms_read": n_read,
        "n_unknown_firm_ids": len(unknown_ids),
        "n_firms_accepted": n_accepted,
        "n_firms_excluded": len(excluded),
        "n_firms_with_problems": n_problems,
        "quarantine_share": share,
        "quarantine_threshold": threshold,
        "blocked": blocked_reason is not None,
        "blocked_reason": blocked_reason,
        "excluded_firms": excluded_list,
        "n_quarantine_records": len(quarantine),
        "reconciled": bool(reconciled),
        "messages": messages,
        "messages_not_listed": max(len(quarantine) - MESSAGES_LISTED, 0),
        "n_duplicate_rows": n_duplicates,
        "duplicates": duplicates[:DUPLICATES_LISTED],
    }


# ---------------------------------------------------------------- helpers

# Long arrays are worked through in blocks of this many rows (buffers used again).
_BLOCK_ROWS = 1 << 16
# A joint key is re-densified once its code space passes this size (a lookup table of the
# used codes, of this many entries at most, stands in for a hash table).
_DENSE_TABLE_LIMIT = 1 << 24


def _joint_codes(states: list[_Sheet], columns: list[str]) -> tuple[list[np.ndarray], int]:
    """Int64 codes of the combined key ``columns``, consistent across ``states``' rows; the
    number of codes.

    Null is a value of its own. No Python loop over rows: each column is coded over the
    sheets together (:func:`_codes_over`), the codes are combined column by column, and
    the combination is re-densified whenever its code space outgrows the rows, and at the
    end: the codes are 0..n-1 for n distinct keys.
    """
    lengths = [len(state) for state in states]
    total = sum(lengths)
    key = np.zeros(total, dtype="int64")
    size = 1
    for column in columns:
        coded = _codes_over([state.text(column) for state in states])
        width = coded.n_values + 1
        if size * width > max(2 * total, _DENSE_TABLE_LIMIT):
            key, size = _densify(key, size)
        key *= width
        key += np.concatenate(coded.codes) if len(states) > 1 else coded.codes[0]
        key += 1  # null (-1) is a value of its own
        size *= width
    if size > 1:
        key, size = _densify(key, size)
    return np.split(key, np.cumsum(lengths)[:-1]), size


def _densify(key: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """The codes renumbered 0..n-1 (n distinct codes), in the order of their values."""
    if size <= _DENSE_TABLE_LIMIT:
        used = np.zeros(size, dtype=bool)
        used[key] = True
        rank = np.cumsum(used, dtype="int64" if size > 2**31 - 1 else "int32") - 1
        return rank[key].astype("int64"), int(used.sum())
    dense, uniques = pd.factorize(key)
    return dense.astype("int64"), len(uniques)


@dataclass
class _Union:
    """Text columns of several sheets coded over their values together (:func:`_codes_over`):
    per column, each row's code (-1 for null) and each dictionary entry's; the values."""

    codes: list[np.ndarray]
    remaps: list[np.ndarray]
    values: pa.Array

    @property
    def n_values(self) -> int:
        return len(self.values)


def _codes_over(arrays: list[pa.Array]) -> _Union:
    """Integer codes of the text values of ``arrays`` taken together (-1 for null).

    Only the dictionaries are coded together (by Arrow's hash kernel, the biggest array's
    first): the biggest array's own indices are its codes, as they are (no copy), unless
    its dictionary holds a value twice; the others' are looked up in their dictionary's
    codes.
    """
    arrays = [
        array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
        for array in arrays
    ]
    biggest = max(range(len(arrays)), key=lambda index: len(arrays[index]))
    order = [biggest, *(index for index in range(len(arrays)) if index != biggest)]
    dictionaries = [arrays[index].dictionary.cast(pa.large_string()) for index in order]
    union = pc.dictionary_encode(pa.concat_arrays(dictionaries))
    numbers = indices(union)
    bounds = np.cumsum([len(dictionary) for dictionary in dictionaries])[:-1]
    codes: list[np.ndarray] = [np.empty(0)] * len(arrays)
    remaps: list[np.ndarray] = [np.empty(0)] * len(arrays)
    for index, remap in zip(order, np.split(numbers, bounds), strict=True):
        remaps[index] = remap
        own = indices(arrays[index])
        if index == biggest and np.array_equal(remap, np.arange(len(remap))):
            codes[index] = own
        else:
            codes[index] = np.append(remap, -1).astype(own.dtype, copy=False)[own]
    return _Union(codes, remaps, union.dictionary)


def _null_text(length: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.nulls(length, pa.int32()), pa.array([], pa.string()))


def _array(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array (the raw columns are read into one chunk each)."""
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks() if column.num_chunks else pa.array([], column.type)


def _cells(array: pa.Array, positions: np.ndarray) -> np.ndarray:
    """The values at ``positions`` as an object array (null as None)."""
    taken = array.take(pa.array(np.asarray(positions, dtype="int64")))
    if pa.types.is_dictionary(taken.type):
        taken = taken.dictionary_decode()
    if pa.types.is_integer(taken.type) and taken.null_count == 0:
        return taken.to_numpy().astype(object)
    return np.asarray(taken.to_pylist(), dtype=object)


def _present(array: pa.Array) -> np.ndarray:
    return pc.is_valid(array).to_numpy(zero_copy_only=False)


def _unique(array: pa.Array) -> pd.Index:
    """The distinct non-null values, in the order they first appear."""
    codes, values = distinct(array)
    used = pd.unique(codes[codes >= 0])
    return pd.Index(values.take(pa.array(used, pa.int64())).to_pylist(), dtype=object)


def _lookup(array: pa.Array, mapping: dict[str, int], missing: int) -> np.ndarray:
    """``mapping`` of each text value as int64; ``missing`` for null or an unmapped value."""
    codes, values = distinct(array)
    table = [mapping.get(value, missing) for value in values.to_pylist()]
    return np.asarray([*table, missing], dtype="int64")[codes]


def _first_appearance(array: pa.Array) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(codes, position of each value's first row, values) of a column without nulls,
    the values numbered in the order they first appear (a file's rows are contiguous, so
    only the starts of runs are looked at). The codes are of the smallest unsigned type
    (a few files: a byte per row)."""
    codes, values = distinct(array)
    if codes.size == 0:
        return codes, codes, []
    change = np.empty(len(codes), dtype=bool)
    change[0] = True
    np.not_equal(codes[1:], codes[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    del change
    order = pd.unique(codes[starts])
    if len(order) == 1:  # one file: all zeros (calloc'd: no page written)
        return np.zeros(len(codes), dtype="uint8"), starts[:1], [values[int(order[0])].as_py()]
    renumber = np.zeros(len(values), dtype=np.min_scalar_type(len(order)))
    renumber[order] = np.arange(len(order))
    codes = renumber[codes]
    first = starts[np.unique(codes[starts], return_index=True)[1]]
    return codes, first, values.take(pa.array(order, pa.int64())).to_pylist()


def _isin_values(array: pa.Array, values: Any) -> np.ndarray:
    """Whether each value of a dictionary-encoded column's dictionary is one of ``values``,
    by Arrow's hash kernel."""
    value_set = pa.array(np.asarray(values, dtype=object), type=pa.large_string())
    dictionary = array.dictionary.cast(pa.large_string())
    hits = pc.is_in(dictionary, value_set=value_set).to_numpy(zero_copy_only=False)
    return np.asarray(hits, dtype=bool)


def _rows_valued(array: pa.Array, flagged: np.ndarray, good: np.ndarray) -> np.ndarray:
    """The positions of the ``good`` rows of a dictionary-encoded column whose value (its
    dictionary entry) is ``flagged``; null is never. Nothing per row when no value is."""
    if not flagged.any():
        return np.zeros(0, dtype=np.intp)
    codes = indices(array)
    hit = np.append(flagged, False)[codes]
    hit &= good
    return np.flatnonzero(hit)


def _isin(array: pa.Array, values: Any) -> np.ndarray:
    """Whether each text value is one of ``values`` (null: False), by Arrow's hash kernel;
    a dictionary-encoded column is looked up by its dictionary."""
    if len(array) == 0:
        return np.zeros(0, dtype=bool)
    value_set = pa.array(np.asarray(values, dtype=object), type=pa.large_string())
    if pa.types.is_dictionary(array.type):
        codes = indices(array)
        dictionary = array.dictionary.cast(pa.large_string())
        hits = pc.is_in(dictionary, value_set=value_set).to_numpy(zero_copy_only=False)
        return np.append(np.asarray(hits, dtype=bool), False)[codes]
    found = pc.fill_null(pc.is_in(array.cast(pa.large_string()), value_set=value_set), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _distinct_ints(values: np.ndarray, size: int) -> np.ndarray:
    """The distinct values (each within 0..size-1): by a table of flags when ``size`` is
    moderate (no hashing of millions of values), else by pandas' hash table."""
    if size <= max(4 * len(values), _DENSE_TABLE_LIMIT):
        return np.flatnonzero(_flags(size, values))
    return pd.unique(values)


def _flags(size: int, positions: np.ndarray) -> np.ndarray:
    flags = np.zeros(size, dtype=bool)
    flags[positions] = True
    return flags


def _blank(values: np.ndarray) -> np.ndarray:
    return np.array([BLANK if not isinstance(value, str) else value for value in values], object)


def _render(
    template: str,
    state: _Sheet,
    positions: np.ndarray,
    column: str,
    extra: dict[str, np.ndarray],
) -> np.ndarray:
    """The template filled in per row: {value} the cell, {name} another cell or ``extra``."""
    out = np.full(len(positions), "", dtype=object)
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if name is None:
            continue
        if name in extra:
            values = np.asarray(extra[name], dtype=object)
        else:
            values = state.cells(column if name == "value" else name, positions)
        out = out + _blank(values)
    return out
