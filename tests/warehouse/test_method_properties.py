"""Property-based tests of the method's SQL on random valid rounds, and of random invalid
cells: quarantined with their place named, never published (hypothesis).

A valid round is drawn as the input contract allows it (1-6 firms, 1-3 items per component,
one or two raters, item and sample weights or none, the firm's AHP, given weights or the
default betas) and built through the real SQL models (``kit.compute_round``, one tier). The
expected values are computed here from the drawn cells by method.md's formulas, never read
from the code under test: the item contribution c = (ll + s (ul - ll)) / max, the
component's weighted mean, the class band of methodology.yaml, the group statistics
(numpy's quantiles, as method.md says).

An invalid round is a valid one with one bad cell written into its CSV files, taken through
ingest, validation, compute and publish (``run_round``): the cell is quarantined with its
file, sheet, row, column and value, and the published marts equal those of the reference
round -- the valid round without what the contract says the bad cell costs (the row; an
item left without a score for a criterion; a firm left without an item in a component, or
whose firms row is bad; an AHP respondent without a valid judgment for every pair).

Example counts: the hypothesis profile's (tests/conftest.py) for the valid rounds (about
0.4 s each through the SQL), a third of it for the bad cells (1.5 s each through the
pipeline and the reference round).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fixtures.rounds import write_csv
from tests.thio.test_publish import run_round
from thio.contract import SHEETS
from thio.methodology import load_methodology

METHODOLOGY = load_methodology()
COMPONENTS = METHODOLOGY.component_codes
CRITERIA = METHODOLOGY.criteria()
LIMITS = (METHODOLOGY.limit_min, METHODOLOGY.limit_max)
SOTA = (METHODOLOGY.sota_min, METHODOLOGY.sota_max)
DECIMALS = METHODOLOGY.settings["classification_decimals"]
CLASSES = METHODOLOGY.settings["classes"]
SAATY = [*(f"1/{n}" for n in range(2, 10)), *(str(n) for n in range(1, 10))]
PAIRS = list(itertools.combinations(COMPONENTS, 2))
ROUND_ID = "2023Q1"
# Tolerances: the marts' doubles against the same formula evaluated in Python in another
# order (a few ulps of values <= 1); a beta sum as the audit's betas_sum_to_one allows.
CLOSE = 1e-12
BETA_SUM = 1e-9
EVERY_MART_KEY = {
    "firm_tcc": ["firm_id"],
    "firm_component": ["firm_id", "component"],
    "tcc_by_group": ["group_type", "group_code"],
}

SQL_EXAMPLES = settings.default.max_examples
PIPELINE_EXAMPLES = max(4, settings.default.max_examples // 3)
# a round is slow to build and large to draw, as hypothesis counts it
SLOW_DRAWS = [HealthCheck.too_slow, HealthCheck.data_too_large]


# ---------------------------------------------------------------- a valid round


@dataclass
class Item:
    ll: int
    ul: int
    weight: int | None
    scores: dict[str, dict[str, float]]  # criterion -> rater -> score


@dataclass
class Firm:
    firm_id: str
    sector_code: str
    region_code: str
    sample_weight: float | None
    items: dict[str, list[Item]]  # component -> items
    betas: str  # "default" | "ahp" | "weights"
    judgments: dict[tuple[str, str], str] = field(default_factory=dict)
    given: dict[str, float] = field(default_factory=dict)


# scores in tenths: exact decimal texts ("7.5"), so the CSV and the typed frame agree
scores = st.integers(int(SOTA[0] * 10), int(SOTA[1] * 10)).map(lambda tenths: tenths / 10)


@st.composite
def items(draw: st.DrawFn, component: str, raters: list[str]) -> Item:
    ll = draw(st.integers(*LIMITS))
    ul = draw(st.integers(ll, LIMITS[1]))
    weight = draw(st.one_of(st.none(), st.integers(1, 50)))
    item_scores = {
        criterion: {rater: draw(scores) for rater in raters} for criterion in CRITERIA[component]
    }
    return Item(ll, ul, weight, item_scores)


@st.composite
def firms(draw: st.DrawFn, number: int, weighted: bool) -> Firm:
    raters = draw(st.sampled_from([["E1"], ["E1", "E2"]]))
    firm_items = {
        component: draw(st.lists(items(component, raters), min_size=1, max_size=3))
        for component in COMPONENTS
    }
    firm = Firm(
        firm_id=f"F{number:03d}",
        sector_code=draw(st.sampled_from(["10", "31"])),
        region_code=draw(st.sampled_from(["6474", "1671"])),
        sample_weight=draw(st.integers(1, 1000)) / 4 if weighted else None,
        items=firm_items,
        betas=draw(st.sampled_from(["default", "ahp", "weights"])),
    )
    if firm.betas == "ahp":
        firm.judgments = {pair: draw(st.sampled_from(SAATY)) for pair in PAIRS}
    if firm.betas == "weights":
        # four positive shares written with 6 decimals: their sum is within 2e-6 of 1
        parts = [draw(st.integers(1, 20)) for _ in COMPONENTS]
        firm.given = {c: round(p / sum(parts), 6) for c, p in zip(COMPONENTS, parts, strict=True)}
    return firm


@st.composite
def rounds(draw: st.DrawFn, min_firms: int = 1, max_firms: int = 6) -> list[Firm]:
    count = draw(st.integers(min_firms, max_firms))
    weighted = draw(st.booleans())
    return [draw(firms(number, weighted)) for number in range(1, count + 1)]


def plain_firm(number: int, ll: int, ul: int, score: float, **given: Any) -> Firm:
    """A firm with one item per component, every criterion scored ``score`` by E1."""
    firm_items = {
        component: [Item(ll, ul, None, {criterion: {"E1": score} for criterion in criteria})]
        for component, criteria in CRITERIA.items()
    }
    defaults = {"sector_code": "10", "region_code": "6474", "sample_weight": None,
                "betas": "default"}  # fmt: skip
    return Firm(f"F{number:03d}", items=firm_items, **{**defaults, **given})


# hand-picked rounds the quick profile always runs: weighted means with unequal weights
# (TCC 0.3 and 0.7, on the class bounds), and every source of betas side by side
WEIGHTED_ROUND = [
    plain_firm(1, 3, 3, 0.0, sample_weight=1.0),
    plain_firm(2, 5, 7, 5.0, sample_weight=3.0),
    plain_firm(3, 1, 9, 10.0, sample_weight=0.25, sector_code="31"),
]
EVERY_BETA_SOURCE = [
    plain_firm(1, 2, 5, 7.5),
    plain_firm(2, 1, 4, 4.5, betas="ahp", judgments=dict(zip(PAIRS, "234232", strict=True))),
    plain_firm(3, 2, 4, 6.5, betas="weights", given={"T": 0.4, "H": 0.3, "I": 0.2, "O": 0.1}),
]


def sheets_of(round_firms: list[Firm]) -> dict[str, list[dict[str, Any]]]:
    """The round as the contract's sheets, every contract column present in every row."""
    sheets: dict[str, list[dict[str, Any]]] = {name: [] for name in SHEETS}
    for firm in round_firms:
        sheets["firms"].append(
            {
                "round_id": ROUND_ID,
                "firm_id": firm.firm_id,
                "firm_name": f"Usaha {firm.firm_id}",
                "sector_code": firm.sector_code,
                "region_code": firm.region_code,
                "sample_weight": firm.sample_weight,
                "survey_date": "2023-01-11",
            }
        )
        for component, component_items in firm.items.items():
            for number, item in enumerate(component_items, start=1):
                key = {"firm_id": firm.firm_id, "component": component,
                       "item_id": f"{component}{number}"}  # fmt: skip
                sheets["items"].append({**key, "weight": item.weight, "ll": item.ll, "ul": item.ul})
                for criterion, by_rater in item.scores.items():
                    for rater, score in by_rater.items():
                        sheets["sota"].append(
                            {**key, "criterion": criterion, "rater": rater, "score": score}
                        )
        for (row, col), value in firm.judgments.items():
            sheets["ahp"].append(
                {"firm_id": firm.firm_id, "respondent": "R1", "row": row, "col": col,
                 "value": value}
            )  # fmt: skip
        for component, beta in firm.given.items():
            sheets["weights"].append({"firm_id": firm.firm_id, "component": component,
                                      "beta": beta})  # fmt: skip
    filled = {}
    for name, rows in sheets.items():
        columns = SHEETS[name].column_names
        filled[name] = [{column: row.get(column) for column in columns} for row in rows]
    return {name: rows for name, rows in filled.items() if rows or SHEETS[name].required}


