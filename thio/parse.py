"""Vectorised parsers from the raw text cells of an input file to typed values.

Every parser takes a pandas Series of text (null for an empty cell, surrounding spaces
already stripped by ingest) and returns a :class:`Parsed`: the typed values (null where the
cell was empty or could not be parsed) and ``invalid``, a boolean array that is True where
a non-empty cell could not be parsed. The validation step turns ``invalid`` into quarantine
records with the parser's rule code and message (:data:`PARSERS`), so each type rule lives
here and only here.

Numbers are parsed with pyarrow compute kernels; the other kinds have few distinct values
(components, dates, judgments, focus lists), so they are parsed once per distinct value and
mapped back with ``pd.factorize`` -- no Python loop over the rows.
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
# comma ","), optional exponent. No thousands separators: "1,234" is 1.234, "1.234,5" is
# not a number.
NUMBER_PATTERN = r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$"
_NUMBER_RE = re.compile(NUMBER_PATTERN)
_FRACTION_RE = re.compile(r"^([0-9.,eE+-]+)\s*/\s*([0-9.,eE+-]+)$")
_ISO_DATE_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$"
)
# Excel's serial day numbers (1900 date system): day 1 is 1900-01-01, 2958465 is 9999-12-31.
EXCEL_EPOCH = dt.date(1899, 12, 30)
EXCEL_SERIAL_MAX = 2958465
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
    """Typed values and the mask of non-empty cells that could not be parsed."""

    values: pd.Series
    invalid: np.ndarray


@dataclass(frozen=True)
class Parser:
    """A parser of one column kind with the quarantine rule and message of its failures."""

    kind: str
    rule: str
    message: str  # message tail after "<value> "
    function: Callable[..., Parsed]


def _text(series: pd.Series) -> pd.Series:
    """The series as pandas text (the default ``str`` dtype)."""
    if isinstance(series.dtype, pd.StringDtype):
        return series
    return series.astype("str")


def _arrow(series: pd.Series) -> pa.ChunkedArray | pa.Array:
    return pa.array(_text(series), from_pandas=True)


def _present(series: pd.Series) -> np.ndarray:
    return series.notna().to_numpy(dtype=bool)


def _float_array(arrow_values: Any, length: int) -> np.ndarray:
    if length == 0:
        return np.empty(0, dtype="float64")
    filled = pc.fill_null(arrow_values.cast(pa.float64()), float("nan"))
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks() if filled.num_chunks else pa.array([], pa.float64())
    return filled.to_numpy(zero_copy_only=False)


def _map_distinct(
    series: pd.Series,
    function: Callable[[str], Any],
    dtype: Any = object,
    missing: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``function`` to each distinct value once; None means "could not be parsed".

    Returns (values aligned with the series, of ``dtype`` with ``missing`` where empty or
    unparsable; the invalid mask).
    """
    codes, uniques = pd.factorize(_text(series), use_na_sentinel=True)
    parsed = [function(value) for value in uniques]
    failed = np.array([value is None for value in parsed] + [False], dtype=bool)
    table = np.array([missing if value is None else value for value in parsed] + [missing])
    table = table.astype(dtype) if dtype is not object else table.astype(object)
    return table[codes], failed[codes]  # code -1 (empty cell) picks the trailing missing


# ---------------------------------------------------------------- numbers


def parse_number(series: pd.Series) -> Parsed:
    """Decimal numbers: "7.5", "7,5" (decimal comma), "-3", "1e3". Non-finite is invalid."""
    present = _present(series)
    arrow = _arrow(series)
    matches = pc.match_substring_regex(arrow, NUMBER_PATTERN)
    cleaned = pc.replace_substring(arrow, ",", ".")
    numbers = pc.if_else(matches, cleaned, pa.scalar(None, pa.large_string()))
    values = _float_array(numbers, len(series))
    finite = np.isfinite(values)
    invalid = present & ~finite
    values = np.where(finite, values, np.nan)
    return Parsed(pd.Series(values, index=series.index, dtype="float64"), invalid)


def parse_integer(series: pd.Series) -> Parsed:
    """Whole numbers: "3", "3.0", "3,0" are 3; "3.5" is not an integer."""
    numbers, invalid = parse_number(series)
    values = numbers.to_numpy()
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.floor(values) == values)
        whole &= np.abs(values) <= _MAX_SAFE_INTEGER
    invalid = invalid | (_present(series) & ~whole)
    result = pd.array(np.where(whole, values, 0).astype("int64"), dtype="Int64")
    result[~whole] = pd.NA
    return Parsed(pd.Series(result, index=series.index), invalid)


