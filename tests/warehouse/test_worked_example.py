"""The spec's worked example (shared/examples/worked_example): every expected value."""

from __future__ import annotations

import pytest

from thio.warehouse import run_checks

TOLERANCE = 1e-6
FIRM_NUMBERS = ("t", "h", "i", "o", "beta_t", "beta_h", "beta_i", "beta_o", "ahp_cr", "tcc")
FIRM_EXACT = (
    "sector_code",
    "region_code",
    "beta_source",
    "tcc_class",
    "technology_level",
    "priority",
    "ahp_respondents_used",
)
AHP_NUMBERS = ("beta_t", "beta_h", "beta_i", "beta_o", "lambda_max", "ci", "cr")
SCOPE_OF = {"firm_ahp": "firm", "panel_ahp": "panel"}


@pytest.fixture(scope="module")
def example_db(worked_example, methodology, tmp_path_factory, kit):
    """The worked example's compute database, built once for the module."""
    import duckdb

    from thio.warehouse import build_compute_db

    work = tmp_path_factory.mktemp("worked_example")
    accepted = kit.write_accepted(work / "accepted", kit.csv_sheets(worked_example / "csv"))
    summary = build_compute_db(accepted, methodology, work / "compute.duckdb", "2023Q1")
    con = duckdb.connect(str(work / "compute.duckdb"), read_only=True)
    yield con, summary
    con.close()


def _close(actual, expected, label):
    assert actual is not None, label
    assert actual == pytest.approx(expected, abs=TOLERANCE), label


def test_summary_counts(example_db, expected):
    _, summary = example_db
    assert summary["round_id"] == "2023Q1"
    assert summary["marts"]["firm_tcc"] == expected["n_firms"]
    assert summary["marts"]["firm_component"] == 4 * expected["n_firms"]
    assert summary["marts"]["tcc_by_group"] == len(expected["groups"])


def test_firm_tcc(example_db, expected, kit):
    con, _ = example_db
    actual = kit.by_key(kit.rows(con, "select * from marts.firm_tcc"), "firm_id")
    assert set(actual) == {firm["firm_id"] for firm in expected["firms"]}
    for firm in expected["firms"]:
        row = actual[firm["firm_id"]]
        assert row["round_id"] == expected["round_id"]
        for column in FIRM_NUMBERS:
            _close(row[column], firm[column], f"{firm['firm_id']}.{column}")
        for column in FIRM_EXACT:
            assert row[column] == firm[column], f"{firm['firm_id']}.{column}"


def test_firm_component(example_db, expected, kit):
    con, _ = example_db
    actual = kit.by_key(kit.rows(con, "select * from marts.firm_component"), "firm_id", "component")
    assert len(actual) == 4 * len(expected["firms"])
    for firm in expected["firms"]:
        for component, values in firm["components"].items():
            row = actual[(firm["firm_id"], component)]
            label = f"{firm['firm_id']}.{component}"
            _close(row["contribution"], values["contribution"], label)
            _close(row["sota"], values["sota"], label)
            assert (row["n_items"], row["ll_min"], row["ul_max"]) == (
                values["n_items"],
                values["ll_min"],
                values["ul_max"],
            ), label
            _close(row["beta"], firm[f"beta_{component.lower()}"], label)


def test_ahp_respondents(example_db, expected, kit):
    con, _ = example_db
    actual = kit.by_key(
        kit.rows(con, "select * from marts.ahp_matrices where matrix_kind = 'respondent'"),
        "scope_type",
        "scope_id",
        "respondent",
    )
    assert len(actual) == len(expected["ahp"])
    for matrix in expected["ahp"]:
        key = (matrix["scope_type"], matrix["scope_id"], matrix["respondent"])
        row = actual[key]
        for column in AHP_NUMBERS:
            _close(row[column], matrix[column], f"{key}.{column}")
        assert row["consistent"] is matrix["consistent"], key
        # a respondent enters the scope's aggregate exactly when it is consistent
        assert row["used"] is matrix["consistent"], key


def test_ahp_scopes_seen(example_db, expected, kit):
    con, _ = example_db
    respondents = kit.rows(con, "select * from marts.ahp_matrices where matrix_kind = 'respondent'")
    for firm in expected["firms"]:
        for seen in firm["ahp_scopes_seen"]:
            scope_id = firm["firm_id"] if seen["scope"] == "firm_ahp" else firm["sector_code"]
            matrices = [
                row
                for row in respondents
                if (row["scope_type"], row["scope_id"]) == (SCOPE_OF[seen["scope"]], scope_id)
            ]
            assert len(matrices) == seen["respondents"], firm["firm_id"]
            assert sum(row["consistent"] for row in matrices) == seen["consistent"]


def test_aggregate_matrices(example_db, expected, kit):
    con, _ = example_db
    aggregates = kit.by_key(
        kit.rows(con, "select * from marts.ahp_matrices where matrix_kind = 'aggregate'"),
        "scope_id",
    )
    assert set(aggregates) == {"F001", "F002", "F003"}
    for firm in expected["firms"]:
        aggregate = aggregates[firm["firm_id"]]
        _close(aggregate["cr"], firm["ahp_cr"], firm["firm_id"])
        assert aggregate["n_consistent"] == firm["ahp_respondents_used"]
        assert aggregate["used"] is True and aggregate["n_firms_using"] == 1
        # the aggregate is reciprocal to the last bit
        assert aggregate["a_th"] * aggregate["a_ht"] == pytest.approx(1.0, abs=1e-15)


def test_spec_values(example_db, expected, kit):
    """The rounded numbers printed in method.md's worked example."""
    con, _ = example_db
    actual = kit.by_key(kit.rows(con, "select * from marts.firm_tcc"), "firm_id")
    spec = expected["spec_values"]
    for firm_id in ("F001", "F002"):
        for column, value in spec[firm_id].items():
            if column in ("note", "respondent_R2_cr"):
                continue
            if isinstance(value, str):
                assert actual[firm_id][column] == value
            else:
                _close(actual[firm_id][column], value, f"{firm_id}.{column}")
    r2 = kit.rows(
        con,
        "select cr from marts.ahp_matrices where scope_id = 'F002' and respondent = 'R2'",
    )
    _close(r2[0]["cr"], spec["F002"]["respondent_R2_cr"], "F002.R2.cr")
    for column in ("beta_t", "beta_h", "beta_i", "beta_o", "tcc", "priority", "tcc_class"):
        assert actual["F003"][column] == actual["F001"][column]


def test_tcc_by_group(example_db, expected, kit):
    con, _ = example_db
    actual = kit.by_key(
        kit.rows(con, "select * from marts.tcc_by_group"), "group_type", "group_code"
    )
    assert len(actual) == len(expected["groups"])
    for group in expected["groups"]:
        key = (group["group_type"], group["group_code"])
        row = actual[key]
        assert row["round_id"] == expected["round_id"]
        for column, value in group.items():
            if isinstance(value, float):
                _close(row[column], value, f"{key}.{column}")
            else:
                assert row[column] == value, f"{key}.{column}"


def test_checks_pass(example_db):
    con, _ = example_db
    results = run_checks(con)
    assert results, "no checks found"
    assert [result for result in results if not result["success"]] == []
