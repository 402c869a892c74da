"""Property-based tests of thio.parse and the round ids of thio.contract (hypothesis).

The expected values are built independently of the parsers: a number is written the
Indonesian way from its digits and compared with Python's own reading of the same digits;
a date is formatted from a ``datetime.date`` and compared with that date; an Excel serial is
counted from the 1900 date system's epoch by hand. The example counts come from the
hypothesis profile (tests/conftest.py): small in ``make test``, many in ``make test-all``.
"""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from thio.contract import check_round_id
from thio.errors import ThioError
from thio.methodology import load_methodology
from thio.parse import (
    exact_saaty_values,
    parse_component,
    parse_date,
    parse_integer,
    parse_judgment,
    parse_number,
    parse_size_class,
    phantom_leap_days,
)
from thio.validation import round_period

METHODOLOGY = load_methodology()
ALIASES = METHODOLOGY.component_aliases()
SAATY = METHODOLOGY.saaty_values()
TOLERANCE = METHODOLOGY.settings["ahp"]["judgment_tolerance"]
# The 17 values of Saaty's scale written out by hand (method.md section 5).
SAATY_EXACT = sorted({*(float(n) for n in range(1, 10)), *(1 / n for n in range(2, 10))})
# Excel's 1900 date system, counted by hand: serial 1 is 1900-01-01, serial 61 is 1900-03-01
# (serial 60 is the 1900-02-29 that Lotus and Excel invented), 2958465 is 9999-12-31.
FIRST_REAL_SERIAL_DAY = dt.date(1900, 3, 1)
SERIAL_OF_1900_03_01 = 61
LAST_SERIAL = 2958465

# Only the parsers' own work is looked at, so every cell is plain text as ingest leaves it:
# stripped, never empty (an empty cell arrives as null).
cells = st.text(min_size=1, max_size=20).map(str.strip).filter(bool)
column = st.lists(st.one_of(st.none(), cells), max_size=12)


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def group_thousands(number: int, separator: str) -> str:
    """1234567 -> "1.234.567" (separator ".")."""
    digits = str(number)
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(groups)


# ---------------------------------------------------------------- numbers


@given(
    sign=st.sampled_from(["", "-", "+"]),
    whole=st.integers(min_value=0, max_value=10**15),
    decimals=st.text(alphabet="0123456789", min_size=1, max_size=8),
)
@example(sign="", whole=1234, decimals="5")  # the contract's "1.234,5"
@example(sign="-", whole=0, decimals="0001")
def test_indonesian_number_with_decimal_comma_reads_back(sign, whole, decimals):
    written = f"{sign}{group_thousands(whole, '.')},{decimals}"
    expected = float(f"{sign}{whole}.{decimals}")
    parsed = parse_number(text(written))
    assert not parsed.invalid[0], written
    assert parsed.values.iloc[0] == expected, written


@given(sign=st.sampled_from(["", "-"]), whole=st.integers(min_value=0, max_value=2**53))
@example(sign="", whole=1234)  # "1.234" in a whole-number column is 1234, not 1.234
@example(sign="", whole=2**53)
def test_indonesian_whole_number_reads_back_exactly(sign, whole):
    written = f"{sign}{group_thousands(whole, '.')}"
    parsed = parse_integer(text(written))
    assert not parsed.invalid[0], written
    assert parsed.values.iloc[0] == int(f"{sign}{whole}"), written


@given(
    sign=st.sampled_from(["", "-"]),
    whole=st.integers(min_value=10**6, max_value=10**15),
)
def test_two_or_more_thousands_groups_read_as_thousands_in_a_number_column(sign, whole):
    # "1.234.567" can only be thousands; a single group ("1.234") is a decimal number
    written = f"{sign}{group_thousands(whole, '.')}"
    parsed = parse_number(text(written))
    assert parsed.values.iloc[0] == float(f"{sign}{whole}"), written


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(5e-324)
@example(1.7976931348623157e308)
@example(-0.0)
def test_shortest_text_of_any_finite_float_reads_back_exactly(number):
    # the shortest text is what ingest writes for an Excel number cell
    written = repr(number)
    for variant in (written, written.replace(".", ",")):
        parsed = parse_number(text(variant))
        assert not parsed.invalid[0], variant
        assert parsed.values.iloc[0] == number, variant


@given(st.sampled_from(["inf", "-inf", "nan", "NaN", "Infinity", "1e309", "-1e400"]))
def test_no_non_finite_number_is_accepted(written):
    parsed = parse_number(text(written))
    assert parsed.invalid[0]
    assert np.isnan(parsed.values.iloc[0])