# ---------------------------------------------------------------- the method by hand


def contribution(item: Item) -> float:
    """c = (ll + s (ul - ll)) / max, s the mean over criteria of the raters' mean score
    scaled to [0, 1] (method.md sections 3 and 4; every criterion weight is 1)."""
    low, high = SOTA
    per_criterion = [
        (sum(by_rater.values()) / len(by_rater) - low) / (high - low)
        for by_rater in item.scores.values()
    ]
    s = sum(per_criterion) / len(per_criterion)
    return (item.ll + s * (item.ul - item.ll)) / LIMITS[1]


def component_value(component_items: list[Item]) -> float:
    weights = [1 if item.weight is None else item.weight for item in component_items]
    total = sum(w * contribution(item) for w, item in zip(weights, component_items, strict=True))
    return total / sum(weights)


def class_of(value: float) -> str:
    """The band (lower, upper] of methodology.yaml holding the value rounded to 12 decimals."""
    rounded = round(value, DECIMALS)
    bands = [band["code"] for band in CLASSES if band["lower"] < rounded <= band["upper"]]
    assert len(bands) == 1, (value, bands)
    return bands[0]


def class_rank(code: str) -> int:
    return [band["code"] for band in CLASSES].index(code)


def marts(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> dict[str, pd.DataFrame]:
    return {
        name: con.execute(f"select * from {schema}.{name}").df().sort_values(key)
        .reset_index(drop=True)
        for name, key in EVERY_MART_KEY.items()
    }  # fmt: skip


def non_finite(con: duckdb.DuckDBPyConnection, schema: str = "marts") -> list[str]:
    """'<mart>.<column>' of every double column of the schema holding an inf or NaN."""
    columns = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = ? and data_type = 'DOUBLE'",
        [schema],
    ).fetchall()
    found = []
    for table, column in columns:
        (bad,) = con.execute(
            f'select count(*) from {schema}."{table}" where not isfinite("{column}")'
        ).fetchone()
        if bad:
            found.append(f"{table}.{column}")
    return found


