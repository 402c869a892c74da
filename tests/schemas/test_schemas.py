"""schemas/<sheet>.py: each pandera schema on small parsed frames, via run_schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schemas import ahp, firms, items, programs, sota, weights
from schemas.common import DATE, TEXT, duplicated, known_codes, run_schema, value_codes
from thio.methodology import load_methodology

METHODOLOGY = load_methodology()
ROUND = "2023Q1"


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def texts(*values) -> pd.Series:
    return pd.Series(list(values), dtype=TEXT)


def dates(*values) -> pd.Series:
    return pd.Series(np.array(list(values), dtype="datetime64[D]").astype(DATE))


def failures(module, data: pd.DataFrame) -> list[tuple[int, str, str]]:
    """The failures of ``data``; the same whether its text columns are ``str`` or, as the
    validation step builds them, categorical."""
    found = run_schema(module.build_schema(METHODOLOGY, ROUND), data)
    result = sorted(zip(found["position"], found["column_name"], found["rule"], strict=True))
    categorical = data.copy()
    for name in data.columns:
        if isinstance(data[name].dtype, pd.StringDtype):
            categorical[name] = data[name].astype("category")
    found = run_schema(module.build_schema(METHODOLOGY, ROUND), categorical)
    again = sorted(zip(found["position"], found["column_name"], found["rule"], strict=True))
    assert again == result
    return result


def firms_frame(n: int = 2, **overrides) -> pd.DataFrame:
    data = {
        "round_id": texts(*[ROUND] * n),
        "firm_id": texts(*[f"F{i}" for i in range(n)]),
        "firm_name": texts(*["x"] * n),
        "sector_code": texts(*["10"] * n),
        "sector_name": texts(*[None] * n),
        "region_code": texts(*["6474"] * n),
        "region_name": texts(*[None] * n),
        "size_class": texts(*[None] * n),
        "workers": pd.array([1] * n, dtype="Int64"),
        "sample_weight": pd.Series([np.nan] * n, dtype="float64"),
        "survey_date": dates(*["2023-01-11"] * n),
        "enumerator": texts(*[None] * n),
    }
    data.update(overrides)
    return frame(**data)


def test_firms_valid():
    assert failures(firms, firms_frame()) == []


def test_firms_rules():
    data = firms_frame(
        4,
        round_id=texts(ROUND, "2023Q2", ROUND, ROUND),
        firm_id=texts("F 1", "F2", "F3", "F3"),
        sector_code=texts("10", "101", None, "10"),
        workers=pd.array([0, -1, None, 3], dtype="Int64"),
        sample_weight=pd.Series([1.0, 0.0, np.nan, 2.0]),
    )
    assert failures(firms, data) == [
        (0, "firm_id", "pattern"),
        (1, "round_id", "round_id"),
        (1, "sample_weight", "range"),
        (1, "sector_code", "pattern"),
        (1, "workers", "range"),
        (2, "firm_id", "duplicate_key"),
        (2, "sample_weight", "sample_weight"),
        (2, "sector_code", "required"),
        (3, "firm_id", "duplicate_key"),
    ]


def items_frame(**overrides) -> pd.DataFrame:
    data = {
        "firm_id": texts("F1", "F1", "F1"),
        "component": texts("T", "T", "H"),
        "item_id": texts("T1", "T2", "H1"),
        "item_name": texts(None, None, None),
        "weight": pd.Series([1.0, np.nan, 2.0]),
        "ll": pd.array([1, 2, 3], dtype="Int64"),
        "ul": pd.array([3, 4, 9], dtype="Int64"),
    }
    data.update(overrides)
    return frame(**data)


def test_items_rules():
    assert failures(items, items_frame()) == []
    data = items_frame(
        item_id=texts("T1", "T1", "H1"),
        weight=pd.Series([0.0, np.nan, 1.0]),
        ll=pd.array([5, None, 0], dtype="Int64"),
        ul=pd.array([3, 4, 10], dtype="Int64"),
    )
    assert failures(items, data) == [
        (0, "item_id", "duplicate_key"),
        (0, "ul", "ll_ul"),
        (0, "weight", "range"),
        (1, "item_id", "duplicate_key"),
        (1, "ll", "required"),
        (2, "ll", "range"),
        (2, "ul", "range"),
    ]


def test_sota_criterion_belongs_to_component_and_rater_key():
    data = frame(
        firm_id=texts("F1", "F1", "F1", "F1"),
        component=texts("T", "T", "H", "H"),
        item_id=texts("T1", "T1", "H1", "H1"),
        criterion=texts("T.precision", "H.creativity", "H.creativity", "H.creativity"),
        rater=texts(None, None, None, "1"),
        score=pd.Series([0.0, 10.0, 10.5, 5.0]),
        _rater=texts("1", "1", "1", "1"),
    )
    assert failures(sota, data) == [
        (1, "criterion", "criterion"),
        (2, "criterion", "duplicate_key"),
        (2, "score", "range"),
        (3, "criterion", "duplicate_key"),
    ]


def test_ahp_scope_and_row_col():
    data = frame(
        firm_id=texts("F1", "F1", None, None),
        panel_id=texts(None, "10", None, "10"),
        respondent=texts("R1", "R1", "R1", "R1"),
        row=texts("T", "T", "T", "H"),
        col=texts("H", "I", "O", "H"),
        value=pd.Series([2.0, 3.0, 4.0, 1.0]),
        value_text=texts("2", "3", "4", "1"),
    )
    assert failures(ahp, data) == [
        (1, "firm_id", "scope"),
        (2, "firm_id", "scope"),
        (3, "col", "row_col"),
    ]


@pytest.mark.parametrize(("beta", "ok"), [(0.0, False), (0.25, True), (1.0, False), (-0.1, False)])
def test_weights_beta_open_interval(beta, ok):
    data = frame(
        firm_id=texts("F1"),
        panel_id=texts(None),
        component=texts("T"),
        beta=pd.Series([beta]),
    )
    assert failures(weights, data) == ([] if ok else [(0, "beta", "range")])


def test_programs_dates_and_firm_pattern():
    data = frame(
        program_id=texts("P1", "P1", "P2"),
        program_name=texts(None, None, None),
        firm_id=texts("F1", "F/2", "F1"),
        organisation=texts(None, None, None),
        focus=texts("T", "T,H", None),
        start_date=dates("2023-02-01", "2023-02-01", "2023-02-01"),
        end_date=dates("2023-02-01", "2023-01-31", "2023-03-01"),
    )
    assert failures(programs, data) == [
        (1, "end_date", "dates"),
        (1, "firm_id", "pattern"),
        (2, "focus", "required"),
    ]


def test_limits_follow_the_methodology(tmp_path):
    text = METHODOLOGY.raw.decode().replace(
        "sota_scale: {min: 0, max: 10}", "sota_scale: {min: 1, max: 5}"
    )
    path = tmp_path / "m.yaml"
    path.write_text(text)
    from thio.methodology import load_methodology as load

    schema = sota.build_schema(load(path), ROUND)
    data = frame(
        firm_id=texts("F1", "F1"),
        component=texts("T", "T"),
        item_id=texts("T1", "T1"),
        criterion=texts("T.precision", "T.control"),
        rater=texts(None, None),
        score=pd.Series([0.0, 5.0]),
        _rater=texts("1", "1"),
    )
    found = run_schema(schema, data)
    assert found[["position", "rule"]].values.tolist() == [[0, "range"]]
    assert found["message"].tolist() == ["{value} is outside 1..5"]


def test_key_check_matches_pandas_duplicated_nulls_equal():
    rng = np.random.default_rng(7)
    n = 3000
    data = frame(
        a=texts(*rng.choice(np.array(["x", "y", None], dtype=object), n)),
        b=texts(*rng.choice(np.array(["1", "2", "3", None], dtype=object), n)),
        c=pd.Series(rng.integers(0, 4, n)),
    )
    expected = data.duplicated(["a", "b", "c"], keep=False).to_numpy()
    assert (duplicated(data, ["a", "b", "c"]) == expected).all()
    ordered = data.sort_values(["a", "b", "c"], na_position="first").reset_index(drop=True)
    unique = ordered.drop_duplicates(["a", "b", "c"]).reset_index(drop=True)
    assert not duplicated(unique, ["a", "b", "c"]).any()


def test_value_codes_of_a_categorical_are_its_own():
    series = texts("b", None, "a", "b").astype("category")
    codes, values = value_codes(series)
    assert [values[code] if code >= 0 else None for code in codes] == ["b", None, "a", "b"]


def test_known_codes_are_used_for_that_very_series_only():
    series = texts("a", "b", "a")
    given = (np.array([0, 1, 2]), ["a", "b", "c"])  # unlike hashing, to tell them apart
    with known_codes([(series, lambda: given)]):
        assert value_codes(series)[0].tolist() == [0, 1, 2]
        assert value_codes(series.str.upper())[0].tolist() == [0, 1, 0]  # derived: hashed
        assert value_codes(texts("a", "b", "a"))[0].tolist() == [0, 1, 0]  # equal: hashed
    assert value_codes(series)[0].tolist() == [0, 1, 0]


# issue 12: the contract allows any weight > 0, but 1e308 overflows a weighted sum to inf and
# 1e-320 is a subnormal double with 20 fewer bits; weight_ranges keeps both out. Both ends of
# a range are allowed; a weight <= 0 fails the "greater than 0" rule only.
WEIGHTS = [1e-6, 9.99e-7, 1e9, 1.000001e9, 1e308, 1e-320, 0.0]
OUT_OF_RANGE = [1, 3, 4, 5, 6]


def test_sample_weight_within_the_methodology_range():
    data = firms_frame(len(WEIGHTS), sample_weight=pd.Series(WEIGHTS))
    assert failures(firms, data) == [(row, "sample_weight", "range") for row in OUT_OF_RANGE]
    found = run_schema(firms.build_schema(METHODOLOGY, ROUND), data).sort_values("position")
    assert found["message"].tolist() == [
        *["{value} is outside the allowed range 1e-06..1e+09 of weight_ranges.sample_weight"
          " in the methodology file"] * 4,
        "{value} is not greater than 0",
    ]  # fmt: skip


def test_item_weight_within_the_methodology_range():
    weights_ = [1e-6, 9.99e-7, 1e12, 1.000001e12, 1e308, 1e-320, -1.0]
    n = len(weights_)
    data = items_frame(
        firm_id=texts(*["F1"] * n),
        component=texts(*["T"] * n),
        item_id=texts(*[f"T{i}" for i in range(n)]),
        item_name=texts(*[None] * n),
        weight=pd.Series(weights_),
        ll=pd.array([1] * n, dtype="Int64"),
        ul=pd.array([3] * n, dtype="Int64"),
    )
    assert failures(items, data) == [(row, "weight", "range") for row in OUT_OF_RANGE]
    found = run_schema(items.build_schema(METHODOLOGY, ROUND), data).sort_values("position")
    assert found["message"].tolist()[0] == (
        "{value} is outside the allowed range 1e-06..1e+12 of weight_ranges.item_weight"
        " in the methodology file"
    )


def test_weight_ranges_follow_the_methodology(tmp_path):
    text = METHODOLOGY.raw.decode().replace(
        "sample_weight: {min: 1.0e-6, max: 1.0e+9}", "sample_weight: {min: 1, max: 10}"
    )
    path = tmp_path / "m.yaml"
    path.write_text(text)
    data = firms_frame(3, sample_weight=pd.Series([0.5, 1.0, 10.5]))
    found = run_schema(firms.build_schema(load_methodology(path), ROUND), data)
    assert found[["position", "rule"]].values.tolist() == [[0, "range"], [2, "range"]]
    assert found["message"].tolist()[0] == (
        "{value} is outside the allowed range 1..10 of weight_ranges.sample_weight"
        " in the methodology file"
    )