# ---------------------------------------------------------------- dates

# the four-digit years a day-first date can carry
dates = st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31))


def one_day(parsed_values: pd.Series) -> dt.date:
    return parsed_values.iloc[0].date()


@given(day=dates, separator=st.sampled_from(["/", "-", "."]), padded=st.booleans())
@example(day=dt.date(2023, 1, 11), separator="/", padded=True)
@example(day=dt.date(2024, 2, 29), separator=".", padded=False)
def test_day_first_date_reads_back_as_itself(day, separator, padded):
    if padded:
        written = f"{day.day:02d}{separator}{day.month:02d}{separator}{day.year}"
    else:
        written = f"{day.day}{separator}{day.month}{separator}{day.year}"
    parsed = parse_date(text(written))
    assert not parsed.invalid[0], written
    assert one_day(parsed.values) == day, written


@given(day=dates, time=st.times())
def test_iso_date_with_or_without_a_time_reads_back_as_the_day(day, time):
    for written in (day.isoformat(), f"{day.isoformat()} {time.isoformat('seconds')}"):
        parsed = parse_date(text(written))
        assert not parsed.invalid[0], written
        assert one_day(parsed.values) == day, written


@given(
    day=st.dates(min_value=FIRST_REAL_SERIAL_DAY, max_value=dt.date(9999, 12, 31)),
    time_of_day=st.floats(min_value=0, max_value=0.999, allow_nan=False),
)
@example(day=dt.date(2023, 1, 11), time_of_day=0.0)  # serial 44937, method docs
@example(day=dt.date(9999, 12, 31), time_of_day=0.5)
@example(day=FIRST_REAL_SERIAL_DAY, time_of_day=0.0)
def test_excel_serial_reads_back_as_its_day(day, time_of_day):
    serial = SERIAL_OF_1900_03_01 + (day - FIRST_REAL_SERIAL_DAY).days
    written = repr(serial + time_of_day) if time_of_day else str(serial)
    parsed = parse_date(text(written))
    assert not parsed.invalid[0], written
    assert one_day(parsed.values) == day, written


@given(day=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(1900, 2, 28)))
def test_excel_serials_before_the_phantom_leap_day_count_from_day_one(day):
    serial = 1 + (day - dt.date(1900, 1, 1)).days
    parsed = parse_date(text(str(serial)))
    assert one_day(parsed.values) == day


@given(st.sampled_from(["60", "60.25", "60,5", "1900-02-29", "29/02/1900", "29.2.1900"]))
def test_the_phantom_leap_day_is_never_a_date(written):
    parsed = parse_date(text(written))
    assert parsed.invalid[0]
    assert phantom_leap_days(text(written))[0]


@given(st.sampled_from(["0", "-1", "0.5", str(LAST_SERIAL + 1), "1e9"]))
def test_serials_outside_excels_calendar_are_not_dates(written):
    assert parse_date(text(written)).invalid[0]


@given(day=dates)
def test_month_first_dates_are_never_swapped(day):
    assume(day.day > 12)  # month first, the "month" is over 12: refused, never guessed
    written = f"{day.month:02d}/{day.day:02d}/{day.year}"
    assert parse_date(text(written)).invalid[0]


# ---------------------------------------------------------------- any text


@given(values=column)
@example(values=["1.234,5", None, "٣", "１２", "1_000", "0x10", " 7"])  # non-ASCII digits
@example(values=["1/0", "9/1", "1/9", "3 / 1", "1e-1/1"])
def test_parsers_never_raise_and_accept_only_values_of_their_kind(values):
    series = text(*values)
    present = series.notna().to_numpy()
    outcomes = {
        "number": parse_number(series),
        "integer": parse_integer(series),
        "date": parse_date(series),
        "judgment": parse_judgment(series, SAATY, TOLERANCE),
        "component": parse_component(series, ALIASES),
        "size_class": parse_size_class(series),
    }
    for kind, parsed in outcomes.items():
        assert len(parsed.values) == len(values) == len(parsed.invalid), kind
        accepted = present & ~parsed.invalid
        # an empty cell is never "invalid" (the required rule judges it), and a cell is
        # either refused or has a value
        assert not (parsed.invalid & ~present).any(), kind
        assert parsed.values.notna().to_numpy().tolist() == accepted.tolist(), kind
        got = parsed.values[accepted]
        if kind in ("number", "integer", "judgment"):
            assert np.isfinite(got.to_numpy(dtype="float64")).all(), kind
        if kind == "integer":
            assert all(abs(value) <= 2**53 for value in got), kind
        if kind == "judgment":
            assert set(got) <= set(SAATY_EXACT), got
        if kind == "component":
            assert set(got) <= {"T", "H", "I", "O"}, got
        if kind == "size_class":
            assert set(got) <= {"micro", "small", "medium"}, got
        if kind == "date":
            assert (got >= pd.Timestamp("0001-01-01")).all()