@pytest.fixture(scope="session")
def build_round(
    tmp_path_factory: pytest.TempPathFactory, kit
) -> Callable[[dict[str, list[dict[str, Any]]]], dict[str, pd.DataFrame]]:
    """Build a round's sheets through the SQL models; returns its marts (and checks that no
    double column of any mart holds inf or NaN)."""

    def build(sheets: dict[str, list[dict[str, Any]]]) -> dict[str, pd.DataFrame]:
        work = tmp_path_factory.mktemp("property-round")
        db_path = kit.compute_round(work, sheets, METHODOLOGY, ROUND_ID, "sql")
        with duckdb.connect(str(db_path), read_only=True) as con:
            assert non_finite(con) == []
            return marts(con)

    return build


# ---------------------------------------------------------------- valid rounds


@settings(max_examples=SQL_EXAMPLES, suppress_health_check=SLOW_DRAWS)
@given(round_firms=rounds())
@example(round_firms=WEIGHTED_ROUND)
@example(round_firms=EVERY_BETA_SOURCE)
def test_random_valid_rounds_follow_the_method(build_round, round_firms):
    built = build_round(sheets_of(round_firms))
    firm_tcc = built["firm_tcc"].set_index("firm_id")
    components = built["firm_component"].set_index(["firm_id", "component"])
    assert sorted(firm_tcc.index) == [firm.firm_id for firm in round_firms]
    for firm in round_firms:
        row = firm_tcc.loc[firm.firm_id]
        values = {c: row[c.lower()] for c in COMPONENTS}
        betas = {c: row[f"beta_{c.lower()}"] for c in COMPONENTS}
        for component, component_items in firm.items.items():
            # T = weighted mean of c, within [ll_min, ul_max] / max
            expected = component_value(component_items)
            assert math.isclose(values[component], expected, rel_tol=0, abs_tol=CLOSE)
            lowest = min(item.ll for item in component_items) / LIMITS[1]
            highest = max(item.ul for item in component_items) / LIMITS[1]
            assert lowest - CLOSE <= values[component] <= highest + CLOSE
            part = components.loc[(firm.firm_id, component)]
            assert part["ll_min"] == min(item.ll for item in component_items)
            assert part["ul_max"] == max(item.ul for item in component_items)
            assert part["n_items"] == len(component_items)
            assert part["contribution"] == values[component]
            assert part["beta"] == betas[component]
        # betas: positive, summing to 1, from the scope the firm has
        assert all(beta > 0 for beta in betas.values())
        assert abs(sum(betas.values()) - 1) <= BETA_SUM
        if firm.betas == "weights":
            assert row["beta_source"] == "firm_weights"
            total = sum(firm.given.values())
            for component, beta in firm.given.items():
                assert math.isclose(betas[component], beta / total, abs_tol=CLOSE)
        elif firm.betas == "default":
            assert row["beta_source"] == "default"
            assert betas == METHODOLOGY.settings["default_betas"]
        else:  # an inconsistent matrix is no scope: the firm falls back to the default
            assert row["beta_source"] in ("firm_ahp", "default")
        # TCC = prod C^beta, within [min, max] of T, H, I, O; its class is its band
        tcc = math.prod(values[c] ** betas[c] for c in COMPONENTS)
        assert math.isclose(row["tcc"], tcc, rel_tol=0, abs_tol=CLOSE)
        assert min(values.values()) - CLOSE <= row["tcc"] <= max(values.values()) + CLOSE
        assert row["tcc"] >= 1 / LIMITS[1] - CLOSE
        assert row["tcc_class"] == class_of(row["tcc"])
        # lowest_contribution: ascending on values rounded to 12 decimals, ties in T, H, I, O
        order = sorted(COMPONENTS, key=lambda c: (round(values[c], DECIMALS), COMPONENTS.index(c)))
        assert row["priority"] == ",".join(order)
    # a higher TCC never gets a lower class
    ranked = firm_tcc.sort_values("tcc")
    ranks = [class_rank(code) for code in ranked["tcc_class"]]
    assert ranks == sorted(ranks)
    check_groups(built["tcc_by_group"], firm_tcc)


