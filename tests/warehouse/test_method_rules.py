"""Method rules the worked example leaves untested (issue 12, item 8): several raters of one
criterion, criterion weights other than 1, a SOTA scale not starting at 0 (method.md
section 3) and the change between consecutive published rounds (section 10,
marts.round_change). Every expected value is worked out by hand in the comments.

Unless a test says otherwise, a firm has one item per component and no AHP or given weights,
so its betas are the methodology default (0.25 each) and TCC = (T * H * I * O) ** (1 / 4).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.fixtures.rounds import good_round, write_csv
from tests.thio.test_publish import run_round
from thio.catalog import ALL_TABLES
from thio.methodology import DEFAULT_METHODOLOGY, Methodology, load_methodology
from thio.publish import PUBLISH_SQL_DIR
from thio.retraction import retract_version

EXACT = 1e-12

# The components' other items, scored alike on every criterion by one rater so that only
# the component under test carries the rule: c = (ll + s * (ul - ll)) / 9 with s = score / 10
# on the shipped 0..10 scale.
H_2_9 = (1, 3, 5.0)  # (1 + 0.5 * 2) / 9 = 2/9
I_3_9 = (2, 4, 5.0)  # (2 + 0.5 * 2) / 9 = 3/9
O_4_9 = (3, 5, 5.0)  # (3 + 0.5 * 2) / 9 = 4/9

Ratings = list[float | dict[str | None, float]]


def _firm(
    kit: Any, methodology: Methodology, firm_id: str, components: dict[str, tuple[int, int, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """One firm's rows. ``components`` maps a component to one item (ll, ul, ratings):
    ratings one score for every criterion (one blank rater), or a list in the criteria's
    file order of a score or {rater: score} (None the blank rater)."""
    sheets = kit.firm_rows(firm_id, {}, methodology)
    for component, (ll, ul, ratings) in components.items():
        criteria = methodology.criteria()[component]
        if not isinstance(ratings, list):
            ratings = [ratings] * len(criteria)
        assert len(ratings) == len(criteria), component
        item_id = f"{component}1"
        sheets["items"].append(
            {"firm_id": firm_id, "component": component, "item_id": item_id, "ll": ll, "ul": ul}
        )
        for criterion, rating in zip(criteria, ratings, strict=True):
            by_rater = rating if isinstance(rating, dict) else {None: rating}
            for rater, score in by_rater.items():
                sheets["sota"].append(
                    {
                        "firm_id": firm_id,
                        "component": component,
                        "item_id": item_id,
                        "criterion": criterion,
                        "rater": rater,
                        "score": score,
                    }
                )
    return sheets


@pytest.fixture
def variant(tmp_path: Path) -> Callable[[Callable[[dict], None]], Methodology]:
    """The shipped methodology file with one setting changed by ``edit``, written and read
    back through the loader (so the variant is one a user could pass with --methodology)."""

    def make(edit: Callable[[dict], None]) -> Methodology:
        settings = yaml.safe_load(DEFAULT_METHODOLOGY.read_bytes())
        edit(settings)
        path = tmp_path / "methodology.yaml"
        path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
        return load_methodology(path)

    return make


def _results(con: duckdb.DuckDBPyConnection, kit: Any, firm_id: str) -> tuple[dict, dict]:
    (firm,) = kit.rows(con, "select * from marts.firm_tcc where firm_id = ?", firm_id)
    components = kit.rows(con, "select * from marts.firm_component where firm_id = ?", firm_id)
    return firm, kit.by_key(components, "component")


# ---------------------------------------------------------------------------------------
# Several raters: a criterion's rating is the mean over the raters who scored it, then the
# item's s is the mean over criteria.
# ---------------------------------------------------------------------------------------

# T item ll 2, ul 6; raters blank (= rater "1"), E2 and E3, not every one on every criterion
RATED_T: Ratings = [
    {None: 4, "E2": 6, "E3": 8},  # op_complexity: (4 + 6 + 8) / 3 = 6
    {None: 5, "E2": 7},  # precision: (5 + 7) / 2 = 6
    {None: 3},  # control: 3
    {None: 9, "E3": 10},  # automation: (9 + 10) / 2 = 9.5
    {None: 2, "E2": 4, "E3": 9},  # maintenance: (2 + 4 + 9) / 3 = 5
]


def test_a_criterion_is_the_mean_of_the_raters_who_scored_it(methodology, build, kit):
    components = {"T": (2, 6, RATED_T), "H": H_2_9, "I": I_3_9, "O": O_4_9}
    con = build(_firm(kit, methodology, "R1", components))
    firm, components = _results(con, kit, "R1")
    # s = (6 + 6 + 3 + 9.5 + 5) / 5 / 10 = 29.5 / 50 = 0.59. The wrong means differ: all 11
    # ratings pooled 67 / 110 = 0.6091; each rater's mean, then their mean
    # (23/5 + 17/3 + 27/3) / 3 / 10 = 0.6422
    assert components["T"]["sota"] == pytest.approx(0.59, abs=EXACT)
    # c = (2 + 0.59 * (6 - 2)) / 9 = 4.36 / 9 = 0.484444
    assert components["T"]["contribution"] == pytest.approx(4.36 / 9, abs=EXACT)
    assert firm["t"] == pytest.approx(4.36 / 9, abs=EXACT)
    assert components["T"]["n_items"] == 1
    # TCC = (4.36/9 * 2/9 * 3/9 * 4/9) ** 0.25 = (4.36 * 24) ** 0.25 / 9 = 104.64 ** 0.25 / 9
    # = 0.355371: fair
    assert firm["tcc"] == pytest.approx(104.64**0.25 / 9, abs=EXACT)
    assert firm["tcc_class"] == "fair"


# ---------------------------------------------------------------------------------------
# Criterion weights: the item's s is the weighted mean of its criteria's normalised ratings.
# ---------------------------------------------------------------------------------------

# T item ll 1, ul 7; H item ll 1, ul 3 with uneven ratings, so a weight read for the wrong
# component (or by position: creativity is H's first criterion as op_complexity is T's) shows
WEIGHED = {
    "T": (1, 7, [10.0, 2.0, 4.0, 6.0, 3.0]),  # op_complexity, precision, control, ...
    "H": (1, 3, [10.0, 0.0, 5.0, 5.0, 5.0]),  # creativity, achievement, ...
    "I": I_3_9,
    "O": O_4_9,
}


def _double_op_complexity(settings: dict) -> None:
    (technoware,) = (part for part in settings["components"] if part["code"] == "T")
    (criterion,) = (item for item in technoware["criteria"] if item["code"] == "T.op_complexity")
    criterion["weight"] = 2


def test_criterion_weights_make_the_sota_a_weighted_mean(methodology, variant, build, kit):
    sheets = _firm(kit, methodology, "W1", WEIGHED)

    # shipped file, every weight 1: s_T = (10 + 2 + 4 + 6 + 3) / 5 / 10 = 0.5,
    # c_T = (1 + 0.5 * 6) / 9 = 4/9; s_H = (10 + 0 + 5 + 5 + 5) / 5 / 10 = 0.5,
    # c_H = (1 + 0.5 * 2) / 9 = 2/9; TCC = (4 * 2 * 3 * 4) ** 0.25 / 9 = 96 ** 0.25 / 9 = 0.347797
    firm, components = _results(build(sheets), kit, "W1")
    assert components["T"]["sota"] == pytest.approx(0.5, abs=EXACT)
    assert firm["t"] == pytest.approx(4 / 9, abs=EXACT)
    assert firm["tcc"] == pytest.approx(96**0.25 / 9, abs=EXACT)

    # T.op_complexity weight 2: s_T = (2 * 10 + 2 + 4 + 6 + 3) / (2 + 1 + 1 + 1 + 1) / 10
    # = 35 / 60 = 0.583333; c_T = (1 + 35/60 * 6) / 9 = 4.5 / 9 = 0.5; H keeps 2/9;
    # TCC = (4.5 * 2 * 3 * 4) ** 0.25 / 9 = 108 ** 0.25 / 9 = 0.358190
    weighted = variant(_double_op_complexity)
    assert weighted.settings["components"][0]["criteria"][0] == {
        **methodology.settings["components"][0]["criteria"][0],
        "weight": 2,
    }
    firm, components = _results(build(sheets, using=weighted), kit, "W1")
    assert components["T"]["sota"] == pytest.approx(35 / 60, abs=EXACT)
    assert components["T"]["contribution"] == pytest.approx(0.5, abs=EXACT)
    assert firm["t"] == pytest.approx(0.5, abs=EXACT)
    assert components["H"]["sota"] == pytest.approx(0.5, abs=EXACT)
    assert firm["h"] == pytest.approx(2 / 9, abs=EXACT)
    assert firm["tcc"] == pytest.approx(108**0.25 / 9, abs=EXACT)
    assert firm["tcc_class"] == "fair"


# ---------------------------------------------------------------------------------------
# A SOTA scale from 1 to 10: s = (rating - 1) / (10 - 1).
# ---------------------------------------------------------------------------------------

SCALED = {
    "T": (1, 4, [1.0, 10.0, 5.5, 4.0, 7.0]),  # mean 27.5 / 5 = 5.5
    "H": (2, 5, 1.0),  # the scale's bottom
    "I": (3, 6, 10.0),  # the scale's top
    "O": (2, 4, 7.0),
}


def test_a_sota_scale_from_1_normalises_from_its_minimum(methodology, variant, build, kit):
    one_to_ten = variant(lambda settings: settings.update(sota_scale={"min": 1, "max": 10}))
    assert (one_to_ten.sota_min, one_to_ten.sota_max) == (1.0, 10.0)
    con = build(_firm(kit, methodology, "S1", SCALED), using=one_to_ten)
    firm, components = _results(con, kit, "S1")
    # T: s = (5.5 - 1) / 9 = 0.5 (5.5 / 10 = 0.55 if the minimum were ignored),
    # c = (1 + 0.5 * 3) / 9 = 2.5 / 9
    assert components["T"]["sota"] == pytest.approx(0.5, abs=EXACT)
    assert firm["t"] == pytest.approx(2.5 / 9, abs=EXACT)
    # H: s = (1 - 1) / 9 = 0, c = ll / 9 = 2/9 (0.1 and 2.3/9 if read as 1/10)
    assert components["H"]["sota"] == pytest.approx(0.0, abs=EXACT)
    assert firm["h"] == pytest.approx(2 / 9, abs=EXACT)
    # I: s = (10 - 1) / 9 = 1, c = ul / 9 = 6/9
    assert components["I"]["sota"] == pytest.approx(1.0, abs=EXACT)
    assert firm["i"] == pytest.approx(6 / 9, abs=EXACT)
    # O: s = (7 - 1) / 9 = 2/3, c = (2 + 2/3 * 2) / 9 = (10/3) / 9 = 0.370370
    assert components["O"]["sota"] == pytest.approx(2 / 3, abs=EXACT)
    assert firm["o"] == pytest.approx(10 / 27, abs=EXACT)
    # TCC = (2.5 * 2 * 6 * 10/3) ** 0.25 / 9 = 100 ** 0.25 / 9 = sqrt(10) / 9 = 0.351364
    assert firm["tcc"] == pytest.approx(10**0.5 / 9, abs=EXACT)
    assert firm["tcc_class"] == "fair"


# ---------------------------------------------------------------------------------------
# marts.round_change over hand-written published rows: each pair of consecutive rounds that
# have a published version, each at its current (highest published) version; a firm gets a
# row when it is in both rounds of the pair.
# ---------------------------------------------------------------------------------------

ROUND_CHANGE = (PUBLISH_SQL_DIR / "round_change.sql").read_text(encoding="utf-8")
CHANGE_COLUMNS = (
    "from_round, to_round, firm_id, from_version, to_version, d_t, d_h, d_i, d_o, d_tcc, "
    "class_from, class_to"
)

PUBLICATIONS = [
    ("2023Q1", 1, "published"),
    ("2023Q2", 1, "published"),  # superseded by version 2
    ("2023Q2", 2, "published"),
    ("2023Q3", 1, "published"),
    ("2023Q3", 2, "retracted"),  # 2023Q3 falls back to version 1
    ("2023Q4", 1, "retracted"),  # no published version: not a round of any pair
    ("2024Q1", 1, "published"),
]
# round, version, firm, t, h, i, o, tcc, class
FIRMS = [
    ("2023Q1", 1, "A", 0.30, 0.40, 0.20, 0.25, 0.28, "low"),
    ("2023Q1", 1, "B", 0.50, 0.50, 0.50, 0.50, 0.50, "fair"),
    ("2023Q1", 1, "C", 0.60, 0.60, 0.60, 0.60, 0.60, "good"),  # then only in 2023Q3
    ("2023Q1", 1, "E", 0.20, 0.20, 0.20, 0.20, 0.20, "low"),  # in no later current version
    ("2023Q2", 1, "A", 0.90, 0.90, 0.90, 0.90, 0.90, "very_good"),
    ("2023Q2", 1, "E", 0.40, 0.40, 0.40, 0.40, 0.40, "fair"),
    ("2023Q2", 2, "A", 0.35, 0.40, 0.30, 0.25, 0.31, "fair"),
    ("2023Q2", 2, "B", 0.55, 0.45, 0.50, 0.60, 0.52, "good"),
    ("2023Q2", 2, "D", 0.40, 0.40, 0.40, 0.40, 0.40, "fair"),
    ("2023Q3", 1, "A", 0.35, 0.50, 0.30, 0.30, 0.35, "fair"),
    ("2023Q3", 1, "C", 0.70, 0.70, 0.70, 0.70, 0.70, "good"),
    ("2023Q3", 1, "D", 0.45, 0.38, 0.41, 0.40, 0.41, "fair"),
    ("2023Q3", 1, "F", 0.80, 0.80, 0.80, 0.80, 0.80, "very_good"),  # only round of F
    ("2023Q3", 2, "A", 0.99, 0.99, 0.99, 0.99, 0.99, "state_of_the_art"),
    ("2023Q3", 2, "B", 0.90, 0.90, 0.90, 0.90, 0.90, "very_good"),
    ("2023Q4", 1, "D", 0.10, 0.10, 0.10, 0.10, 0.10, "very_low"),
    ("2024Q1", 1, "D", 0.50, 0.50, 0.50, 0.50, 0.50, "fair"),
]
# (from, to, firm): from_version, to_version, d_t, d_h, d_i, d_o, d_tcc, class_from, class_to
EXPECTED_CHANGE = {
    # A: 2023Q1 v1 -> 2023Q2 v2: 0.35-0.30, 0.40-0.40, 0.30-0.20, 0.25-0.25, 0.31-0.28
    ("2023Q1", "2023Q2", "A"): (1, 2, 0.05, 0.0, 0.10, 0.0, 0.03, "low", "fair"),
    # B: 0.55-0.50, 0.45-0.50, 0.50-0.50, 0.60-0.50, 0.52-0.50
    ("2023Q1", "2023Q2", "B"): (1, 2, 0.05, -0.05, 0.0, 0.10, 0.02, "fair", "good"),
    # A: 2023Q2 v2 -> 2023Q3 v1: 0.35-0.35, 0.50-0.40, 0.30-0.30, 0.30-0.25, 0.35-0.31
    ("2023Q2", "2023Q3", "A"): (2, 1, 0.0, 0.10, 0.0, 0.05, 0.04, "fair", "fair"),
    # D: 0.45-0.40, 0.38-0.40, 0.41-0.40, 0.40-0.40, 0.41-0.40
    ("2023Q2", "2023Q3", "D"): (2, 1, 0.05, -0.02, 0.01, 0.0, 0.01, "fair", "fair"),
    # D: 2023Q3 v1 -> 2024Q1 v1 (2023Q4 has only a retracted version): 0.50-0.45, 0.50-0.38,
    # 0.50-0.41, 0.50-0.40, 0.50-0.41
    ("2023Q3", "2024Q1", "D"): (1, 1, 0.05, 0.12, 0.09, 0.10, 0.09, "fair", "fair"),
}


@pytest.fixture
def published() -> duckdb.DuckDBPyConnection:
    """The published warehouse's tables as the catalog makes them, holding the rows above."""
    con = duckdb.connect()
    for schema in sorted({entry.schema for entry in ALL_TABLES}):
        con.execute(f"create schema {schema}")
    for entry in ALL_TABLES:
        definition = ", ".join(f"{name} {kind}" for name, kind, _ in entry.columns)
        con.execute(f"create table {entry.qualified} ({definition})")
    con.executemany(
        "insert into meta.publications (round_id, version, status) values (?, ?, ?)",
        PUBLICATIONS,
    )
    con.executemany(
        "insert into marts.firm_tcc (round_id, version, firm_id, t, h, i, o, tcc, tcc_class) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        FIRMS,
    )
    yield con
    con.close()


