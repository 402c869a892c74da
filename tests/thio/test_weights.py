"""Weights the contract allows (any number > 0) but a double cannot sum (issue 12, item 3).

A sample_weight of 1e308 overflowed tcc_by_group's weight_sum to inf (NaN shares, a null
class, a wrong priority, and the audit passed); a subnormal 1e-320 lost 20 bits and moved a
weighted mean by 1.4e-4; an item weight of 1e308 overflowed a contribution to 0. Weights are
now quarantined outside ``weight_ranges`` of the methodology file (with file, sheet, row,
column, value and the range), and weights at the ends of those ranges compute exactly.
Expected values come from the worked example (expected.json) and the formulas of method.md.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from tests.fixtures.rounds import worked_example_csv
from thio.cli import cli
from thio.ingest import ingest_inputs
from thio.methodology import load_methodology
from thio.validation import validate_round
from thio.warehouse import build_compute_db

ROUND = "2023Q1"


def _weighted(folder: Path, sample_weights: dict[str, str]) -> None:
    """Give the firms sheet a sample_weight column (firm_id -> cell text)."""
    firms = folder / "firms.csv"
    header, *rows = firms.read_text().splitlines()
    lines = [header + ",sample_weight"]
    lines += [row + "," + sample_weights[row.split(",")[1]] for row in rows]
    firms.write_text("\n".join(lines) + "\n")


def _item_weights(folder: Path, firm_id: str, weights: dict[str, str]) -> None:
    """Set the weight cell of some technoware items of a firm (item_id -> cell text)."""
    items = folder / "items.csv"
    header, *rows = items.read_text().splitlines()
    names = header.split(",")
    changed = []
    for row in rows:
        cells = row.split(",")
        if cells[0] == firm_id and cells[2] in weights:
            cells[names.index("weight")] = weights[cells[2]]
        changed.append(",".join(cells))
    items.write_text("\n".join([header, *changed]) + "\n")


# (what is changed, the one line the run prints for it)
ABSURD = {
    "sample_weight 1e308": (
        lambda folder: _weighted(folder, {"F001": "1e308", "F002": "1e308", "F003": "1"}),
        "csv/firms.csv, sheet firms, row 2, column sample_weight: 1e308 is outside the allowed"
        " range 1e-06..1e+09 of weight_ranges.sample_weight in the methodology file",
    ),
    "sample_weight 1e-320": (
        lambda folder: _weighted(folder, {"F001": "1", "F002": "1", "F003": "1e-320"}),
        "csv/firms.csv, sheet firms, row 4, column sample_weight: 1e-320 is outside the allowed"
        " range 1e-06..1e+09 of weight_ranges.sample_weight in the methodology file",
    ),
    "item weight 1e308": (
        lambda folder: _item_weights(folder, "F002", {"T1": "1e308", "T2": "1e308"}),
        "csv/items.csv, sheet items, row 7, column weight: 1e308 is outside the allowed"
        " range 1e-06..1e+12 of weight_ranges.item_weight in the methodology file",
    ),
}


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("case", sorted(ABSURD))
def test_an_absurd_weight_is_quarantined_naming_the_range(tmp_path, worked_example, case):
    change, line = ABSURD[case]
    folder = worked_example_csv(worked_example, tmp_path / "csv")
    change(folder)
    home = tmp_path / "home"
    result = CliRunner().invoke(
        cli, ["run", "--home", str(home), "--round", ROUND, str(folder)], catch_exceptions=False
    )
    lines = result.output.strip().splitlines()
    assert "Traceback" not in result.output
    assert line in lines
    # one firm of three has a quarantined row: over the 5 % threshold, nothing is published
    assert result.exit_code == 1
    assert lines[-1] == "round 2023Q1: version -, 0 firms, blocked"
    assert any(
        entry.startswith("round blocked: ") and "round.quarantine_share" in entry for entry in lines
    ), result.output


def _compute(tmp_path: Path, folder: Path) -> duckdb.DuckDBPyConnection:
    work = tmp_path / "work"
    ingest_inputs([folder], ROUND, tmp_path / "home", work)
    methodology = load_methodology()
    summary = validate_round(work, ROUND, methodology)
    assert summary["quarantine_share"] == 0.0
    build_compute_db(work / "accepted", methodology, work / "compute.duckdb", ROUND)
    return duckdb.connect(str(work / "compute.duckdb"), read_only=True)


def _group(con: duckdb.DuckDBPyConnection, group_code: str) -> dict:
    cursor = con.execute("select * from marts.tcc_by_group where group_code = ?", [group_code])
    names = [column[0] for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def test_sample_weights_at_the_ends_of_the_range_are_exact(tmp_path, worked_example, expected):
    # F001 stands for 1e9 firms, F002 (sector 31, alone in it) for 1e-6, F003 for 1
    folder = worked_example_csv(worked_example, tmp_path / "csv")
    _weighted(folder, {"F001": "1e9", "F002": "1e-6", "F003": "1"})
    firms = {firm["firm_id"]: firm for firm in expected["firms"]}
    weights = {"F001": 1e9, "F002": 1e-6, "F003": 1.0}
    with _compute(tmp_path, folder) as con:
        everyone = _group(con, "all")
        alone = _group(con, "31")
    total = 1e9 + 1e-6 + 1
    assert everyone["weighted"] is True
    assert everyone["weight_sum"] == pytest.approx(1_000_000_001.000001, abs=1e-6)
    for column in ("tcc", "t", "beta_t", "beta_h", "beta_i", "beta_o"):
        by_hand = sum(weights[firm] * firms[firm][column] for firm in weights) / total
        assert everyone[f"{column}_mean"] == pytest.approx(by_hand, abs=1e-6), column
    # unweighted, beta_t_mean is 0.479431 (expected.json, F002's 0.503702 in it); weighted
    # 1e9 : 1e-6 : 1 it is F001's and F003's 0.467296
    assert everyone["beta_t_mean"] == pytest.approx(0.4672959827809368, abs=1e-6)
    # a group of the one firm of weight 1e-6: its own values, not off by 1.4e-4 as with 1e-320
    assert alone["weight_sum"] == pytest.approx(1e-6, rel=1e-12)
    assert alone["t_mean"] == pytest.approx(firms["F002"]["t"], abs=1e-12)
    assert alone["beta_t_mean"] == pytest.approx(firms["F002"]["beta_t"], abs=1e-12)
    assert alone["share_fair"] == 1.0
    assert alone["priority"] == firms["F002"]["priority"]
    assert all(math.isfinite(value) for value in everyone.values() if isinstance(value, float))


def test_item_weights_at_the_ends_of_the_range_are_exact(tmp_path, worked_example):
    # F001's technoware: T1 (ll 1, ul 3, mean rating 6.0, c = 2.2 / 9) weighs 1e12, T2 (ll 2,
    # ul 4, mean 5.0, c = 3 / 9) weighs 1e-6 (method.md, worked example)
    folder = worked_example_csv(worked_example, tmp_path / "csv")
    _item_weights(folder, "F001", {"T1": "1e12", "T2": "1e-6"})
    by_hand = (1e12 * 2.2 / 9 + 1e-6 * 3 / 9) / (1e12 + 1e-6)
    with _compute(tmp_path, folder) as con:
        (contribution,) = con.execute(
            "select contribution from marts.firm_component "
            "where firm_id = 'F001' and component = 'T'"
        ).fetchone()
    assert contribution == pytest.approx(by_hand, abs=1e-6)
    assert contribution == pytest.approx(0.244444, abs=1e-6)