def check_groups(groups: pd.DataFrame, firm_tcc: pd.DataFrame) -> None:
    """Each group's statistics against its member firms, computed here."""
    for _, group in groups.iterrows():
        members = firm_tcc
        if pd.notna(group["sector_code"]):
            members = members[members["sector_code"] == group["sector_code"]]
        if pd.notna(group["region_code"]):
            members = members[members["region_code"] == group["region_code"]]
        assert group["n_firms"] == len(members) > 0
        weights = members["sample_weight"].fillna(1.0).to_numpy()
        tcc = members["tcc"].to_numpy()
        assert math.isclose(group["tcc_mean"], np.average(tcc, weights=weights), abs_tol=CLOSE)
        assert group["tcc_min"] == tcc.min() and group["tcc_max"] == tcc.max()
        assert group["tcc_min"] - CLOSE <= group["tcc_mean"] <= group["tcc_max"] + CLOSE
        for column, quantile in (("tcc_median", 50), ("tcc_p25", 25), ("tcc_p75", 75)):
            assert math.isclose(group[column], np.percentile(tcc, quantile), abs_tol=CLOSE)
        for component in COMPONENTS:
            column = component.lower()
            mean = group[f"{column}_mean"]
            assert members[column].min() - CLOSE <= mean <= members[column].max() + CLOSE
            expected = np.average(members[column].to_numpy(), weights=weights)
            assert math.isclose(mean, expected, abs_tol=CLOSE)
        beta_means = [group[f"beta_{c.lower()}_mean"] for c in COMPONENTS]
        assert abs(sum(beta_means) - 1) <= BETA_SUM
        shares = [group[f"share_{band['code']}"] for band in CLASSES]
        counts = [group[f"n_{band['code']}"] for band in CLASSES]
        assert sum(counts) == len(members)
        assert abs(sum(shares) - 1) <= BETA_SUM
        assert group["tcc_mean_class"] == class_of(group["tcc_mean"])


