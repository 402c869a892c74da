"""Vectorised parsers from the raw text cells of an input file to typed values.

Every parser takes a column of text (null for an empty cell, surrounding spaces already
stripped by ingest) -- a pandas Series, or an Arrow array, plain or dictionary-encoded as
the validation step reads the raw frames -- and returns a :class:`Parsed`: the typed values
(a pandas Series, null where the cell was empty or could not be parsed) and ``invalid``, a
boolean array that is True where a non-empty cell could not be parsed. The validation step
turns ``invalid`` into quarantine records with the parser's rule code and message
(:data:`PARSERS`), so each type rule lives here and only here.

Series are built with ``copy=False``: pandas 3 copies a numpy array or an extension array
it is given otherwise (millions of rows, memory to clear).

A column of a survey has few distinct values (scores, components, dates, judgments, focus
lists), so every kind is parsed once per distinct value and mapped back by the codes of the
distinct values -- the dictionary of a dictionary-encoded column as it comes, or Arrow's
``dictionary_encode`` -- with no Python loop over the rows: numbers with pyarrow compute
kernels, the other kinds with a Python function per distinct value.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# One number: optional sign, digits with at most one decimal separator ("." or the decimal
# comma ","), optional exponent.
NUMBER_PATTERN = r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$"
# Thousands separators, only where they cannot be read as a decimal separator: groups of
# three digits separated by dots before a decimal comma ("1.234,5") or two groups or more
# ("1.234.567"); separated by commas before a decimal point ("1,234.5") or two groups or
# more ("1,234,567"). A single group ("1.234", "1,234") is a decimal number (1.234), as
# Excel renders numbers with a point and the contract reads "7,5" as 7.5 -- but in a whole
# number column (workers, ll, ul), where 1.234 cannot be, "1.234" is one thousand two
# hundred and thirty-four (Indonesian grouping).
_DOT_THOUSANDS = r"^[+-]?\d{1,3}(?:(?:\.\d{3}){2,}|(?:\.\d{3})+,\d*)$"
_COMMA_THOUSANDS = r"^[+-]?\d{1,3}(?:(?:,\d{3}){2,}|(?:,\d{3})+\.\d*)$"
_DOT_THOUSANDS_INTEGER = r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$"
_NUMBER_RE = re.compile(NUMBER_PATTERN)
_FRACTION_RE = re.compile(r"^([0-9.,eE+-]+)\s*/\s*([0-9.,eE+-]+)$")
_ISO_DATE_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$"
)
# Day first, as dates are written in Indonesia: 11/01/2023, 11-01-2023, 11.01.2023 (a
# four-digit year; the same separator twice; a time part is dropped).
_DAY_FIRST_RE = re.compile(
    r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
# Excel's serial day numbers (1900 date system): day 1 is 1900-01-01, 2958465 is 9999-12-31.
# Excel counts 1900 as a leap year (as Lotus 1-2-3 did): day 60 is 1900-02-29, a day that
# never existed, and the days before it count from 1899-12-31, those after from 1899-12-30.
EXCEL_EPOCH = dt.date(1899, 12, 30)
EXCEL_EARLY_EPOCH = dt.date(1899, 12, 31)
EXCEL_PHANTOM_SERIAL = 60
EXCEL_SERIAL_MAX = 2958465
PHANTOM_LEAP_DAY = (1900, 2, 29)
# Integers are kept exact only within float64's integer range.
_MAX_SAFE_INTEGER = 2**53
SIZE_CLASSES = {
    "micro": "micro",
    "small": "small",
    "medium": "medium",
    # the Indonesian terms of the UMKM law
    "mikro": "micro",
    "kecil": "small",
    "menengah": "medium",
}
_FOCUS_SPLIT_RE = re.compile(r"[,;/+&\s]+")


class Parsed(NamedTuple):
    """Typed values and the mask of non-empty cells that could not be parsed.

    A text kind (free text, components, focus lists, size classes) gives its values as a
    pandas categorical Series (:func:`text_categories`) and also ``text``: the values as a
    dictionary-encoded Arrow array (for free text, the column as it came), for the Arrow
    work that follows and the accepted frame -- neither builds a string per row.
    """

    values: pd.Series
    invalid: np.ndarray
    text: pa.DictionaryArray | None = None


@dataclass(frozen=True)
class Parser:
    """A parser of one column kind with the quarantine rule and message of its failures."""

    kind: str
    rule: str
    message: str  # message tail after "<value> "
    function: Callable[..., Parsed]


Text = pd.Series | pa.Array | pa.ChunkedArray
"""A column of text cells: a pandas Series or an Arrow (dictionary-encoded) string array."""


def _text(series: pd.Series) -> pd.Series:
    """The series as pandas text (the default ``str`` dtype)."""
    if isinstance(series.dtype, pd.StringDtype):
        return series
    return series.astype("str")


def _index(values: Text) -> pd.Index:
    return values.index if isinstance(values, pd.Series) else pd.RangeIndex(len(values))


def _arrow(values: Text) -> pa.Array:
    """One Arrow array of the values: string, large_string or dictionary-encoded string."""
    if isinstance(values, pd.Series):
        values = pa.array(_text(values), from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    return values


def text_series(values: Text) -> pd.Series:
    """The values as a pandas text Series (``str`` dtype, Arrow-backed, nothing copied but
    a dictionary-encoded column's decoding)."""
    if isinstance(values, pd.Series):
        return _text(values)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    if values.type != pa.large_string():
        values = values.cast(pa.large_string())
    return values.to_pandas()


def indices(array: pa.DictionaryArray) -> np.ndarray:
    """A dictionary-encoded column's indices as numpy, -1 for null: the Arrow buffer itself
    when no value is null (``fill_null`` would copy it all the same)."""
    if array.null_count == 0:
        return array.indices.to_numpy(zero_copy_only=False)
    return pc.fill_null(array.indices, -1).to_numpy(zero_copy_only=False)


def _text_index(values: pa.Array) -> pd.Index:
    """Arrow text as a pandas ``str`` Index, without a Python string per value."""
    if values.type not in (pa.string(), pa.large_string()):
        values = values.cast(pa.large_string())
    return pd.Index(values.to_pandas(types_mapper=_STR_TYPES.get), dtype="str")


_STR_TYPES = {
    pa.string(): pd.StringDtype(na_value=np.nan),
    pa.large_string(): pd.StringDtype(na_value=np.nan),
}


def text_categories(array: pa.DictionaryArray, index: pd.Index | None = None) -> pd.Series:
    """A dictionary-encoded text column as a pandas categorical Series: the rows' codes into
    the distinct values, nothing decoded per row (a value twice in the dictionary is made
    unique first). The typed frame the pandera schemas validate holds text this way."""
    codes = indices(array)
    dictionary = array.dictionary
    if dictionary.null_count:
        return text_series(array).set_axis(
            index if index is not None else pd.RangeIndex(len(codes))
        )
    try:  # pandas checks that the categories are unique (as a dictionary's are, as a rule)
        values = pd.Categorical.from_codes(
            codes, categories=_text_index(dictionary), validate=False
        )
    except ValueError:
        unique = pc.dictionary_encode(dictionary)
        codes = np.append(unique.indices.to_numpy(zero_copy_only=False), -1)[codes]
        categories = _text_index(unique.dictionary)
        values = pd.Categorical.from_codes(codes, categories=categories, validate=False)
    index = index if index is not None else pd.RangeIndex(len(codes))
    return pd.Series(values, index=index, copy=False)


def distinct(values: Text) -> tuple[np.ndarray, pa.Array]:
    """(codes, distinct values): integer codes into the distinct values, -1 for an empty cell.

    A dictionary-encoded column's dictionary is used as it is (it may hold values no row
    has); other columns are dictionary-encoded by Arrow's hash kernel.
    """
    array = _arrow(values)
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    return indices(array), array.dictionary


def _map_distinct(
    values: Text,
    function: Callable[[str], Any],
    dtype: Any = object,
    missing: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``function`` to each distinct value once; None means "could not be parsed".

    Returns (values aligned with the column, of ``dtype`` with ``missing`` where empty or
    unparsable; the invalid mask).
    """
    codes, uniques = distinct(values)
    parsed = [function(value) for value in uniques.to_pylist()]
    failed = np.array([value is None for value in parsed], dtype=bool)
    table = np.array([missing if value is None else value for value in parsed] + [missing])
    table = table.astype(dtype) if dtype is not object else table.astype(object)
    return table[codes], _rows_failed(failed, codes)  # code -1 (empty cell): the last


# ---------------------------------------------------------------- numbers


def _without_thousands(uniques: pa.Array, integer: bool) -> pa.Array:
    """The distinct values with their thousands separators removed (see _DOT_THOUSANDS)."""
    dots = _DOT_THOUSANDS_INTEGER if integer else _DOT_THOUSANDS
    cleaned = pc.if_else(
        pc.match_substring_regex(uniques, dots), pc.replace_substring(uniques, ".", ""), uniques
    )
    return pc.if_else(
        pc.match_substring_regex(cleaned, _COMMA_THOUSANDS),
        pc.replace_substring(cleaned, ",", ""),
        cleaned,
    )


def _numbers(values: Text, integer: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float64 values, NaN where empty or invalid; the invalid mask; the codes: -1 where
    empty)."""
    codes, uniques = distinct(values)
    uniques = _without_thousands(uniques, integer)
    matches = pc.match_substring_regex(uniques, NUMBER_PATTERN)
    cleaned = pc.replace_substring(uniques, ",", ".")
    numbers = pc.if_else(matches, cleaned, pa.scalar(None, cleaned.type))
    table = pc.fill_null(numbers.cast(pa.float64()), float("nan"))
    table = table.to_numpy(zero_copy_only=False)
    finite = np.isfinite(table)
    table = np.append(np.where(finite, table, np.nan), np.nan)
    return table[codes], _rows_failed(~finite, codes), codes  # code -1 picks the NaN


def _rows_failed(failed: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The rows whose distinct value (by code; -1: none) failed to parse. When none did,
    zeros that are never written (calloc'd pages: no memory to clear)."""
    if not failed.any():
        return np.zeros(len(codes), dtype=bool)
    return np.append(failed, False)[codes]


def parse_number(series: Text) -> Parsed:
    """Decimal numbers: "7.5", "7,5" (decimal comma), "-3", "1e3", "1.234,5" and "1,234.5"
    (thousands separators, see ``_DOT_THOUSANDS``; "1.234" is 1.234). Non-finite is invalid."""
    values, invalid, _ = _numbers(series)
    return Parsed(pd.Series(values, index=_index(series), dtype="float64", copy=False), invalid)


def parse_integer(series: Text) -> Parsed:
    """Whole numbers: "3", "3.0", "3,0" are 3; "3.5" is not an integer; "1.234" and
    "1.234.567" are 1234 and 1234567 (dots grouping thousands, as written in Indonesia)."""
    values, invalid, codes = _numbers(series, integer=True)
    present = codes >= 0
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.floor(values) == values)
        whole &= np.abs(values) <= _MAX_SAFE_INTEGER
    invalid = invalid | (present & ~whole)
    result = pd.arrays.IntegerArray(np.where(whole, values, 0).astype("int64"), ~whole)
    return Parsed(pd.Series(result, index=_index(series), copy=False), invalid)


# ---------------------------------------------------------------- dates


def _date_or_none(text: str) -> dt.date | None:
    match = _ISO_DATE_RE.match(text)
    if match:
        try:
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return None
    day_first = _DAY_FIRST_RE.match(text)
    if day_first:
        day, _, month, year = day_first.groups()
        try:
            return dt.date(int(year), int(month), int(day))
        except ValueError:
            return None  # e.g. 01/13/2023, month first: not guessed
    if _NUMBER_RE.match(text):
        serial = float(text.replace(",", "."))
        if 1 <= serial < EXCEL_PHANTOM_SERIAL:
            return EXCEL_EARLY_EPOCH + dt.timedelta(days=math.floor(serial))
        if EXCEL_PHANTOM_SERIAL + 1 <= serial < EXCEL_SERIAL_MAX + 1:
            return EXCEL_EPOCH + dt.timedelta(days=math.floor(serial))
    return None


def _is_phantom_leap_day(text: str) -> bool:
    """Whether the text is 1900-02-29 (ISO or day first) or Excel's serial day 60."""
    match = _ISO_DATE_RE.match(text)
    if match:
        return tuple(int(part) for part in match.group(1, 2, 3)) == PHANTOM_LEAP_DAY
    day_first = _DAY_FIRST_RE.match(text)
    if day_first:
        day, _, month, year = day_first.groups()
        return (int(year), int(month), int(day)) == PHANTOM_LEAP_DAY
    if _NUMBER_RE.match(text):
        serial = float(text.replace(",", "."))
        return EXCEL_PHANTOM_SERIAL <= serial < EXCEL_PHANTOM_SERIAL + 1
    return False


def phantom_leap_days(series: Text) -> np.ndarray:
    """The rows whose date is 1900-02-29 -- Excel's serial day 60, a day that never existed
    (:func:`parse_date` finds them invalid; the validation step names the reason with
    :data:`IMPOSSIBLE_DATE`)."""
    codes, uniques = distinct(series)
    flags = np.array([_is_phantom_leap_day(value) for value in uniques.to_pylist()] + [False])
    return flags[codes]


def _day_or_none(text: str) -> np.datetime64 | None:
    day = _date_or_none(text)
    return None if day is None else np.datetime64(day, "D")


def parse_date(series: Text) -> Parsed:
    """ISO dates ("2023-01-11", also with a time part, which is dropped) or Excel serials.

    A cell of an Excel date format arrives as "2023-01-11 00:00:00"; a date typed into a
    cell without a date format arrives as its serial day number ("44937" = 2023-01-11,
    a fraction is the time of day and is dropped; serial 60, Excel's 1900-02-29, is no
    date: :func:`phantom_leap_days`). A text date is read day first, as
    written in Indonesia: "11/01/2023" (also with "-" or ".") is 2023-01-11; a month-first
    date whose "month" is over 12 ("01/13/2023") is invalid, never swapped.
    """
    values, invalid = _map_distinct(
        series, _day_or_none, dtype="datetime64[D]", missing=np.datetime64("NaT")
    )
    result = pd.Series(values.astype("datetime64[s]"), index=_index(series), copy=False)
    return Parsed(result, invalid)


# ---------------------------------------------------------------- components and lists


def _map_text(
    series: Text, function: Callable[[str], str | None]
) -> tuple[pd.Series, np.ndarray, pa.DictionaryArray]:
    """Text to text, once per distinct value (None: could not be parsed).

    Returns the text Series, the invalid mask and the same values dictionary-encoded: the
    rows' codes into the distinct values, remapped to the distinct results -- no Python
    object per row.
    """
    codes, uniques = distinct(series)
    parsed = [function(value) for value in uniques.to_pylist()]
    failed = np.array([value is None for value in parsed], dtype=bool)
    results = list(dict.fromkeys(value for value in parsed if value is not None))
    number = {value: index for index, value in enumerate(results)}
    # the codes of the pandas categorical are of the smallest type; the Arrow array shares
    # them (a byte per row, as a rule)
    code_type = np.int8 if len(results) < 2**7 else np.int16 if len(results) < 2**15 else np.int32
    remap = np.array([number.get(value, -1) for value in parsed] + [-1], dtype=code_type)
    new_codes = remap[codes]  # code -1 (empty cell) picks the trailing -1
    empty = (codes < 0).any() or failed.any()
    dictionary = pa.array(results, pa.string())
    array = pa.DictionaryArray.from_arrays(
        pa.array(new_codes, mask=new_codes < 0 if empty else None), dictionary
    )
    categories = _text_index(dictionary)
    values = pd.Categorical.from_codes(new_codes, categories=categories, validate=False)
    return pd.Series(values, index=_index(series), copy=False), _rows_failed(failed, codes), array


def parse_component(series: Text, aliases: dict[str, str]) -> Parsed:
    """Component codes and their aliases, case-insensitive ("technoware", "t" -> "T")."""
    return Parsed(*_map_text(series, lambda text: aliases.get(text.lower())))


def parse_focus(series: Text, aliases: dict[str, str], order: Sequence[str]) -> Parsed:
    """A list of components, normalised: "T, h" -> "T,H"; "humanware; T" -> "T,H"."""
    rank = {code: position for position, code in enumerate(order)}

    def one(text: str) -> str | None:
        parts = [part for part in _FOCUS_SPLIT_RE.split(text) if part]
        codes = {aliases.get(part.lower()) for part in parts}
        if not parts or None in codes:
            return None
        return ",".join(sorted(codes, key=rank.__getitem__))

    return Parsed(*_map_text(series, one))


def parse_size_class(series: Text) -> Parsed:
    """micro, small, medium (case-insensitive; mikro, kecil, menengah also accepted)."""
    return Parsed(*_map_text(series, lambda text: SIZE_CLASSES.get(text.lower())))


def parse_text(series: Text) -> Parsed:
    """Free text, as given (ingest already stripped it and made empty cells null)."""
    array = _arrow(series)
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array.cast(pa.string()))
    return Parsed(text_categories(array, _index(series)), np.zeros(len(series), dtype=bool), array)


# ---------------------------------------------------------------- Saaty judgments


def _judgment_number(text: str) -> float | None:
    fraction = _FRACTION_RE.match(text)
    if fraction:
        numerator, denominator = fraction.groups()
        if not (_NUMBER_RE.match(numerator) and _NUMBER_RE.match(denominator)):
            return None
        top = float(numerator.replace(",", "."))
        bottom = float(denominator.replace(",", "."))
        return top / bottom if bottom > 0 else None
    if _NUMBER_RE.match(text):
        return float(text.replace(",", "."))
    return None


def snap_to_scale(
    numbers: np.ndarray, scale: Iterable[float], tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest scale value within ``tolerance`` (relative) of each number, else NaN.

    Returns (snapped values, mask of numbers that are on the scale).
    """
    scale_values = np.asarray(sorted(scale), dtype="float64")
    numbers = np.asarray(numbers, dtype="float64")
    if numbers.size == 0:
        return numbers.copy(), np.zeros(0, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.abs(numbers[:, None] - scale_values[None, :]) / scale_values[None, :]
    distance = np.where(np.isnan(distance), np.inf, distance)
    nearest = distance.argmin(axis=1)
    ok = distance[np.arange(len(numbers)), nearest] <= tolerance
    return np.where(ok, scale_values[nearest], np.nan), ok


def exact_saaty_values(scale: Iterable[float]) -> list[float]:
    """The scale values as exact floats: 1/3 is 1/3 (not 0.3333), whatever the settings say."""
    exact = set()
    for value in scale:
        fraction = Fraction(value).limit_denominator(100)
        exact.add(fraction.numerator / fraction.denominator)
    return sorted(exact)


def parse_judgment(series: Text, scale: Iterable[float], tolerance: float) -> Parsed:
    """A Saaty judgment: "3", "1/3", "0.3333" or "0,3333" -> the exact scale value.

    A number within ``tolerance`` (relative, default 1 %) of a scale value is that value;
    anything else (0.4, 10, 0, text) is invalid.
    """
    codes, uniques = distinct(series)
    numbers = np.array([_judgment_number(value) for value in uniques.to_pylist()], "float64")
    snapped, on_scale = snap_to_scale(numbers, exact_saaty_values(scale), tolerance)
    values = np.append(snapped, np.nan)[codes]  # code -1 (empty cell) picks the NaN
    invalid = _rows_failed(~on_scale, codes)
    return Parsed(pd.Series(values, index=_index(series), dtype="float64", copy=False), invalid)


# ---------------------------------------------------------------- registry

TYPE_MESSAGES = {
    "text": "is not text",
    "integer": "is not a whole number",
    "number": "is not a number",
    "date": "is not a date (use YYYY-MM-DD, DD/MM/YYYY or an Excel date)",
    "component": "is not a component (T, H, I, O or technoware, humanware, infoware, orgaware)",
    "judgment": "is not a value of Saaty's scale (1/9 .. 1/2, 1 .. 9)",
    "focus": "is not a list of components (e.g. T,H)",
    "size_class": "is not a size class (micro, small, medium)",
}

# A date that is Excel's day 60 (1900-02-29): a rule of its own, for the message to say why.
IMPOSSIBLE_DATE = (
    "impossible_date",
    "is not a date: 1900-02-29 (Excel's serial day 60) never existed, Excel counts 1900 as "
    "a leap year; enter the real date",
)

PARSERS: dict[str, Parser] = {
    "text": Parser("text", "type", TYPE_MESSAGES["text"], parse_text),
    "integer": Parser("integer", "type", TYPE_MESSAGES["integer"], parse_integer),
    "number": Parser("number", "type", TYPE_MESSAGES["number"], parse_number),
    "date": Parser("date", "type", TYPE_MESSAGES["date"], parse_date),
    "component": Parser("component", "type", TYPE_MESSAGES["component"], parse_component),
    "judgment": Parser("judgment", "saaty_scale", TYPE_MESSAGES["judgment"], parse_judgment),
    "focus": Parser("focus", "type", TYPE_MESSAGES["focus"], parse_focus),
    "size_class": Parser("size_class", "type", TYPE_MESSAGES["size_class"], parse_size_class),
}
