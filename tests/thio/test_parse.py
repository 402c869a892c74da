"""thio.parse: the vectorised cell parsers and their invalid masks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from thio.methodology import load_methodology
from thio.parse import (
    parse_component,
    parse_date,
    parse_focus,
    parse_integer,
    parse_judgment,
    parse_number,
    parse_size_class,
    snap_to_scale,
    text_categories,
)

METHODOLOGY = load_methodology()
ALIASES = METHODOLOGY.component_aliases()
SAATY = METHODOLOGY.saaty_values()


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def test_numbers_accept_decimal_comma_and_flag_text():
    parsed = parse_number(text("7,5", "7.5", "-2", ",5", "1e3", None, "abc", "1.2.3", "inf"))
    assert parsed.values.iloc[:5].tolist() == [7.5, 7.5, -2.0, 0.5, 1000.0]
    assert parsed.values.iloc[5:].isna().all()
    assert parsed.invalid.tolist() == [False] * 6 + [True] * 3


def test_integers_accept_whole_numbers_only():
    parsed = parse_integer(text("3", "3.0", "3,0", "-1", "3.5", "x", None))
    assert parsed.values.dtype == "Int64"
    assert parsed.values.iloc[:4].tolist() == [3, 3, 3, -1]
    assert parsed.values.iloc[4:].isna().all()
    assert parsed.invalid.tolist() == [False, False, False, False, True, True, False]


def test_dates_iso_excel_serial_and_excel_datetime_text():
    parsed = parse_date(
        text(
            "2023-01-11",
            "2023-01-11 00:00:00",
            "44937",
            "44937.75",
            "2023-02-30",
            "01/13/2023",
            None,
        )
    )
    days = parsed.values.dt.strftime("%Y-%m-%d").tolist()
    assert days[:4] == ["2023-01-11"] * 4
    assert parsed.values.iloc[4:].isna().all()
    assert parsed.invalid.tolist() == [False, False, False, False, True, True, False]


def test_thousands_separators_only_where_unambiguous():
    given = text("1.234", "1.234,5", "1.234.567", "1,234.5", "1,234", "1,234,567", "12.34,5")
    numbers = parse_number(given)
    assert numbers.values.tolist()[:6] == [1.234, 1234.5, 1234567.0, 1234.5, 1.234, 1234567.0]
    assert numbers.invalid.tolist() == [False] * 6 + [True]
    # a whole-number column: "1.234" cannot be 1.234, so the dot groups thousands
    integers = parse_integer(text("1.234", "1.234.567", "1.000", "1,234", "1.234,5", "12.34"))
    assert integers.values.iloc[:3].tolist() == [1234, 1234567, 1000]
    assert integers.invalid.tolist() == [False, False, False, True, True, True]


def test_text_dates_are_day_first():
    parsed = parse_date(
        text("11/01/2023", "11-01-2023", "11.01.2023", "1/2/2023", "11/01/2023 08:30",
             "01/13/2023", "11/01-2023", "11/01/23")
    )  # fmt: skip
    days = parsed.values.dt.strftime("%Y-%m-%d").tolist()
    assert days[:5] == ["2023-01-11"] * 3 + ["2023-02-01", "2023-01-11"]
    assert parsed.invalid.tolist() == [False] * 5 + [True] * 3


def test_components_and_aliases_case_insensitive():
    parsed = parse_component(
        text("T", "technoware", "h", "Infoware", "ORGAWARE", "X", None), ALIASES
    )
    assert parsed.values.iloc[:5].tolist() == ["T", "T", "H", "I", "O"]
    assert parsed.invalid.tolist() == [False] * 5 + [True, False]


@pytest.mark.parametrize(
    ("given", "expected"),
    [("3", 3.0), ("1/3", 1 / 3), ("0.3333", 1 / 3), ("0,3333", 1 / 3), ("1/2", 0.5),
     ("1 / 9", 1 / 9), ("0.111", 1 / 9), ("9", 9.0), ("2/6", 1 / 3)],
)  # fmt: skip
def test_judgments_snap_to_the_exact_scale_value(given, expected):
    parsed = parse_judgment(text(given), SAATY, 0.01)
    assert parsed.values.iloc[0] == expected  # exact, not approximately
    assert not parsed.invalid[0]


@pytest.mark.parametrize("given", ["0.4", "10", "0", "-3", "1/0", "2.5", "three", "1/3/2"])
def test_judgments_off_the_scale_are_invalid(given):
    parsed = parse_judgment(text(given), SAATY, 0.01)
    assert np.isnan(parsed.values.iloc[0])
    assert parsed.invalid[0]


def test_snap_tolerance_is_relative():
    snapped, ok = snap_to_scale(np.array([3.029, 3.031, 0.1122, 0.1125]), SAATY, 0.01)
    assert ok.tolist() == [True, False, True, False]
    assert snapped[0] == 3.0 and snapped[2] == 1 / 9


def test_focus_lists_normalised():
    parsed = parse_focus(text("T, h", "humanware;T", "o", "T,X", None), ALIASES, "THIO")
    assert parsed.values.iloc[:3].tolist() == ["T,H", "T,H", "O"]
    assert parsed.invalid.tolist() == [False, False, False, True, False]


def test_size_class_english_and_indonesian():
    parsed = parse_size_class(text("Small", "kecil", "mikro", "big", None))
    assert parsed.values.iloc[:3].tolist() == ["small", "small", "micro"]
    assert parsed.invalid.tolist() == [False, False, False, True, False]


def test_empty_series():
    for parsed in (
        parse_number(text()),
        parse_integer(text()),
        parse_date(text()),
        parse_judgment(text(), SAATY, 0.01),
    ):
        assert len(parsed.values) == 0 and len(parsed.invalid) == 0


def test_text_categories_keep_the_codes_and_make_the_dictionary_unique():
    # a dictionary with a value twice (as unifying two files' dictionaries may leave it)
    array = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, None, 2, 0], pa.int32()), pa.array(["F1", "F2", "F1"])
    )
    series = text_categories(array)
    assert series.tolist()[:2] == ["F1", "F2"] and series.tolist()[3:] == ["F1", "F1"]
    assert series.isna().tolist() == [False, False, True, False, False]
    assert list(series.cat.categories) == ["F1", "F2"]
    assert series.cat.codes.tolist() == [0, 1, -1, 0, 0]


def test_components_share_one_byte_codes_with_arrow():
    values = pa.array(["T", "humanware", None, "x", "t"]).dictionary_encode()
    parsed = parse_component(values, ALIASES)
    assert parsed.values.tolist()[:2] == ["T", "H"]
    assert parsed.values.isna().tolist() == [False, False, True, True, False]
    assert parsed.invalid.tolist() == [False, False, False, True, False]
    assert parsed.text.type.index_type == pa.int8()
    assert parsed.text.to_pylist() == ["T", "H", None, None, "T"]
    # without an empty or invalid cell, the Arrow indices are the pandas codes themselves
    whole = parse_component(pa.array(["T", "orgaware", "t"]).dictionary_encode(), ALIASES)
    assert whole.text.to_pylist() == ["T", "O", "T"] and whole.text.null_count == 0
    arrow_codes = np.frombuffer(whole.text.indices.buffers()[1], dtype=np.int8)
    assert np.shares_memory(whole.values.array.codes, arrow_codes)


def test_no_invalid_cell_gives_an_all_false_mask():
    parsed = parse_number(pa.array(["1", "2,5", None]).dictionary_encode())
    assert parsed.invalid.dtype == bool and not parsed.invalid.any()
    assert len(parsed.invalid) == 3


def test_text_categories_with_a_dictionary_holding_a_value_twice():
    array = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 2, None], pa.int32()), pa.array(["a", "b", "a"])
    )
    series = text_categories(array)
    assert series.tolist()[:3] == ["a", "b", "a"] and pd.isna(series.iloc[3])
    assert list(series.cat.categories) == ["a", "b"]
