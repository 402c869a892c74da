"""build_compute_db's orchestration: model discovery and order, landing tables, the SQL style
rules of warehouse/, input never formatted into SQL, and run_checks."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.fixtures.compute import materialise_marts
from thio.contract import SHEETS, landing_columns
from thio.errors import ThioError
from thio.warehouse import (
    LAYERS,
    WAREHOUSE_DIR,
    build_compute_db,
    materialisations,
    model_order,
    run_checks,
)

MARTS = {"firm_tcc", "firm_component", "tcc_by_group", "ahp_matrices", "program_firms"}
REFERENCE = re.compile(r"\b(staging|intermediate|marts)\.([a-z_][a-z0-9_]*)\b")


def _model_files():
    return sorted(path for layer in LAYERS for path in (WAREHOUSE_DIR / layer).glob("*.sql"))


def test_models_discovered_in_dependency_order():
    order = model_order()
    assert len(order) == len(_model_files())
    assert {name.split(".")[1] for name in order if name.startswith("marts.")} == MARTS
    position = {name: index for index, name in enumerate(order)}
    for path in _model_files():
        name = f"{path.parent.name}.{path.stem}"
        for layer, relation in REFERENCE.findall(path.read_text()):
            upstream = f"{layer}.{relation}"
            if upstream != name:
                assert position[upstream] < position[name], (upstream, name)


def test_model_order_rejects_missing_reference(tmp_path):
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
    (tmp_path / "marts" / "broken.sql").write_text("select * from intermediate.int_nothing__done")
    with pytest.raises(ThioError, match=r"marts\.broken references missing intermediate\."):
        model_order(tmp_path)


def test_model_order_rejects_cycle(tmp_path):
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
    (tmp_path / "staging" / "stg_a.sql").write_text("select * from staging.stg_b")
    (tmp_path / "staging" / "stg_b.sql").write_text("select * from staging.stg_a")
    with pytest.raises(ThioError, match="cycle"):
        model_order(tmp_path)


def test_materialisations(tmp_path):
    """Marts are tables, staging views; an intermediate is a table only with several readers."""
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
    (tmp_path / "staging" / "stg_firms.sql").write_text("select * from landing.firms")
    (tmp_path / "intermediate" / "int_once__read.sql").write_text("select * from staging.stg_firms")
    (tmp_path / "intermediate" / "int_twice__read.sql").write_text(
        "select * from intermediate.int_once__read"
    )
    for name in ("first", "second"):
        (tmp_path / "marts" / f"{name}.sql").write_text(
            "select * from intermediate.int_twice__read"
        )
    assert materialisations(tmp_path) == {
        "staging.stg_firms": "view",
        "intermediate.int_once__read": "view",
        "intermediate.int_twice__read": "table",
        "marts.first": "table",
        "marts.second": "table",
    }
    shipped = materialisations()
    assert {name for name, kind in shipped.items() if kind == "table"} >= {
        f"marts.{mart}" for mart in MARTS
    }
    assert {kind for name, kind in shipped.items() if name.startswith("staging.")} == {"view"}


@pytest.mark.parametrize("path", _model_files(), ids=lambda path: f"{path.parent.name}.{path.stem}")
def test_model_style(path):
    """Header (purpose, grain, key, upstreams), naming, `final` CTE, lowercase keywords."""
    text = path.read_text()
    header = text.split("\nwith\n")[0]
    for field in ("-- purpose:", "-- grain:", "-- key:", "-- upstreams:"):
        assert field in header, f"{path.name}: header lacks {field}"
    layer = path.parent.name
    if layer == "staging":
        assert path.stem.startswith("stg_") and path.stem[4:] in SHEETS
    if layer == "intermediate":
        assert re.fullmatch(r"int_[a-z_]+__[a-z]+ed", path.stem), path.stem
    assert "\nfinal as (\n" in text
    assert text.rstrip().endswith("select * from final")
    code = "\n".join(line.split("--")[0] for line in text.splitlines())
    assert not re.search(r"\b(SELECT|FROM|WHERE|JOIN|GROUP BY|WITH)\b", code)
    # relation aliases say what they hold (t, h, i, o are published column names, not aliases)
    assert not re.search(r"\b(from|join) [a-z_.]+ as [a-z]{1,2}\b", code), "short alias"


def test_landing_tables_and_missing_sheets(methodology, tmp_path, kit):
    firm = kit.firm_rows("F1", dict.fromkeys("THIO", (4, 5, 5.0)), methodology)
    accepted = kit.write_accepted(tmp_path / "accepted", firm)
    db_path = tmp_path / "compute.duckdb"
    db_path.write_bytes(b"an older build")  # replaced, not reused
    summary = build_compute_db(accepted, methodology, db_path, "2024Q2")
    assert summary["marts"] == {
        "ahp_matrices": 0,
        "firm_component": 4,
        "firm_tcc": 1,
        "program_firms": 0,
        "tcc_by_group": 4,
    }
    with duckdb.connect(str(db_path), read_only=True) as con:
        for sheet in SHEETS.values():
            described = con.execute(f"describe landing.{sheet.name}").fetchall()
            columns = [(row[0], row[1].lower()) for row in described]
            assert columns == landing_columns(sheet)
        assert con.execute("select count(*) from landing.ahp").fetchone() == (0,)
        assert con.execute("select round_id from landing.run").fetchall() == [("2024Q2",)]
        for mart in MARTS - {"ahp_matrices", "program_firms"}:
            rounds = con.execute(f"select distinct round_id from marts.{mart}").fetchall()
            assert rounds == [("2024Q2",)]
        (row,) = con.execute("select beta_source, tcc, tcc_class from marts.firm_tcc").fetchall()
        assert row == ("default", pytest.approx(0.5, abs=1e-15), "fair")
        kinds = materialisations()
        relations = con.execute(
            "select schema_name || '.' || table_name, 'table' from duckdb_tables() "
            "union all select schema_name || '.' || view_name, 'view' from duckdb_views() "
            "where not internal"
        ).fetchall()
        # the file holds the staging views and the marts, as views over their parquet files
        # beside it; the intermediate models stayed in the build's memory
        assert {name: kind for name, kind in relations if name in kinds} == {
            name: "view" for name in kinds if not name.startswith("intermediate.")
        }
        assert sorted(path.name for path in (tmp_path / "marts").iterdir()) == sorted(
            f"{mart}.parquet" for mart in MARTS
        )
        assert "table" in {kinds[name] for name in kinds if name.startswith("intermediate.")}


def test_landing_reads_a_folder_named_with_quotes(methodology, tmp_path, kit):
    """The accepted folder's path reaches the landing views as a quoted SQL literal."""
    firm = kit.firm_rows("F1", dict.fromkeys("THIO", (4, 5, 5.0)), methodology)
    accepted = kit.write_accepted(tmp_path / 'it\'s "accepted"; --', firm)
    db_path = tmp_path / "compute.duckdb"
    summary = build_compute_db(accepted, methodology, db_path, "2024Q2")
    assert summary["marts"]["firm_tcc"] == 1
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("select firm_id from landing.firms").fetchall() == [("F1",)]


