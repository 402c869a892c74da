"""marts.program_effect (method.md section 10): hand-made published rounds → expected rows.

Two tiers: the SQL run over hand-written published rows (every rule of the window and the
comparison group), and three CSV rounds through ingest → validate → compute → publish.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.rounds import good_round, write_csv
from tests.thio.test_publish import run_round
from thio.publish import PUBLISH_SQL_DIR, _create_tables

QUERY = (PUBLISH_SQL_DIR / "program_effect.sql").read_text(encoding="utf-8")
COLUMNS = (
    "program_id, from_round, to_round, from_version, to_version, n_mentored, n_comparison, "
    "d_tcc_mentored, d_tcc_comparison, did_tcc, focus, d_focus_mentored, d_focus_comparison, "
    "did_focus"
)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture
def published() -> duckdb.DuckDBPyConnection:
    """Three rounds as a published warehouse holds them.

    2023Q1 surveyed 10-20 Jan, 2023Q2 (version 2 current, version 1 superseded) 5-25 Apr,
    2023Q3 5-15 Jul, and a retracted version 2 of 2023Q3. Firms A, B, C of sector 10, D of
    sector 31. P1 (A and E, focus T,H) runs Feb-Mar: before = Q1, after = Q2; E is never
    surveyed. P2 (C, focus O) runs Mar-Jun: Q1 → Q3. P3 starts in August: no round after it.
    """
    con = duckdb.connect()
    _create_tables(con)
    con.executemany(
        "insert into meta.publications (round_id, version, status) values (?, ?, ?)",
        [
            ("2023Q1", 1, "published"),
            ("2023Q2", 1, "published"),
            ("2023Q2", 2, "published"),
            ("2023Q3", 1, "published"),
            ("2023Q3", 2, "retracted"),
        ],
    )
    # round, version, firm, sector, tcc, survey date, {component: contribution}
    firms = [
        ("2023Q1", 1, "A", "10", 0.30, "2023-01-10", {"T": 0.30, "H": 0.40}),
        ("2023Q1", 1, "B", "10", 0.35, "2023-01-12", {"T": 0.35, "H": 0.45, "O": 0.25}),
        ("2023Q1", 1, "C", "10", 0.32, "2023-01-15", {"O": 0.20}),
        ("2023Q1", 1, "D", "31", 0.40, "2023-01-20", {"T": 0.10, "H": 0.10}),
        ("2023Q2", 1, "A", "10", 0.90, "2023-04-05", {"T": 0.90, "H": 0.90}),
        ("2023Q2", 2, "A", "10", 0.38, "2023-04-05", {"T": 0.36, "H": 0.46}),
        ("2023Q2", 2, "B", "10", 0.36, "2023-04-10", {"T": 0.35, "H": 0.47}),
        ("2023Q2", 2, "C", "10", 0.33, "2023-04-20", {"O": 0.22}),
        ("2023Q2", 2, "D", "31", 0.50, "2023-04-25", {"T": 0.50, "H": 0.50}),
        ("2023Q3", 1, "A", "10", 0.40, "2023-07-05", {"T": 0.37}),
        ("2023Q3", 1, "B", "10", 0.37, "2023-07-06", {"O": 0.27}),
        ("2023Q3", 1, "C", "10", 0.36, "2023-07-10", {"O": 0.30}),
        ("2023Q3", 1, "D", "31", 0.55, "2023-07-15", {}),
        ("2023Q3", 2, "B", "10", 0.99, "2023-07-06", {"O": 0.99}),
        ("2023Q3", 2, "C", "10", 0.01, "2023-07-10", {"O": 0.01}),
    ]
    for round_id, version, firm, sector, tcc, survey, contributions in firms:
        con.execute(
            "insert into marts.firm_tcc (round_id, version, firm_id, sector_code, tcc, "
            "survey_date) values (?, ?, ?, ?, ?, ?)",
            [round_id, version, firm, sector, tcc, _date(survey)],
        )
        for component, contribution in contributions.items():
            con.execute(
                "insert into marts.firm_component (round_id, version, firm_id, component, "
                "contribution) values (?, ?, ?, ?, ?)",
                [round_id, version, firm, component, contribution],
            )
    programs = [
        ("2023Q2", 2, "P1", "A", "T,H", "2023-02-01", "2023-03-31"),
        ("2023Q2", 2, "P1", "E", "T,H", "2023-02-01", "2023-03-31"),
        ("2023Q2", 2, "P2", "C", "O", "2023-03-01", "2023-06-30"),
        ("2023Q3", 1, "P2", "C", "O", "2023-03-01", "2023-06-30"),
        ("2023Q3", 1, "P3", "B", "I", "2023-08-01", "2023-09-30"),
        # superseded and retracted versions are not read
        ("2023Q2", 1, "P9", "B", "T", "2023-02-01", "2023-03-31"),
        ("2023Q3", 2, "P9", "B", "T", "2023-02-01", "2023-03-31"),
    ]
    con.executemany(
        "insert into marts.program_firms (round_id, version, program_id, firm_id, focus, "
        "start_date, end_date) values (?, ?, ?, ?, ?, ?, ?)",
        [(*row[:5], _date(row[5]), _date(row[6])) for row in programs],
    )
    yield con
    con.close()


def _effects(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    rows = con.execute(f"select {COLUMNS} from ({QUERY}) order by program_id").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_programmes_compare_the_rounds_around_them(published):
    effects = _effects(published)
    assert sorted(effects) == ["P1", "P2"]  # P3 has no round after it yet

    # P1: A mentored (E never surveyed); comparison B only: C is in P2, whose months overlap
    # P1's window, and D is another sector. Q2 is read at its current version 2.
    (from_round, to_round, from_v, to_v, n_m, n_c, d_m, d_c, did, focus, f_m, f_c, f_did) = effects[
        "P1"
    ]
    assert (from_round, to_round, from_v, to_v, n_m, n_c, focus) == (
        "2023Q1", "2023Q2", 1, 2, 1, 1, "T,H",
    )  # fmt: skip
    assert d_m == pytest.approx(0.38 - 0.30, abs=1e-12)
    assert d_c == pytest.approx(0.36 - 0.35, abs=1e-12)
    assert did == pytest.approx(0.08 - 0.01, abs=1e-12)
    # focus T,H: A ((0.36-0.30) + (0.46-0.40)) / 2, B ((0.35-0.35) + (0.47-0.45)) / 2
    assert f_m == pytest.approx(0.06, abs=1e-12)
    assert f_c == pytest.approx(0.01, abs=1e-12)
    assert f_did == pytest.approx(0.05, abs=1e-12)


def test_a_firm_another_programme_mentored_is_no_comparison(published):
    # P2 (Mar-Jun): the round after it is Q3, not Q2 (surveyed while it ran); A was mentored
    # by P1 within the window, so only B compares; retracted Q3 version 2 is ignored.
    (from_round, to_round, from_v, to_v, n_m, n_c, d_m, d_c, did, focus, f_m, f_c, f_did) = (
        _effects(published)["P2"]
    )
    assert (from_round, to_round, from_v, to_v, n_m, n_c, focus) == (
        "2023Q1", "2023Q3", 1, 1, 1, 1, "O",
    )  # fmt: skip
    assert d_m == pytest.approx(0.36 - 0.32, abs=1e-12)
    assert d_c == pytest.approx(0.37 - 0.35, abs=1e-12)
    assert did == pytest.approx(0.02, abs=1e-12)
    assert f_m == pytest.approx(0.30 - 0.20, abs=1e-12)
    assert f_c == pytest.approx(0.27 - 0.25, abs=1e-12)
    assert f_did == pytest.approx(0.08, abs=1e-12)


def test_a_programme_with_no_comparison_firm_has_no_difference(published):
    # Only C remains in sector 10 once B is mentored by P2 too: P2 then has no comparison.
    published.execute(
        "insert into marts.program_firms (round_id, version, program_id, firm_id, focus, "
        "start_date, end_date) values ('2023Q3', 1, 'P2', 'B', 'O', ?, ?)",
        [_date("2023-03-01"), _date("2023-06-30")],
    )
    effect = _effects(published)["P2"]
    assert effect[4:6] == (2, 0)  # n_mentored, n_comparison
    assert effect[5 + 2] is None and effect[8] is None  # d_tcc_comparison, did_tcc
    assert effect[6] == pytest.approx(((0.36 - 0.32) + (0.37 - 0.35)) / 2, abs=1e-12)


# ---------------------------------------------------------------------------------------
# Through the pipeline: three CSV rounds of four firms, default betas (0.25 each), every
# item ll 2 ul 4, so a component with all scores s contributes (2 + 2 s / 10) / 9 and
# TCC is the geometric mean of T, H, I, O.
# ---------------------------------------------------------------------------------------


def _contribution(score: float) -> float:
    return (2 + 2 * score / 10) / 9


def _tcc(t: float, h: float, i: float, o: float) -> float:
    return (t * h * i * o) ** 0.25


def _round(round_id: str, survey_date: str, scores: dict[tuple[str, str], str], programs):
    round_ = good_round(4, ahp=False)
    for firm in round_["firms"]:
        firm["round_id"] = round_id
        firm["survey_date"] = survey_date
    for row in round_["sota"]:
        row["score"] = scores.get((row["firm_id"], row["component"]), "6")
    if programs:
        round_["programs"] = copy.deepcopy(programs)
    return round_


def test_program_effect_through_the_pipeline(tmp_path: Path):
    programme = [
        {
            "program_id": "PND-01",
            "program_name": "Pendampingan mesin",
            "firm_id": "F001",
            "organisation": "Disperindag",
            "focus": "technoware",
            "start_date": "2023-02-01",
            "end_date": "2023-03-31",
        }
    ]
    rounds = {
        # F001 and F003 are sector 10, F002 and F004 sector 31 (good_round)
        "2023Q1": _round("2023Q1", "2023-01-11", {}, None),
        "2023Q2": _round(
            "2023Q2", "2023-04-12", {("F001", "T"): "9", ("F003", "H"): "7"}, programme
        ),
        "2023Q3": _round("2023Q3", "2023-07-12", {("F001", "T"): "10"}, programme),
    }
    home = tmp_path / "home"
    for round_id, round_ in rounds.items():
        report = run_round(home, [write_csv(round_, tmp_path / round_id)], round_id)
        assert report["publication"]["status"] == "published", report

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(f"select {COLUMNS}, program_name from latest.program_effect").fetchall()
        members = con.execute(
            "select round_id, program_id, firm_id, focus, organisation from marts.program_firms "
            "order by round_id"
        ).fetchall()
    assert members == [
        ("2023Q2", "PND-01", "F001", "T", "Disperindag"),
        ("2023Q3", "PND-01", "F001", "T", "Disperindag"),
    ]
    assert len(rows) == 1
    (program_id, from_round, to_round, from_v, to_v, n_m, n_c, d_m, d_c, did, focus, f_m, f_c,
     f_did, name) = rows[0]  # fmt: skip
    assert (program_id, from_round, to_round, from_v, to_v, n_m, n_c, focus, name) == (
        "PND-01", "2023Q1", "2023Q2", 1, 1, 1, 1, "T", "Pendampingan mesin",
    )  # fmt: skip
    six, seven, nine = _contribution(6), _contribution(7), _contribution(9)
    assert six == pytest.approx(3.2 / 9, abs=1e-15)
    assert d_m == pytest.approx(_tcc(nine, six, six, six) - six, abs=1e-9)
    assert d_c == pytest.approx(_tcc(six, seven, six, six) - six, abs=1e-9)
    assert did == pytest.approx(d_m - d_c, abs=1e-12)
    assert f_m == pytest.approx(0.6 / 9, abs=1e-9)  # T: (2 + 1.8) / 9 - (2 + 1.2) / 9
    assert f_c == pytest.approx(0.0, abs=1e-12)
    assert f_did == pytest.approx(0.6 / 9, abs=1e-9)

    from thio.report import program_effects

    lines = program_effects(home).splitlines()
    assert lines[0].startswith("Mentoring programmes:")
    assert lines[3].split() == [
        "PND-01", "2023Q1", "->", "2023Q2", "T", "1", "1",
        f"{d_m:+.3f}", f"{d_c:+.3f}", f"{did:+.3f}", f"{f_did:+.3f}",
    ]  # fmt: skip
    assert program_effects(home, "id").splitlines()[0].startswith("Program pendampingan:")
