"""The beta scope chain: firm_ahp -> firm_weights -> panel_ahp -> panel_weights -> default."""

from __future__ import annotations

import pytest

# consistent judgments from weights 8:4:2:1 (betas exactly 8/15, 4/15, 2/15, 1/15, CR 0)
W8421 = {"TH": 2, "TI": 4, "TO": 8, "HI": 2, "HO": 4, "IO": 2}
# consistent judgments from weights 2:4:8:1
W2481 = {"TH": "1/2", "TI": "1/4", "TO": 2, "HI": "1/2", "HO": 4, "IO": 8}
# consistent judgments from weights 1:2:4:8
W1248 = {"TH": "1/2", "TI": "1/4", "TO": "1/8", "HI": "1/2", "HO": "1/4", "IO": "1/2"}
# the worked example's inconsistent respondent R3 (CR 3.61)
INCONSISTENT = {"TH": 9, "TI": "1/9", "TO": 9, "HI": 9, "HO": "1/9", "IO": 9}

# firm -> (sector, beta_source, betas, respondents used)
EXPECTED = {
    # own AHP: one consistent respondent, one inconsistent left out
    "A1": ("10", "firm_ahp", (8 / 15, 4 / 15, 2 / 15, 1 / 15), 1),
    # own AHP has only an inconsistent respondent, so its own weights (sum 1.004, renormalised)
    # win over its sector panel's AHP
    "B1": ("10", "firm_weights", (0.402 / 1.004, 0.301 / 1.004, 0.2 / 1.004, 0.101 / 1.004), None),
    # own AHP only inconsistent, no own weights: the panel's AIJ of 8:4:2:1 and 2:4:8:1, i.e.
    # sqrt(16, 16, 16, 1) = 4:4:4:1; the panel's weights come after it
    "C1": ("20", "panel_ahp", (4 / 13, 4 / 13, 4 / 13, 1 / 13), 2),
    "C2": ("20", "panel_ahp", (4 / 13, 4 / 13, 4 / 13, 1 / 13), 2),
    # the panel's AHP has only an inconsistent respondent: the panel's weights
    "D1": ("30", "panel_weights", (0.1, 0.2, 0.3, 0.4), None),
    # nothing at all: the methodology default
    "E1": ("40", "default", (0.25, 0.25, 0.25, 0.25), None),
    # sector 10's panel AHP (1:2:4:8) for a firm with nothing of its own
    "F1": ("10", "panel_ahp", (1 / 15, 2 / 15, 4 / 15, 8 / 15), 1),
}


@pytest.fixture(scope="module")
def resolved(methodology, tmp_path_factory, kit, through):
    import duckdb

    components = {"T": (1, 3, 4.0), "H": (2, 4, 8.0), "I": (4, 5, 5.0), "O": (5, 6, 4.0)}
    firms = [
        kit.firm_rows(firm_id, components, methodology, sector_code=sector)
        for firm_id, (sector, *_) in EXPECTED.items()
    ]
    ahp = (
        kit.judgments({"firm_id": "A1"}, "R1", W8421)
        + kit.judgments({"firm_id": "A1"}, "R3", INCONSISTENT)
        + kit.judgments({"firm_id": "B1"}, "R3", INCONSISTENT)
        + kit.judgments({"firm_id": "C1"}, "R3", INCONSISTENT)
        + kit.judgments({"panel_id": "10"}, "P1", W1248)
        + kit.judgments({"panel_id": "20"}, "P1", W8421)
        + kit.judgments({"panel_id": "20"}, "P2", W2481)
        + kit.judgments({"panel_id": "20"}, "P3", INCONSISTENT)
        + kit.judgments({"panel_id": "30"}, "P3", INCONSISTENT)
    )
    weights = (
        kit.weights({"firm_id": "B1"}, {"T": 0.402, "H": 0.301, "I": 0.2, "O": 0.101})
        + kit.weights({"panel_id": "20"}, {"T": 0.4, "H": 0.3, "I": 0.2, "O": 0.1})
        + kit.weights({"panel_id": "30"}, {"T": 0.1, "H": 0.2, "I": 0.3, "O": 0.4})
    )
    work = tmp_path_factory.mktemp("fallback")
    sheets = kit.merge(*firms, {"ahp": ahp, "weights": weights})
    db_path = kit.compute_round(work, sheets, methodology, through=through)
    con = duckdb.connect(str(db_path), read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize("firm_id", sorted(EXPECTED))
def test_beta_source(resolved, kit, firm_id):
    _, source, betas, used = EXPECTED[firm_id]
    (row,) = kit.rows(resolved, "select * from marts.firm_tcc where firm_id = ?", firm_id)
    assert row["beta_source"] == source
    actual = (row["beta_t"], row["beta_h"], row["beta_i"], row["beta_o"])
    assert actual == pytest.approx(betas, abs=1e-12)
    assert row["ahp_respondents_used"] == used
    if source.endswith("_ahp"):
        # every used matrix here is exactly consistent: lambda_max 4, CR 0
        assert row["ahp_cr"] == pytest.approx(0.0, abs=1e-9)
        assert row["lambda_max"] == pytest.approx(4.0, abs=1e-9)
    else:
        assert row["ahp_cr"] is None and row["lambda_max"] is None
    # the firm's TCC uses these betas: c = 0.2, 0.4, 0.5, 0.6
    expected_tcc = 0.2 ** betas[0] * 0.4 ** betas[1] * 0.5 ** betas[2] * 0.6 ** betas[3]
    assert row["tcc"] == pytest.approx(expected_tcc, abs=1e-12)


def test_audit_rows(resolved, kit):
    aggregates = kit.by_key(
        kit.rows(resolved, "select * from marts.ahp_matrices where matrix_kind = 'aggregate'"),
        "scope_type",
        "scope_id",
    )
    # scopes with only inconsistent respondents (B1, C1, panel 30) do not exist
    assert set(aggregates) == {("firm", "A1"), ("panel", "10"), ("panel", "20")}
    panel = aggregates[("panel", "20")]
    assert (panel["n_respondents"], panel["n_consistent"]) == (3, 2)
    assert panel["used"] is True and panel["n_firms_using"] == 2
    # the AIJ cell T:H is the geometric mean of 2 and 1/2
    assert panel["a_th"] == pytest.approx(1.0, abs=1e-15)
    assert aggregates[("panel", "10")]["n_firms_using"] == 1
    left_out = kit.rows(
        resolved,
        "select scope_id from marts.ahp_matrices where matrix_kind = 'respondent' and not used "
        "order by scope_type, scope_id",
    )
    assert [row["scope_id"] for row in left_out] == ["A1", "B1", "C1", "20", "30"]