@given(values=column)
def test_a_cell_parses_the_same_alone_in_a_column_and_dictionary_encoded(values):
    # parsed once per distinct value and mapped back: no value may borrow another's result
    series = text(*values)
    encoded = pa.array(values, pa.string()).dictionary_encode()
    for parse in (parse_number, parse_integer, parse_date):
        together = parse(series)
        from_arrow = parse(encoded)
        assert together.invalid.tolist() == from_arrow.invalid.tolist()
        pd.testing.assert_series_equal(together.values, from_arrow.values, check_names=False)
        for position, value in enumerate(values):
            alone = parse(text(value))
            assert alone.invalid[0] == together.invalid[position], value
            left, right = alone.values.iloc[0], together.values.iloc[position]
            assert (pd.isna(left) and pd.isna(right)) or left == right, value


@given(
    value=st.sampled_from(SAATY_EXACT),
    style=st.sampled_from(["fraction", "decimal", "comma"]),
    digits=st.integers(min_value=4, max_value=12),
)
@example(value=1 / 3, style="decimal", digits=4)  # 0.3333 is exactly 1/3 (method.md)
def test_a_saaty_value_written_any_way_snaps_to_the_exact_value(value, style, digits):
    if style == "fraction" and value < 1:
        written = f"1/{round(1 / value)}"
    else:
        written = f"{value:.{digits}f}".rstrip("0").rstrip(".")
        if style == "comma":
            written = written.replace(".", ",")
    parsed = parse_judgment(text(written), SAATY, TOLERANCE)
    assert not parsed.invalid[0], written
    assert parsed.values.iloc[0] == value, written  # exact, not approximately


@given(number=st.floats(min_value=-20, max_value=20, allow_nan=False))
def test_a_judgment_off_the_scale_is_refused(number):
    nearest = min(SAATY_EXACT, key=lambda scale: abs(number - scale) / scale)
    assume(abs(number - nearest) / nearest > TOLERANCE * 1.001)
    assert parse_judgment(text(repr(number)), SAATY, TOLERANCE).invalid[0]


def test_the_methodologys_scale_is_saatys_seventeen_values():
    assert exact_saaty_values(SAATY) == SAATY_EXACT


# ---------------------------------------------------------------- round ids


@given(year=st.integers(min_value=1000, max_value=9999), quarter=st.integers(1, 4))
@example(year=9999, quarter=4)
@example(year=2024, quarter=1)  # a leap year's first quarter ends 2024-03-31
def test_round_ids_of_a_quarter_and_a_year_are_accepted_and_span_their_days(year, quarter):
    assert check_round_id(f"{year}Q{quarter}") == f"{year}Q{quarter}"
    assert check_round_id(str(year)) == str(year)
    first, last = round_period(f"{year}Q{quarter}")
    assert first == dt.date(year, 3 * quarter - 2, 1)
    assert last == dt.date(year, 3 * quarter, calendar.monthrange(year, 3 * quarter)[1])
    assert round_period(str(year)) == (dt.date(year, 1, 1), dt.date(year, 12, 31))


@given(st.text(max_size=12))
@example("2024Q5")
@example("2024q1")
@example("2024Q1\n")
@example("../2024")
@example("２０２４")
def test_any_other_text_is_refused_as_a_round_id(candidate):
    # a round id names folders: anything but YYYY or YYYYQ1..4 (ASCII digits) is refused
    is_round = (
        len(candidate) in (4, 6)
        and candidate[:4].isascii()
        and candidate[:4].isdigit()
        and (len(candidate) == 4 or (candidate[4] == "Q" and candidate[5] in "1234"))
    )
    if is_round:
        assert check_round_id(candidate) == candidate
    else:
        with pytest.raises(ThioError, match="is not YYYY or YYYYQn"):
            check_round_id(candidate)


def test_group_thousands_helper():
    # the helper the properties rely on, checked by hand
    assert group_thousands(1234567, ".") == "1.234.567"
    assert group_thousands(12, ".") == "12"
    assert group_thousands(123456, ".") == "123.456"