def test_input_values_are_never_sql(methodology, build_sql, kit):
    """Identifiers with quotes and semicolons travel as data."""
    firm_id = "O'Brien\"; drop table landing.firms; --"
    firm = kit.firm_rows(
        firm_id, dict.fromkeys("THIO", (4, 5, 5.0)), methodology, sector_code="1'0"
    )
    ahp = kit.judgments(
        {"panel_id": "1'0"}, "R'1", {"TH": 2, "TI": 4, "TO": 8, "HI": 2, "HO": 4, "IO": 2}
    )
    con = build_sql(kit.merge(firm, {"ahp": ahp}))
    (row,) = kit.rows(con, "select firm_id, beta_source, beta_t from marts.firm_tcc")
    assert row["firm_id"] == firm_id
    assert row["beta_source"] == "panel_ahp"
    assert row["beta_t"] == pytest.approx(8 / 15, abs=1e-12)
    (cell,) = kit.rows(con, "select * from marts.tcc_by_group where group_type = 'sector_region'")
    assert cell["group_code"] == "1'0|6474"


def test_checks_report_violations(methodology, tmp_path, kit):
    firm = kit.firm_rows("F1", dict.fromkeys("THIO", (4, 5, 5.0)), methodology)
    accepted = kit.write_accepted(tmp_path / "accepted", firm)
    db_path = tmp_path / "compute.duckdb"
    build_compute_db(accepted, methodology, db_path, "2023Q1")
    with duckdb.connect(str(db_path)) as con:
        results = run_checks(con)
        # the marts' key, range and sum rules are the audit's (schemas/expectations/)
        assert {result["check_name"] for result in results} == {
            "ahp_betas_sum_to_one",
            "every_firm_scored",
            "firms_classified",
            "group_shares_sum_to_one",
        }
        assert all(result["success"] for result in results)
        assert all(result["suite"] == "warehouse" for result in results)
        # break the mart: the checks must notice
        materialise_marts(con)
        con.execute("update marts.firm_tcc set priority = 'T,T,I,O'")
        con.execute("update marts.tcc_by_group set share_low = share_low + 0.5")
        failed = {
            result["check_name"]: result for result in run_checks(con) if not result["success"]
        }
    assert set(failed) == {"firms_classified", "group_shares_sum_to_one"}
    assert failed["firms_classified"]["unexpected_count"] == 1
    assert failed["firms_classified"]["observed"][0]["firm_id"] == "F1"