def _changes(con: duckdb.DuckDBPyConnection, query: str) -> dict[tuple, tuple]:
    rows = con.execute(f"select {CHANGE_COLUMNS} from ({query})").fetchall()
    changes = {row[:3]: row[3:] for row in rows}
    assert len(changes) == len(rows), "(from_round, to_round, firm_id) is not a key"
    return changes


def _assert_change(actual: tuple, expected: tuple, label: Any) -> None:
    assert actual[:2] == expected[:2], label  # versions
    assert actual[2:7] == pytest.approx(expected[2:7], abs=EXACT), label
    assert actual[7:] == expected[7:], label  # classes


def test_round_change_pairs_consecutive_current_versions(published):
    changes = _changes(published, ROUND_CHANGE)
    # no C (2023Q1 and 2023Q3 are not consecutive), E (no current version after 2023Q1),
    # F (one round), nothing of 2023Q2 v1, 2023Q3 v2 or 2023Q4
    assert sorted(changes) == sorted(EXPECTED_CHANGE)
    for key, expected in EXPECTED_CHANGE.items():
        _assert_change(changes[key], expected, key)


# ---------------------------------------------------------------------------------------
# Through the pipeline: rounds published, republished and retracted as thio run and thio
# retract do; marts.round_change is rebuilt each time.
# ---------------------------------------------------------------------------------------


