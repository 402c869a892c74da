"""The survey-round flow end to end under one Prefect test server.

Expected numbers come from shared/examples/worked_example/expected.json (the spec's worked
example), never from the code under test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flows.survey_round import survey_round

TOLERANCE = 1e-6
FIRM_NUMBERS = ("t", "h", "i", "o", "beta_t", "beta_h", "beta_i", "beta_o", "ahp_cr", "tcc")
FIRM_LABELS = ("sector_code", "region_code", "beta_source", "tcc_class", "technology_level")
GROUP_KEY = ("group_type", "sector_code", "region_code")

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _rows(home: Path, query: str, params: list | None = None) -> list[dict]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        cursor = con.execute(query, params or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _assert_worked_example(home: Path, expected: dict) -> None:
    firms = {row["firm_id"]: row for row in _rows(home, "select * from latest.firm_tcc")}
    assert sorted(firms) == [firm["firm_id"] for firm in expected["firms"]]
    for firm in expected["firms"]:
        got = firms[firm["firm_id"]]
        for name in FIRM_NUMBERS:
            assert got[name] == pytest.approx(firm[name], abs=TOLERANCE), (firm["firm_id"], name)
        for name in (*FIRM_LABELS, "priority"):
            assert got[name] == firm[name], (firm["firm_id"], name)
    components = _rows(home, "select * from latest.firm_component")
    assert len(components) == 4 * len(expected["firms"])
    for row in components:
        want = next(f for f in expected["firms"] if f["firm_id"] == row["firm_id"])
        want = want["components"][row["component"]]
        assert row["contribution"] == pytest.approx(want["contribution"], abs=TOLERANCE)
        assert row["sota"] == pytest.approx(want["sota"], abs=TOLERANCE)
        assert (row["ll_min"], row["ul_max"], row["n_items"]) == (
            want["ll_min"],
            want["ul_max"],
            want["n_items"],
        )
    groups = {
        tuple(row[key] for key in GROUP_KEY): row
        for row in _rows(home, "select * from latest.tcc_by_group")
    }
    assert len(groups) == len(expected["groups"])
    for group in expected["groups"]:
        got = groups[tuple(group[key] for key in GROUP_KEY)]
        # every field the worked example gives is a column of the published mart
        assert set(group) <= set(got), (group["group_code"], sorted(set(group) - set(got)))
        for name, value in group.items():
            if name in GROUP_KEY:
                continue
            if isinstance(value, float):
                assert got[name] == pytest.approx(value, abs=TOLERANCE), (group["group_code"], name)
            else:
                assert got[name] == value, (group["group_code"], name)


@pytest.mark.parametrize("form", ["xlsx", "csv"])
def test_worked_example_publishes_every_expected_value(tmp_path, worked_example, expected, form):
    source = worked_example / expected["inputs"][form][0]
    report = survey_round(round_id="2023Q1", inputs=[str(source)], home=str(tmp_path))
    assert report["publication"]["status"] == "published"
    assert report["publication"]["version"] == 1
    assert report["publication"]["n_firms"] == 3
    _assert_worked_example(tmp_path, expected)
    publication = _rows(tmp_path, "select * from meta.publications")[0]
    assert publication["round_id"] == "2023Q1"
    assert len(publication["content_sha256"]) == 64
    archived = list((tmp_path / "raw" / "2023Q1").iterdir())
    assert len(archived) == (1 if form == "xlsx" else 4)


def test_same_input_makes_no_new_version_and_changed_input_makes_the_next(tmp_path, worked_example):
    folder = tmp_path / "inputs" / "csv"
    shutil.copytree(worked_example / "csv", folder)
    home = tmp_path / "home"
    first = survey_round(round_id="2023Q1", inputs=[str(folder)], home=str(home))
    again = survey_round(round_id="2023Q1", inputs=[str(folder)], home=str(home))
    assert (first["publication"]["version"], first["publication"]["status"]) == (1, "published")
    assert (again["publication"]["version"], again["publication"]["status"]) == (1, "unchanged")
    # F001's first SOTA score goes 5 -> 10: T1's mean rises from 6.0 to 7.0.
    sota = folder / "sota.csv"
    sota.write_text(
        sota.read_text().replace(
            "F001,T,T1,T.op_complexity,E1,5", "F001,T,T1,T.op_complexity,E1,10"
        )
    )
    changed = survey_round(round_id="2023Q1", inputs=[str(folder)], home=str(home))
    assert (changed["publication"]["version"], changed["publication"]["status"]) == (2, "published")
    versions = _rows(home, "select version, status from meta.publications order by version")
    assert versions == [
        {"version": 1, "status": "published"},
        {"version": 2, "status": "published"},
    ]
    # T1 c = (1 + 0.7 * 2) / 9 = 0.266667; T = (0.266667 + 3 * 0.333333) / 4 = 0.316667
    t_value = _rows(home, "select t from latest.firm_tcc where firm_id = 'F001'")[0]["t"]
    assert t_value == pytest.approx((1 + 0.7 * 2) / 9 / 4 + 3 * (2 + 0.5 * 2) / 9 / 4, abs=1e-12)
    old_t = _rows(home, "select t from marts.firm_tcc where firm_id = 'F001' and version = 1")
    assert old_t[0]["t"] == pytest.approx(0.311111, abs=TOLERANCE)


def test_a_quarantined_row_does_not_stop_the_round(tmp_path):
    from thio.sample import generate_rounds, write_csv_folder

    (sheets,) = generate_rounds(n_firms=300, round_ids=("2024Q1",), seed=7)
    sota = sheets["sota"]
    # one infoware score becomes 11 (the scale is 0..10) where it is the criterion's only
    # rating; infoware has one item per firm, so the firm is left without a valid I item
    raters = sota.groupby(["firm_id", "item_id", "criterion"])["score"].transform("size")
    bad = sota.index[(sota["component"] == "I") & (raters == 1)][0]
    firm_id = sota.loc[bad, "firm_id"]
    sota["score"] = sota["score"].astype(object)
    sota.loc[bad, "score"] = "11"
    folder = tmp_path / "round"
    write_csv_folder(sheets, folder)
    home = tmp_path / "home"
    report = survey_round(round_id="2024Q1", inputs=[str(folder)], home=str(home))
    assert report["publication"]["status"] == "published"
    assert report["publication"]["n_firms"] == 299
    published = _rows(home, "select firm_id from latest.firm_tcc")
    assert firm_id not in {row["firm_id"] for row in published}
    problem = _rows(home, "select * from meta.quarantine where rule = 'range'")
    assert len(problem) == 1
    assert (problem[0]["sheet"], problem[0]["column_name"], problem[0]["value"]) == (
        "sota",
        "score",
        "11",
    )
    assert problem[0]["row_number"] == bad + 2  # header is row 1
    excluded = _rows(home, "select * from meta.quarantine where rule = 'missing_component'")
    assert [row["firm_id"] for row in excluded] == [firm_id]
