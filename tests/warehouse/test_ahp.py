"""AHP evaluation against numpy: betas, lambda_max and CR of random reciprocal matrices, and
the AIJ aggregate of each scope's consistent respondents."""

from __future__ import annotations

import numpy as np
import pytest

COMPONENTS = "THIO"
PAIRS = [(row, col) for row in range(4) for col in range(row + 1, 4)]
SAATY = sorted({float(value) for value in range(1, 10)} | {1.0 / value for value in range(2, 10)})
RANDOM_INDEX_4 = 0.90
CR_THRESHOLD = 0.10


def _matrix(upper: dict[tuple[int, int], float]) -> np.ndarray:
    matrix = np.ones((4, 4))
    for (row, col), value in upper.items():
        matrix[row, col] = value
        matrix[col, row] = 1.0 / value
    return matrix


def _numpy_eval(matrix: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Principal right eigenvector (normalised to sum 1), lambda_max and CR by numpy."""
    values, vectors = np.linalg.eig(matrix)
    principal = int(np.argmax(values.real))
    betas = vectors[:, principal].real
    betas = betas / betas.sum()
    lambda_max = float(np.mean(matrix @ betas / betas))
    return betas, lambda_max, (lambda_max - 4) / 3 / RANDOM_INDEX_4


def _rows(scope: dict[str, str], respondent: str, upper, rng) -> list[dict]:
    """Judgment rows, each pair randomly given as its upper or its lower-triangle judgment
    (the lower one as the exact reciprocal scale value)."""
    rows = []
    for (row, col), value in upper.items():
        if rng.random() < 0.5:
            pair, given = (COMPONENTS[row], COMPONENTS[col]), value
        else:
            pair, given = (COMPONENTS[col], COMPONENTS[row]), 1.0 / value
        rows.append(
            {**scope, "respondent": respondent, "row": pair[0], "col": pair[1], "value": given}
        )
    return rows


def _near_consistent(rng) -> dict[tuple[int, int], float]:
    """Judgments rounded from a random weight vector: usually consistent."""
    weights = rng.uniform(1, 9, size=4)
    return {
        (row, col): min(
            SAATY, key=lambda value: abs(np.log(value) - np.log(weights[row] / weights[col]))
        )
        for row, col in PAIRS
    }


@pytest.fixture(scope="module")
def random_round(methodology, tmp_path_factory, kit):
    """250 single-respondent panel scopes with uniformly random judgments, and 30 firm scopes
    with three respondents each (two near-consistent, one random)."""
    import duckdb

    from thio.warehouse import build_compute_db

    rng = np.random.default_rng(20230111)
    matrices, ahp_rows = {}, []
    for number in range(250):
        upper = {pair: float(rng.choice(SAATY)) for pair in PAIRS}
        scope = {"panel_id": f"P{number:03d}"}
        matrices[("panel", scope["panel_id"], "R1")] = _matrix(upper)
        ahp_rows += _rows(scope, "R1", upper, rng)
    for number in range(30):
        scope = {"firm_id": f"F{number:03d}"}
        for respondent in ("R1", "R2", "R3"):
            if respondent == "R3":
                upper = {pair: float(rng.choice(SAATY)) for pair in PAIRS}
            else:
                upper = _near_consistent(rng)
            matrices[("firm", scope["firm_id"], respondent)] = _matrix(upper)
            ahp_rows += _rows(scope, respondent, upper, rng)
    work = tmp_path_factory.mktemp("random_ahp")
    accepted = kit.write_accepted(work / "accepted", {"ahp": ahp_rows})
    build_compute_db(accepted, methodology, work / "compute.duckdb", "2023Q1")
    con = duckdb.connect(str(work / "compute.duckdb"), read_only=True)
    yield con, matrices
    con.close()


def test_respondents_match_numpy(random_round, kit):
    con, matrices = random_round
    actual = kit.by_key(
        kit.rows(con, "select * from marts.ahp_matrices where matrix_kind = 'respondent'"),
        "scope_type",
        "scope_id",
        "respondent",
    )
    assert len(actual) == len(matrices) == 340
    for key, matrix in matrices.items():
        row = actual[key]
        cells = np.array([[row[f"a_{x}{y}"] for y in "thio"] for x in "thio"])
        assert np.allclose(cells, matrix, rtol=1e-12, atol=0), key
        betas, lambda_max, cr = _numpy_eval(matrix)
        actual_betas = [row["beta_t"], row["beta_h"], row["beta_i"], row["beta_o"]]
        assert actual_betas == pytest.approx(list(betas), abs=1e-9), key
        assert row["lambda_max"] == pytest.approx(lambda_max, abs=1e-9), key
        assert row["cr"] == pytest.approx(cr, abs=1e-9), key
        assert row["consistent"] is bool(cr <= CR_THRESHOLD), key


def test_aggregates_match_numpy(random_round, kit):
    con, matrices = random_round
    aggregates = kit.by_key(
        kit.rows(con, "select * from marts.ahp_matrices where matrix_kind = 'aggregate'"),
        "scope_type",
        "scope_id",
    )
    expected_scopes = set()
    for number in range(30):
        scope_id = f"F{number:03d}"
        consistent = [
            matrices[("firm", scope_id, respondent)]
            for respondent in ("R1", "R2", "R3")
            if _numpy_eval(matrices[("firm", scope_id, respondent)])[2] <= CR_THRESHOLD
        ]
        if not consistent:
            continue
        expected_scopes.add(("firm", scope_id))
        aij = np.exp(np.mean([np.log(matrix) for matrix in consistent], axis=0))
        betas, lambda_max, cr = _numpy_eval(aij)
        row = aggregates[("firm", scope_id)]
        assert row["n_respondents"] == 3 and row["n_consistent"] == len(consistent)
        actual_betas = [row["beta_t"], row["beta_h"], row["beta_i"], row["beta_o"]]
        assert actual_betas == pytest.approx(list(betas), abs=1e-9), scope_id
        assert row["lambda_max"] == pytest.approx(lambda_max, abs=1e-9), scope_id
        assert row["cr"] == pytest.approx(cr, abs=1e-9), scope_id
        # no firm in this round, so no aggregate is used
        assert row["used"] is False and row["n_firms_using"] == 0
    for number in range(250):
        scope_id = f"P{number:03d}"
        if _numpy_eval(matrices[("panel", scope_id, "R1")])[2] <= CR_THRESHOLD:
            expected_scopes.add(("panel", scope_id))
    # a scope has an aggregate exactly when one of its respondents is consistent
    assert set(aggregates) == expected_scopes
    assert sum(scope_type == "firm" for scope_type, _ in expected_scopes) >= 20


def test_geometric_mean_method(methodology, build_sql, kit):
    """ahp.method geometric_mean: betas are the normalised row geometric means."""
    rng = np.random.default_rng(7)
    ahp_rows, matrices = [], {}
    for number in range(40):
        upper = {pair: float(rng.choice(SAATY)) for pair in PAIRS}
        matrices[f"P{number:02d}"] = _matrix(upper)
        ahp_rows += _rows({"panel_id": f"P{number:02d}"}, "R1", upper, rng)
    con = build_sql(
        {"ahp": ahp_rows}, using=kit.with_settings(methodology, ahp_method="geometric_mean")
    )
    actual = kit.by_key(
        kit.rows(con, "select * from marts.ahp_matrices where matrix_kind = 'respondent'"),
        "scope_id",
    )
    for scope_id, matrix in matrices.items():
        geometric = np.exp(np.log(matrix).mean(axis=1))
        betas = geometric / geometric.sum()
        lambda_max = float(np.mean(matrix @ betas / betas))
        row = actual[scope_id]
        actual_betas = [row["beta_t"], row["beta_h"], row["beta_i"], row["beta_o"]]
        assert actual_betas == pytest.approx(list(betas), abs=1e-12), scope_id
        assert row["lambda_max"] == pytest.approx(lambda_max, abs=1e-9), scope_id
        assert row["cr"] == pytest.approx((lambda_max - 4) / 3 / RANDOM_INDEX_4, abs=1e-9)


def test_upper_judgment_wins_over_its_lower_mirror(build_sql, kit):
    """Both orientations given: the upper-triangle judgment defines the cell."""
    upper = {"TH": 3, "TI": 5, "TO": 7, "HI": 2, "HO": 4, "IO": 2}
    rows = kit.judgments({"panel_id": "10"}, "R1", upper)
    # a lower-triangle duplicate within validation's 1% of the reciprocal
    rows.append({"panel_id": "10", "respondent": "R1", "row": "H", "col": "T", "value": 0.3334})
    con = build_sql({"ahp": rows})
    (row,) = kit.rows(
        con, "select a_th, a_ht from marts.ahp_matrices where matrix_kind = 'respondent'"
    )
    assert row["a_th"] == 3.0
    assert row["a_ht"] == 1.0 / 3.0
