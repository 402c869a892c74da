"""thio.methodology: a number of the method that is NaN, infinite or out of its range is refused
when the file is loaded, naming its key (issue 12, item 7), never first met by the audit."""

from __future__ import annotations

import pytest

from thio.errors import ThioError
from thio.methodology import DEFAULT_METHODOLOGY, load_methodology

SHIPPED = DEFAULT_METHODOLOGY.read_text()


def _load(tmp_path, old: str, new: str):
    assert SHIPPED.count(old) == 1, old
    path = tmp_path / "methodology.yaml"
    path.write_text(SHIPPED.replace(old, new))
    return load_methodology(path)


# (text of the shipped file, its replacement, what the refusal says)
REFUSED = {
    "default beta NaN": (
        "default_betas: {T: 0.25, H: 0.25, I: 0.25, O: 0.25}",
        "default_betas: {T: .nan, H: 0.25, I: 0.25, O: 0.25}",
        "default_betas.T must be a finite number (found nan)",
    ),
    "default beta inf": (
        "default_betas: {T: 0.25, H: 0.25, I: 0.25, O: 0.25}",
        "default_betas: {T: 0.25, H: 0.25, I: 0.25, O: -.inf}",
        "default_betas.O must be a finite number (found -inf)",
    ),
    "default beta 0": (
        "default_betas: {T: 0.25, H: 0.25, I: 0.25, O: 0.25}",
        "default_betas: {T: 0.5, H: 0.25, I: 0.25, O: 0}",
        "default_betas.O must be greater than 0 (found 0)",
    ),
    "quarantine threshold NaN": (
        "quarantine_threshold: 0.05",
        "quarantine_threshold: .NaN",
        "quarantine_threshold must be a finite number (found nan)",
    ),
    "quarantine threshold inf": (
        "quarantine_threshold: 0.05",
        "quarantine_threshold: .inf",
        "quarantine_threshold must be a finite number (found inf)",
    ),
    "quarantine threshold over 1": (
        "quarantine_threshold: 0.05",
        "quarantine_threshold: 5",
        "quarantine_threshold must be at most 1 (found 5)",
    ),
    "criterion weight NaN": (
        "{code: T.precision, weight: 1,",
        "{code: T.precision, weight: .nan,",
        "criterion T.precision weight must be a finite number (found nan)",
    ),
    "criterion weight inf": (
        "{code: O.autonomy, weight: 1,",
        "{code: O.autonomy, weight: .inf,",
        "criterion O.autonomy weight must be a finite number (found inf)",
    ),
    "criterion weight text": (
        "{code: I.access, weight: 1,",
        "{code: I.access, weight: 'nan',",
        "criterion I.access weight must be a number (found 'nan')",
    ),
    "sota scale NaN": (
        "sota_scale: {min: 0, max: 10}",
        "sota_scale: {min: 0, max: .nan}",
        "sota_scale.max must be a finite number (found nan)",
    ),
    "cr threshold NaN": (
        "cr_threshold: 0.10",
        "cr_threshold: .nan",
        "ahp.cr_threshold must be a finite number (found nan)",
    ),
    "classification decimals NaN": (
        "classification_decimals: 12",
        "classification_decimals: .nan",
        "classification_decimals must be a finite number (found nan)",
    ),
    "class bound NaN": (
        "{code: fair, lower: 0.3,",
        "{code: fair, lower: .nan,",
        "classes.fair.lower must be a finite number (found nan)",
    ),
    "audit bound NaN": (
        "max_sector_tcc_shift: 0.10",
        "max_sector_tcc_shift: .nan",
        "expectations.bounds.max_sector_tcc_shift must be a finite number of at least 0",
    ),
    "ingest limit inf": (
        "max_compression_ratio: 100",
        "max_compression_ratio: .inf",
        "ingest_limits.max_compression_ratio must be a finite number (found inf)",
    ),
    "weight range NaN": (
        "sample_weight: {min: 1.0e-6, max: 1.0e+9}",
        "sample_weight: {min: 1.0e-6, max: .nan}",
        "weight_ranges.sample_weight.max must be a finite number (found nan)",
    ),
    "weight range min 0": (
        "item_weight: {min: 1.0e-6, max: 1.0e+12}",
        "item_weight: {min: 0, max: 1.0e+12}",
        "weight_ranges.item_weight.min must be greater than 0 (found 0)",
    ),
    "weight range reversed": (
        "item_weight: {min: 1.0e-6, max: 1.0e+12}",
        "item_weight: {min: 10, max: 1}",
        "weight_ranges.item_weight.max must be at least its min (found 1.0 < 10.0)",
    ),
    "weight range unknown": (
        "item_weight: {min: 1.0e-6, max: 1.0e+12}",
        "beta_weight: {min: 1.0e-6, max: 1.0e+12}",
        "weight_ranges.beta_weight is not a setting (sample_weight, item_weight)",
    ),
    "weight range without max": (
        "item_weight: {min: 1.0e-6, max: 1.0e+12}",
        "item_weight: {min: 1.0e-6}",
        "weight_ranges.item_weight must give min and max",
    ),
    # YAML 1.1 reads 1.0e9 (no exponent sign) as text: refused, never taken as a number
    "weight range as text": (
        "sample_weight: {min: 1.0e-6, max: 1.0e+9}",
        "sample_weight: {min: 1.0e-6, max: 1.0e9}",
        "weight_ranges.sample_weight.max must be a number (found '1.0e9')",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_number_that_is_not_finite_or_out_of_range_is_refused(tmp_path, case):
    old, new, message = REFUSED[case]
    with pytest.raises(ThioError) as raised:
        _load(tmp_path, old, new)
    assert str(raised.value) == f"methodology file methodology.yaml: {message}"


def test_the_shipped_weight_ranges_and_their_defaults(tmp_path):
    assert load_methodology().weight_range("sample_weight") == (1e-6, 1e9)
    assert load_methodology().weight_range("item_weight") == (1e-6, 1e12)
    # a file archived before weight_ranges existed gets the same ranges
    start = SHIPPED.index("weight_ranges:")
    block = SHIPPED[start : SHIPPED.index("\n\n", start)]
    older = _load(tmp_path, block, "")
    assert older.weight_range("sample_weight") == (1e-6, 1e9)
    assert older.weight_range("item_weight") == (1e-6, 1e12)
    changed = _load(
        tmp_path,
        "item_weight: {min: 1.0e-6, max: 1.0e+12}",
        "item_weight: {min: 0.5, max: 2}",
    )
    assert changed.weight_range("item_weight") == (0.5, 2.0)