# ---------------------------------------------------------------- invalid cells


@dataclass(frozen=True)
class Fault:
    """A bad cell of one sheet and column, and what the contract says it costs."""

    sheet: str
    column: str
    values: st.SearchStrategy[str]
    costs: str  # "firm" | "item" | "respondent"


def _outside_scale() -> st.SearchStrategy[str]:
    low, high = SOTA
    above = st.floats(min_value=high, exclude_min=True, max_value=1e300)
    below = st.floats(max_value=low, exclude_max=True, min_value=-1e300)
    return st.one_of(above, below).map(repr)


NOT_A_NUMBER = st.sampled_from(["tujuh", "7..5", "7,5,1", "#N/A", "1/2", "7 5", "inf", "nan"])
FAULTS = [
    Fault("sota", "score", _outside_scale(), "item"),
    Fault("sota", "score", NOT_A_NUMBER, "item"),
    Fault("sota", "score", st.just(""), "item"),
    Fault("sota", "criterion", st.sampled_from(["X.unknown", "T.unknown"]), "item"),
    Fault("items", "ll", st.sampled_from(["0", "10", "-3", "2.5", "dua"]), "item"),
    Fault("items", "ul", st.sampled_from(["ll-1", "10", "99", "4,5", "empat"]), "item"),
    Fault("items", "weight", st.sampled_from(["0", "-1", "abc", "1e308", "1e-320"]), "item"),
    Fault("items", "component", st.sampled_from(["X", "software", "TH"]), "item"),
    Fault("firms", "firm_id", st.just(""), "firm"),
    Fault("firms", "survey_date",
          st.sampled_from(["2023-02-30", "60", "31/02/2023", "tanggal", "1999-01-11"]), "firm"),
    Fault("firms", "sample_weight", st.sampled_from(["0", "-2", "x", "1e308"]), "firm"),
    Fault("firms", "workers", st.sampled_from(["-1", "3.5", "banyak"]), "firm"),
    Fault("ahp", "value", st.sampled_from(["10", "0", "0.4", "1/0", "abc"]), "respondent"),
]  # fmt: skip


@dataclass
class Injected:
    fault: Fault
    row: int  # the index of the row in its sheet's list
    firm_id: str
    value: str


def reference_round(sheets: dict[str, list[dict[str, Any]]], bad: Injected) -> dict:
    """The valid round without what the bad cell costs, by the input contract's rules."""
    sheets = copy.deepcopy(sheets)
    target = sheets[bad.fault.sheet][bad.row]
    gone_firms: set[str] = set()
    if bad.fault.costs == "firm":
        gone_firms.add(bad.firm_id)
    elif bad.fault.costs == "respondent":
        sheets["ahp"] = [row for row in sheets["ahp"] if row["firm_id"] != bad.firm_id]
    else:
        item = (target["firm_id"], target["component"], target["item_id"])
        if bad.fault.sheet == "sota":
            del sheets["sota"][bad.row]
            scored = {
                (row["firm_id"], row["component"], row["item_id"], row["criterion"])
                for row in sheets["sota"]
            }
            lost = any((*item, criterion) not in scored for criterion in CRITERIA[item[1]])
        else:
            lost = True
        if lost:  # an item lacking a criterion's score, and its sota rows, are quarantined
            sheets["items"] = [
                row for row in sheets["items"]
                if (row["firm_id"], row["component"], row["item_id"]) != item
            ]  # fmt: skip
            sheets["sota"] = [
                row for row in sheets["sota"]
                if (row["firm_id"], row["component"], row["item_id"]) != item
            ]  # fmt: skip
            if not any((row["firm_id"], row["component"]) == item[:2] for row in sheets["items"]):
                gone_firms.add(item[0])  # a firm without an item in a component is excluded
    return {
        name: [row for row in rows if row.get("firm_id") not in gone_firms]
        for name, rows in sheets.items()
    }


