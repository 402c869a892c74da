"""What the per-sheet pandera schemas share: dtypes, the rule book, and running a schema.

Every check of a sheet schema is registered in a :class:`RuleBook` with its quarantine
rule code, the column the quarantine record names and the message tail, so that the rule,
its check and its message live in one place (the sheet's module). A sheet's key is checked
by :func:`unique_key` (the sheet's ``key_rule``). :func:`run_schema` validates lazily and
returns one failure per (row, check).

Message tails are templates: ``{value}`` is the original text of the named cell and
``{<column>}`` the original text of another cell of the same row; the validation step
prefixes "file, sheet S, row N, column C: ".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc

TEXT = pd.StringDtype(na_value=np.nan)
INTEGER = "Int64"
NUMBER = "float64"
DATE = np.dtype("datetime64[s]")
FIRM_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
KBLI_PATTERN = r"^\d{2}(\d{3})?$"

REQUIRED_CHECK = "not_nullable"
KEY_CHECK = "unique_key"
UNIQUE_CHECKS = ("multiple_fields_uniqueness", "field_uniqueness", KEY_CHECK)


@dataclass(frozen=True)
class Rule:
    """A quarantine rule: code, the column its record names (None: the failing column)."""

    code: str
    message: str
    column: str | None = None


REQUIRED = Rule("required", "a value is required")


@dataclass
class SheetSchema:
    """A sheet's pandera schema with the rule of each of its checks."""

    sheet: str
    schema: pa.DataFrameSchema
    rules: dict[str, Rule]
    key: list[str] = field(default_factory=list)
    key_rule: Rule | None = None


def keyed_sheet(
    sheet: str,
    schema: pa.DataFrameSchema,
    book: RuleBook,
    key: list[str],
    message: str,
    column: str,
) -> SheetSchema:
    """A sheet schema whose key must be unique; ``message`` names a duplicate (``{also}``
    lists the other places)."""
    return SheetSchema(
        sheet, schema, book.rules, key=key, key_rule=Rule("duplicate_key", message, column)
    )


class RuleBook:
    """Collects the checks of one schema with their rules."""

    def __init__(self) -> None:
        self.rules: dict[str, Rule] = {}

    def firm_id(self) -> pa.Check:
        """The firm id pattern of the input contract (firms and programs sheets)."""
        return self.check(
            "firm_id_pattern",
            lambda series: fullmatch(series, FIRM_ID_PATTERN),
            "pattern",
            "{value} is not a valid firm id (1 to 64 of A-Z a-z 0-9 . _ -)",
        )

    def check(
        self, name: str, function: Any, code: str, message: str, column: str | None = None
    ) -> pa.Check:
        """A vectorised check (Series -> bool Series, or DataFrame -> bool Series)."""
        if name in self.rules:
            raise ValueError(f"check {name} defined twice")
        self.rules[name] = Rule(code, message, column)
        return pa.Check(function, name=name)


def fullmatch(series: pd.Series, pattern: str) -> pd.Series:
    """Whether each text value matches ``pattern`` as a whole (null: False), as
    ``series.str.fullmatch``. A categorical Series (the validation step's text, e.g. 100,000
    firm ids) has its distinct values matched once each by Arrow's regex kernel (RE2: the
    same matches as Python's ``re`` for a pattern of ASCII classes, as the firm id's).
    """
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return series.str.fullmatch(pattern)
    categories = pa_arrow.array(series.cat.categories.array, type=pa_arrow.large_string())
    hits = pc.match_substring_regex(categories, f"^(?:{pattern})$")
    table = np.append(np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool), False)
    return pd.Series(table[series.array.codes], index=series.index, copy=False)


def fmt(number: float) -> str:
    """A setting's number as people write it: 1.0 -> "1", 0.005 -> "0.005"."""
    return f"{number:g}"