def _round(round_id: str, survey_date: str, firms: set[str], changes: dict) -> dict:
    """good_round's firms F001..F004 (every item ll 2 ul 4, every score 6, so each component
    contributes (2 + 0.6 * 2) / 9 = 3.2/9) keeping ``firms``; ``changes`` maps (firm,
    component or None for all) to {"score": .., "ll": .., "ul": ..}."""
    round_ = good_round(4, ahp=False)
    round_ = {
        sheet: [row for row in rows if row["firm_id"] in firms] for sheet, rows in round_.items()
    }
    for firm in round_["firms"]:
        firm.update(round_id=round_id, survey_date=survey_date)
    for sheet in ("items", "sota"):
        for row in round_[sheet]:
            for (firm_id, component), cells in changes.items():
                if row["firm_id"] == firm_id and component in (None, row["component"]):
                    row.update({key: value for key, value in cells.items() if key in row})
    return round_


def _published_changes(home: Path) -> dict[tuple, tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return _changes(con, "select * from latest.round_change")


# F003 only in 2023Q1, F004 only in 2023Q2. In 2023Q2 F002's items are ll 4, ul 6 and scored
# 10: every component 6/9 and TCC 6/9 = 0.666667, good
Q1_FIRMS, Q2_FIRMS = {"F001", "F002", "F003"}, {"F001", "F002", "F004"}
F002_RAISED = {("F002", None): {"ll": "4", "ul": "6", "score": "10"}}
F001_T_9 = {("F001", "T"): {"score": "9"}}
F001_T_10 = {("F001", "T"): {"score": "10"}}


def test_round_change_through_publish_and_retraction(tmp_path: Path):
    home = tmp_path / "home"
    base = 3.2 / 9  # every component and the TCC of an unchanged firm: fair
    rounds = {
        "2023Q1": _round("2023Q1", "2023-01-11", Q1_FIRMS, {}),
        # F001's T scored 9: T = (2 + 0.9 * 2) / 9 = 3.8/9
        "2023Q2": _round("2023Q2", "2023-04-12", Q2_FIRMS, F001_T_9 | F002_RAISED),
    }
    for round_id, round_ in rounds.items():
        report = run_round(home, [write_csv(round_, tmp_path / round_id)], round_id)
        assert report["publication"]["version"] == 1, report

    # F001: TCC = (3.8 * 3.2 ** 3) ** 0.25 / 9 = 0.371176
    f001_v1 = (1, 1, 0.6 / 9, 0.0, 0.0, 0.0, (3.8 * 3.2**3) ** 0.25 / 9 - base, "fair", "fair")
    # F002: each d = 6/9 - 3.2/9 = 2.8/9
    f002 = (1, 1, *[2.8 / 9] * 5, "fair", "good")
    changes = _published_changes(home)
    assert sorted(changes) == [("2023Q1", "2023Q2", "F001"), ("2023Q1", "2023Q2", "F002")]
    _assert_change(changes[("2023Q1", "2023Q2", "F001")], f001_v1, "F001 v1")
    _assert_change(changes[("2023Q1", "2023Q2", "F002")], f002, "F002")

    # 2023Q2 republished with F001's T scored 10: version 2, T = 4/9,
    # TCC = (4 * 3.2 ** 3) ** 0.25 / 9 = 0.375960
    corrected = _round("2023Q2", "2023-04-12", Q2_FIRMS, F001_T_10 | F002_RAISED)
    report = run_round(home, [write_csv(corrected, tmp_path / "2023Q2-v2")], "2023Q2")
    assert report["publication"]["version"] == 2, report
    changes = _published_changes(home)
    f001_v2 = (1, 2, 0.8 / 9, 0.0, 0.0, 0.0, (4 * 3.2**3) ** 0.25 / 9 - base, "fair", "fair")
    _assert_change(changes[("2023Q1", "2023Q2", "F001")], f001_v2, "F001 v2")
    _assert_change(changes[("2023Q1", "2023Q2", "F002")], (1, 2, *f002[2:]), "F002 v2")

    # version 2 retracted: back to version 1's change
    retract_version(home, "2023Q2", 2, "scores of F001 entered twice")
    changes = _published_changes(home)
    assert sorted(changes) == [("2023Q1", "2023Q2", "F001"), ("2023Q1", "2023Q2", "F002")]
    _assert_change(changes[("2023Q1", "2023Q2", "F001")], f001_v1, "F001 after retraction")
