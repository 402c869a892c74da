"""Classification on TCC rounded to classification_decimals, intervals (lower, upper]."""

from __future__ import annotations

import pytest

# (ll, ul, score) per component: c = (ll + score / 10 * (ul - ll)) / 9, the same for T, H, I
# and O, so with equal betas TCC = c.
CASES = {
    # c = 4.5 / 9 = 0.5 exactly: on the fair / good boundary, so fair
    "HALF": ((4, 5, 5.0), 0.5, "fair", "semi_modern"),
    # c = 4.5000009 / 9 = 0.5000001: just above, so good
    "ABOVE_HALF": ((4, 5, 5.000009), 0.5000001, "good", "semi_modern"),
    # c = 2.7 / 9 = 0.3, computed as 0.30000000000000004: low, not fair
    "POINT3": ((2, 3, 7.0), 0.3, "low", "traditional"),
    "ABOVE_POINT3": ((2, 3, 7.000009), 0.3000001, "fair", "semi_modern"),
    # c = 6.3 / 9 = 0.7: good / very good boundary
    "POINT7": ((6, 7, 3.0), 0.7, "good", "semi_modern"),
    # c = 8.1 / 9 = 0.9, computed as 0.8999999999999999
    "POINT9": ((8, 9, 1.0), 0.9, "very_good", "modern"),
    "TOP": ((9, 9, 10.0), 1.0, "state_of_the_art", "modern"),
    "LOWEST": ((1, 1, 0.0), 1 / 9, "low", "traditional"),
}


@pytest.fixture(scope="module")
def classified(methodology, tmp_path_factory, kit, through):
    import duckdb

    firms = [
        kit.firm_rows(firm_id, dict.fromkeys("THIO", spec), methodology)
        for firm_id, (spec, *_) in CASES.items()
    ]
    # all four components exactly 0.5 but betas 0.1, 0.2, 0.3, 0.4: TCC is computed as
    # 0.5000000000000001, mathematically on the boundary, so fair
    firms.append(kit.firm_rows("HALF_NOISY", dict.fromkeys("THIO", (4, 5, 5.0)), methodology))
    weights = kit.weights({"firm_id": "HALF_NOISY"}, {"T": 0.1, "H": 0.2, "I": 0.3, "O": 0.4})
    work = tmp_path_factory.mktemp("classes")
    sheets = kit.merge(*firms, {"weights": weights})
    db_path = kit.compute_round(work, sheets, methodology, through=through)
    con = duckdb.connect(str(db_path), read_only=True)
    yield kit.by_key(kit.rows(con, "select * from marts.firm_tcc"), "firm_id")
    con.close()


@pytest.mark.parametrize("firm_id", sorted(CASES))
def test_boundaries(classified, firm_id):
    _, tcc, tcc_class, level = CASES[firm_id]
    row = classified[firm_id]
    assert row["beta_source"] == "default"
    assert row["tcc"] == pytest.approx(tcc, abs=1e-12)
    assert (row["tcc_class"], row["technology_level"]) == (tcc_class, level)


def test_boundary_with_floating_point_noise(classified):
    row = classified["HALF_NOISY"]
    assert row["beta_source"] == "firm_weights"
    assert row["tcc"] == pytest.approx(0.5, abs=1e-15)
    assert row["tcc_class"] == "fair"