@st.composite
def invalid_rounds(draw: st.DrawFn) -> tuple[dict, Injected]:
    round_firms = draw(rounds(min_firms=2, max_firms=4))
    sheets = sheets_of(round_firms)
    weighted = sheets["firms"][0]["sample_weight"] is not None
    faults = [
        fault for fault in FAULTS
        if sheets.get(fault.sheet)
        # a weight only one firm gives is refused whatever its value (all or none)
        and (weighted or fault.column != "sample_weight")
    ]  # fmt: skip
    fault = draw(st.sampled_from(faults))
    row = draw(st.integers(0, len(sheets[fault.sheet]) - 1))
    value = draw(fault.values)
    target = sheets[fault.sheet][row]
    if value == "ll-1":  # ul below ll (or below the scale when ll is its lowest value)
        value = str(target["ll"] - 1)
    return sheets, Injected(fault, row, target["firm_id"], value)


def published_marts(home: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert non_finite(con, "marts") == []
        found = marts(con, "latest")
    return {name: frame.drop(columns=["version"], errors="ignore") for name, frame in found.items()}


@settings(max_examples=PIPELINE_EXAMPLES, suppress_health_check=SLOW_DRAWS)
@given(case=invalid_rounds())
def test_a_random_bad_cell_is_quarantined_and_never_published(tmp_path_factory, build_round, case):
    sheets, bad = case
    written = copy.deepcopy(sheets)
    written[bad.fault.sheet][bad.row][bad.fault.column] = bad.value
    folder = tmp_path_factory.mktemp("bad-round")
    write_csv(written, folder / "csv")
    report = run_round(folder / "home", [folder / "csv"], ROUND_ID)
    assert report["publication"]["status"] == "published", report["publication"]

    # the cell is quarantined, its place named: file, sheet, row, column and the value
    work_dir = folder / "home" / "work" / report["run_id"]
    quarantine = pq.read_table(work_dir / "quarantine.parquet").to_pandas()
    row_number = bad.row + 2  # the CSV header is row 1
    named = quarantine[
        (quarantine["_file"].str.endswith(f"{bad.fault.sheet}.csv"))
        & (quarantine["_sheet"] == bad.fault.sheet)
        & (quarantine["_row"] == row_number)
        & (quarantine["column_name"] == bad.fault.column)
    ]
    assert len(named) >= 1, quarantine[["_sheet", "_row", "column_name", "rule"]]
    given_value = named["value"].iloc[0]
    assert (given_value if pd.notna(given_value) else "") == bad.value
    place = f"sheet {bad.fault.sheet}, row {row_number}, column {bad.fault.column}"
    lines = [line for line in report["messages"] if place in line]
    assert lines and all("\n" not in line for line in lines), report["messages"]

    # and never published: the marts are those of the round without what it costs
    reference = build_round(reference_round(sheets, bad))
    published = published_marts(folder / "home")
    for name, expected in reference.items():
        # the published columns (the catalog's; the compute database has a few more)
        expected = expected[list(published[name].columns)]
        got = published[name]
        pd.testing.assert_frame_equal(
            got, expected, check_dtype=False, check_exact=False, rtol=0, atol=CLOSE
        )