def weight_within(book: RuleBook, name: str, methodology: Any) -> pa.Check:
    """A weight > 0 within the methodology's ``weight_ranges.<name>`` (a weight <= 0 is the
    sheet's "greater than 0" rule alone). Far from that range a weighted sum overflows to
    inf or loses digits in the subnormal doubles."""
    low, high = methodology.weight_range(name)
    return book.check(
        f"{name}_within_range",
        lambda series: (series <= 0) | ((series >= low) & (series <= high)),
        "range",
        f"{{value}} is outside the allowed range {fmt(low)}..{fmt(high)} of weight_ranges.{name}"
        " in the methodology file",
    )


def unique_key(key: list[str]) -> pa.Check:
    """The columns ``key`` unique together; every row of a repeated key fails (null equals
    null), as pandera's ``unique=key, report_duplicates="all"``.

    A check of its own rather than pandera's ``unique``: that one hashes the rows' values
    as pandas tuples (seconds for millions of rows); this codes each column with Arrow's
    hash kernel and finds equal keys by sorting the combined codes (:func:`duplicated`).
    """
    return pa.Check(
        lambda frame: pd.Series(~duplicated(frame, key), index=frame.index, copy=False),
        name=KEY_CHECK,
        ignore_na=False,
    )


def duplicated(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Rows whose values of ``columns`` (together) another row has as well."""
    length = len(frame)
    coded = []
    for name in columns:
        series = frame[name]
        if isinstance(series.dtype, pd.CategoricalDtype):  # no list of the values needed
            coded.append((series.array.codes, len(series.cat.categories)))
        else:
            codes, values = value_codes(series)
            coded.append((codes, len(values)))
    found = repeated_rows(coded, length)
    if found is None:
        return np.zeros(length, dtype=bool)
    order, starts = found
    # sorted, a row is repeated when it is not alone between two key starts
    same = ~starts[1:]  # a row with the key of the row before it
    repeated = np.zeros(length, dtype=bool)
    repeated[1:] = same
    repeated[:-1] |= same
    result = np.empty(length, dtype=bool)
    result[order] = repeated
    return result


Coded = list[tuple[np.ndarray, int]]
"""Columns as (codes, -1 for null; the number of distinct values), null a value of its own."""


def repeated_rows(
    columns: Coded, length: int, then: Coded | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Whether rows repeat their values of the columns together: None when no two rows do;
    else (a stable order of the rows by those values, and where in that order each distinct
    combination starts: its first row comes first).

    ``columns`` (labels: ids, codes) are combined outermost first in the order of how often
    their value changes from one row to the next: a sheet's rows come grouped (a firm's
    items, an item's raters, a rater's criteria), and the combined key then increases along
    the rows -- all distinct, checked block by block in small reused buffers, with no
    array as long as the sheet. ``then`` (measures: scores, dates, in no particular order)
    come after, as given, when the labels do not increase: then the whole key is built and
    sorted (a merge sort: quick on nearly ordered keys), not hashed.
    """
    if length < 2:
        return None
    if len(columns) > 1:
        counts = [_changes(codes) for codes, _ in columns]
        columns = [columns[index] for index in np.argsort(counts, kind="stable")]
    size = 1
    for _, n_values in columns:
        size *= n_values + 1
    # labels all distinct: so are the rows
    if columns and size < 2**62 and _increasing(columns, length, _key_dtype(size)):
        return None
    key = combined_key([*columns, *(then or [])], length)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    del key
    starts = np.empty(length, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    del ordered
    if starts.all():
        return None
    return order, starts


def combined_key(columns: Coded, length: int) -> np.ndarray:
    """One integer per row standing for its values of the columns together (equal keys for
    equal values in every column), ordered as the columns one within the other.

    A mixed-radix number, a digit per column: codes + 1 in base n_values + 1; the "+ 1" of
    every digit adds up to a constant, left out (the keys stay distinct and in the same
    order, some negative): two passes a column. int32 when the code space allows (half the
    memory to write), else int64, renumbered when it would outgrow int64.
    """
    if not columns:
        return np.zeros(length, dtype="int32")
    size = 1
    for _, n_values in columns:
        size *= n_values + 1
    first, n_first = columns[0]
    key = np.array(first, dtype=_key_dtype(size))
    size = n_first + 1
    for codes, n_values in columns[1:]:
        width = n_values + 1
        if size * width >= 2**62:  # keep the combined code within int64
            dense, uniques = pd.factorize(key)
            key, size = dense.astype("int64"), len(uniques)
        key *= width
        key += codes
        size *= width
    return key


def _key_dtype(size: int) -> str:
    return "int32" if size <= 2**31 - 1 else "int64"


# Keys are checked in blocks of this many rows (buffers that stay in the CPU cache).
_BLOCK_ROWS = 1 << 16


def _increasing(columns: Coded, length: int, dtype: str) -> bool:
    """Whether the combined key (:func:`combined_key`) increases along the rows, computed a
    block at a time in two reused buffers."""
    key = np.empty(_BLOCK_ROWS + 1, dtype=dtype)
    greater = np.empty(_BLOCK_ROWS, dtype=bool)
    first, _ = columns[0]
    for start in range(0, length - 1, _BLOCK_ROWS):
        low, high = start, min(start + _BLOCK_ROWS + 1, length)  # a row shared with the next
        block = key[: high - low]
        np.copyto(block, first[low:high], casting="unsafe")
        for codes, n_values in columns[1:]:
            block *= n_values + 1
            block += codes[low:high]
        if not np.greater(block[1:], block[:-1], out=greater[: high - low - 1]).all():
            return False
    return True


# How often a column's value changes is counted on this many blocks of rows of this size
# spread over a long sheet (the rows' grouping shows in any part of the sheet).
_SAMPLE_BLOCKS, _SAMPLE_ROWS = 64, 1024


def _changes(codes: np.ndarray) -> int:
    """How many times the codes change from one row to the next (in a long column: in a
    sample of blocks of rows)."""
    length = len(codes)
    if length <= 2 * _SAMPLE_BLOCKS * _SAMPLE_ROWS:
        return int(np.count_nonzero(codes[1:] != codes[:-1]))
    starts = np.linspace(0, length - _SAMPLE_ROWS, _SAMPLE_BLOCKS).astype("int64")
    blocks = codes[starts[:, None] + np.arange(_SAMPLE_ROWS)]
    return int(np.count_nonzero(blocks[:, 1:] != blocks[:, :-1]))


Codes = tuple[np.ndarray, list[Any]]
# Codes a caller already has for text Series it validates: id(Arrow data) -> (the data, a
# function giving the codes). See known_codes.
_KNOWN_CODES: dict[int, tuple[Any, Callable[[], Codes | None]]] = {}


@contextmanager
def known_codes(
    columns: Iterable[tuple[pd.Series, Callable[[], Codes | None]]],
) -> Iterator[None]:
    """Within the block, :func:`value_codes` of each of these text Series calls the function
    given with it for the codes and distinct values (as :func:`value_codes` returns them, or
    None: not known after all) instead of hashing the text: the caller has them already, e.g.
    in the dictionary-encoded column the Series was decoded from. A Series is recognised by
    the identity of its Arrow data (held here for the block), so a Series derived from it is
    never taken for it.
    """
    entries = {}
    for series, codes in columns:
        data = _arrow_data(series)
        if data is not None:
            entries[id(data)] = (data, codes)
    _KNOWN_CODES.update(entries)
    try:
        yield
    finally:
        for key in entries:
            _KNOWN_CODES.pop(key, None)


def _arrow_data(series: pd.Series) -> Any:
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return series.array.__arrow_array__()
    return None


def value_codes(series: pd.Series) -> Codes:
    """(integer codes of the values, -1 for null; the distinct values the codes index).

    A categorical Series (the validation step's text columns) gives its own codes and
    categories. Other text is coded by Arrow's hash kernel (``dictionary_encode``) on the
    column's own Arrow data (unless :func:`known_codes` has the codes); other dtypes by
    ``pd.factorize``.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        # the validation step's text: codes and distinct values as they are
        return series.array.codes, series.cat.categories.tolist()
    data = _arrow_data(series)
    if data is not None:
        known = _KNOWN_CODES.get(id(data))
        if known is not None and known[0] is data:
            codes = known[1]()
            if codes is not None and len(codes[0]) == len(series):
                return codes
        encoded = pa_arrow.array(series, from_pandas=True).dictionary_encode()
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        return codes, encoded.dictionary.to_pylist()
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, list(uniques)


def text(nullable: bool = True, checks: list[pa.Check] | None = None) -> pa.Column:
    """A text column: the parsers' text (thio.parse), a pandas categorical Series of strings
    as the validation step builds it (no string per row) or a ``str`` Series. Its storage
    is not checked (dtype None): the checks look at the values."""
    return pa.Column(None, nullable=nullable, checks=checks or [])


def column(dtype: Any, nullable: bool = True, checks: list[pa.Check] | None = None) -> pa.Column:
    return pa.Column(dtype, nullable=nullable, checks=checks or [])


def run_schema(sheet_schema: SheetSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate lazily; one row per (frame position, check) that failed.

    Columns: ``position`` (int, the frame's row position; the frame has a RangeIndex),
    ``column_name``, ``rule``, ``message`` (the template) and ``priority`` (column checks 1,
    row checks 2, key uniqueness 3: a cell keeps the first of its failures).
    """
    empty = pd.DataFrame(
        {
            "position": pd.Series(dtype="int64"),
            "column_name": pd.Series(dtype="str"),
            "rule": pd.Series(dtype="str"),
            "message": pd.Series(dtype="str"),
            "priority": pd.Series(dtype="int64"),
        }
    )
    try:
        sheet_schema.schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return empty
    if cases["index"].isna().any():
        broken = cases[cases["index"].isna()].iloc[0]
        raise RuntimeError(
            f"schema of sheet {sheet_schema.sheet}: {broken['check']} failed for column "
            f"{broken['column']} ({broken['failure_case']}); the parsed frame is not as expected"
        )
    cases = cases.drop_duplicates(["index", "check"])
    rows = []
    for (check, schema_context), group in cases.groupby(["check", "schema_context"], sort=False):
        positions = group["index"].to_numpy(dtype="int64")
        if check == REQUIRED_CHECK:
            for column_name, by_column in group.groupby("column"):
                rows.append(_failures(by_column["index"], column_name, REQUIRED, 1))
            continue
        if check in UNIQUE_CHECKS:
            rule = sheet_schema.key_rule
            assert rule is not None and rule.column is not None
            rows.append(_failures(positions, rule.column, rule, 3))
            continue
        rule = sheet_schema.rules.get(check)
        if rule is None:
            raise RuntimeError(f"schema of sheet {sheet_schema.sheet}: unregistered check {check}")
        if schema_context == "Column":
            for column_name, by_column in group.groupby("column"):
                rows.append(_failures(by_column["index"], rule.column or column_name, rule, 1))
        else:
            assert rule.column is not None, f"row check {check} must name its column"
            rows.append(_failures(positions, rule.column, rule, 2))
    return pd.concat([empty, *rows], ignore_index=True) if rows else empty


def _failures(positions: Any, column_name: str, rule: Rule, priority: int) -> pd.DataFrame:
    positions = np.asarray(positions, dtype="int64")
    return pd.DataFrame(
        {
            "position": positions,
            "column_name": pd.Series([column_name] * len(positions), dtype="str"),
            "rule": pd.Series([rule.code] * len(positions), dtype="str"),
            "message": pd.Series([rule.message] * len(positions), dtype="str"),
            "priority": np.full(len(positions), priority, dtype="int64"),
        }
    )


def scope_checks(book: RuleBook) -> list[pa.Check]:
    """ahp and weights: a row's scope is a firm (firm_id) or a sector panel (panel_id)."""
    return [
        book.check(
            "scope_both",
            lambda frame: ~(frame["firm_id"].notna() & frame["panel_id"].notna()),
            "scope",
            "firm_id {value} and panel_id {panel_id} are both given; give one of them",
            column="firm_id",
        ),
        book.check(
            "scope_none",
            lambda frame: frame["firm_id"].notna() | frame["panel_id"].notna(),
            "scope",
            "firm_id and panel_id are both empty; give one of them",
            column="firm_id",
        ),
    ]