# ---------------------------------------------------------------- dates


def _date_or_none(text: str) -> dt.date | None:
    match = _ISO_DATE_RE.match(text)
    if match:
        try:
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return None
    if _NUMBER_RE.match(text):
        serial = float(text.replace(",", "."))
        if 1 <= serial <= EXCEL_SERIAL_MAX:
            return EXCEL_EPOCH + dt.timedelta(days=math.floor(serial))
    return None


def _day_or_none(text: str) -> np.datetime64 | None:
    day = _date_or_none(text)
    return None if day is None else np.datetime64(day, "D")


def parse_date(series: pd.Series) -> Parsed:
    """ISO dates ("2023-01-11", also with a time part, which is dropped) or Excel serials.

    A cell of an Excel date format arrives as "2023-01-11 00:00:00"; a date typed into a
    cell without a date format arrives as its serial day number ("44937" = 2023-01-11,
    a fraction is the time of day and is dropped). Day-first or month-first text dates
    ("11/01/2023") are ambiguous and not accepted.
    """
    values, invalid = _map_distinct(
        series, _day_or_none, dtype="datetime64[D]", missing=np.datetime64("NaT")
    )
    result = pd.Series(values.astype("datetime64[s]"), index=series.index)
    return Parsed(result, invalid)


# ---------------------------------------------------------------- components and lists


def parse_component(series: pd.Series, aliases: dict[str, str]) -> Parsed:
    """Component codes and their aliases, case-insensitive ("technoware", "t" -> "T")."""
    values, invalid = _map_distinct(series, lambda text: aliases.get(text.lower()), object)
    return Parsed(pd.Series(values, index=series.index, dtype="str"), invalid)


def parse_focus(series: pd.Series, aliases: dict[str, str], order: Sequence[str]) -> Parsed:
    """A list of components, normalised: "T, h" -> "T,H"; "humanware; T" -> "T,H"."""
    rank = {code: position for position, code in enumerate(order)}

    def one(text: str) -> str | None:
        parts = [part for part in _FOCUS_SPLIT_RE.split(text) if part]
        codes = {aliases.get(part.lower()) for part in parts}
        if not parts or None in codes:
            return None
        return ",".join(sorted(codes, key=rank.__getitem__))

    values, invalid = _map_distinct(series, one, object)
    return Parsed(pd.Series(values, index=series.index, dtype="str"), invalid)


def parse_size_class(series: pd.Series) -> Parsed:
    """micro, small, medium (case-insensitive; mikro, kecil, menengah also accepted)."""
    values, invalid = _map_distinct(series, lambda text: SIZE_CLASSES.get(text.lower()), object)
    return Parsed(pd.Series(values, index=series.index, dtype="str"), invalid)


def parse_text(series: pd.Series) -> Parsed:
    """Free text, as given (ingest already stripped it and made empty cells null)."""
    return Parsed(_text(series), np.zeros(len(series), dtype=bool))


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


def parse_judgment(series: pd.Series, scale: Iterable[float], tolerance: float) -> Parsed:
    """A Saaty judgment: "3", "1/3", "0.3333" or "0,3333" -> the exact scale value.

    A number within ``tolerance`` (relative, default 1 %) of a scale value is that value;
    anything else (0.4, 10, 0, text) is invalid.
    """
    numbers, invalid = _map_distinct(series, _judgment_number, "float64", np.nan)
    snapped, on_scale = snap_to_scale(numbers, exact_saaty_values(scale), tolerance)
    invalid = invalid | (_present(series) & ~on_scale)
    return Parsed(pd.Series(snapped, index=series.index, dtype="float64"), invalid)


# ---------------------------------------------------------------- registry

TYPE_MESSAGES = {
    "text": "is not text",
    "integer": "is not a whole number",
    "number": "is not a number",
    "date": "is not a date (use YYYY-MM-DD or an Excel date)",
    "component": "is not a component (T, H, I, O or technoware, humanware, infoware, orgaware)",
    "judgment": "is not a value of Saaty's scale (1/9 .. 1/2, 1 .. 9)",
    "focus": "is not a list of components (e.g. T,H)",
    "size_class": "is not a size class (micro, small, medium)",
}

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
