"""thio.sample: the synthetic survey respects the contract, is deterministic and writes back."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import python_calamine

from thio.contract import SHEETS
from thio.methodology import load_methodology
from thio.sample import generate_rounds, write_csv_folder, write_workbook

REPO = Path(__file__).resolve().parents[2]
ROUND_IDS = ("2024Q1", "2024Q2", "2024Q3")
SAATY = {float(k) for k in range(1, 10)} | {1.0 / k for k in range(2, 10)}
PAIRS = [("T", "H"), ("T", "I"), ("T", "O"), ("H", "I"), ("H", "O"), ("I", "O")]


@pytest.fixture(scope="module")
def rounds() -> list[dict[str, pd.DataFrame]]:
    return generate_rounds()


def _value(value) -> float:
    if isinstance(value, str):
        numerator, denominator = value.split("/")
        return float(numerator) / float(denominator)
    return float(value)


def _cr(upper: list[float]) -> float:
    """Saaty's consistency ratio of a 4x4 reciprocal matrix from its six upper judgments."""
    matrix = np.ones((4, 4))
    for (i, j), value in zip([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)], upper, strict=True):
        matrix[i, j], matrix[j, i] = value, 1.0 / value
    lambda_max = np.linalg.eigvals(matrix).real.max()
    return ((lambda_max - 4) / 3) / 0.90


def _respondent_matrices(ahp: pd.DataFrame, scope: str) -> dict[tuple[str, str], list[float]]:
    rows = ahp[ahp[scope].notna()]
    matrices = {}
    for key, group in rows.groupby([scope, "respondent"], sort=False):
        judgments = {
            (r, c): _value(v)
            for r, c, v in zip(group["row"], group["col"], group["value"], strict=True)
        }
        assert sorted(judgments) == sorted(PAIRS), key
        matrices[key] = [judgments[pair] for pair in PAIRS]
    return matrices


def test_same_seed_same_frames_other_seed_differs(rounds):
    again = generate_rounds()
    for first, second in zip(rounds, again, strict=True):
        for name in SHEETS:
            pd.testing.assert_frame_equal(first[name], second[name])
    other = generate_rounds(seed=7)
    assert not other[0]["sota"]["score"].equals(rounds[0]["sota"]["score"])


def test_sheets_have_the_contract_columns(rounds):
    for sheets in rounds:
        assert list(sheets) == list(SHEETS)
        for name, sheet in SHEETS.items():
            assert list(sheets[name].columns) == sheet.column_names, name


def test_population_is_the_same_300_firms_in_each_round(rounds):
    ids = [tuple(sheets["firms"]["firm_id"]) for sheets in rounds]
    assert all(len(firm_ids) == 300 for firm_ids in ids)
    assert ids[0] == ids[1] == ids[2]
    assert len(set(ids[0])) == 300
    for round_id, sheets in zip(ROUND_IDS, rounds, strict=True):
        firms = sheets["firms"]
        assert set(firms["round_id"]) == {round_id}
        assert set(firms["sector_code"]) == {"10", "31", "13", "14", "22"}
        assert set(zip(firms["region_code"], firms["region_name"], strict=True)) == {
            ("6474", "Kota Bontang"),
            ("1671", "Kota Palembang"),
        }
        assert set(firms.loc[firms["sector_code"] == "22", "region_code"]) == {"1671"}
        assert firms["firm_id"].str.fullmatch(r"(BTG|PLG)-\d{2}-\d{4,}").all()
        assert set(firms["size_class"]) == {"micro", "small"}
        assert (firms["workers"] >= 1).all()
        assert firms["firm_name"].str.len().gt(3).all()
        quarter = pd.Period(round_id, freq="Q")
        dates = firms["survey_date"]
        assert dates.min() >= quarter.start_time and dates.max() <= quarter.end_time


def test_items_cover_every_component_with_valid_limits(rounds):
    for sheets in rounds:
        items = sheets["items"]
        per_firm = items.groupby("firm_id")["component"].agg(lambda c: "".join(sorted(set(c))))
        assert len(per_firm) == 300 and set(per_firm) == {"HIOT"}
        assert not items.duplicated(["firm_id", "component", "item_id"]).any()
        assert items["ll"].between(1, 9).all() and items["ul"].between(1, 9).all()
        assert (items["ll"] <= items["ul"]).all()
        counts = items.groupby(["firm_id", "component"]).size().unstack()
        assert counts["T"].between(1, 3).all() and counts["H"].between(1, 2).all()
        assert (counts["I"] == 1).all() and (counts["O"] == 1).all()
        weights = items["weight"].dropna()
        assert (weights > 0).all()
        technoware = items[items["component"] == "T"]
        assert 0 < technoware["weight"].isna().mean() < 0.5  # sometimes blank
        assert items.loc[items["component"].isin(["I", "O"]), "weight"].isna().all()


def test_every_item_has_every_criterion_scored_in_range(rounds):
    criteria = load_methodology().criteria()
    expected = {c: set(codes) for c, codes in criteria.items()}
    for sheets in rounds:
        sota, items = sheets["sota"], sheets["items"]
        keys = ["firm_id", "component", "item_id"]
        scored = sota.groupby(keys)["criterion"].agg(set)
        assert len(scored) == len(items)
        assert set(scored.index) == set(map(tuple, items[keys].to_numpy()))
        for (_, component, _), codes in scored.items():
            assert codes == expected[component]
        assert not sota.duplicated([*keys, "criterion", "rater"]).any()
        assert set(sota["rater"]) == {"1", "2"}
        score = sota["score"]
        assert score.between(0, 10).all()
        assert ((score * 2) % 1 == 0).all()


def test_ahp_firm_respondents_are_mostly_consistent(rounds):
    for sheets in rounds:
        ahp = sheets["ahp"]
        assert ahp["value"].map(_value).map(lambda v: any(abs(v - s) < 1e-12 for s in SAATY)).all()
        fractions = ahp["value"][ahp["value"].map(lambda v: isinstance(v, str))]
        assert len(fractions) and fractions.str.fullmatch(r"1/[2-9]").all()
        assert ahp["value"].map(lambda v: isinstance(v, str) or float(v) >= 1).all()
        firm = _respondent_matrices(ahp, "firm_id")
        ratios = np.array([_cr(m) for m in firm.values()])
        assert len(ratios) >= 90
        assert (ratios <= 0.10).mean() >= 0.8
        own = {firm_id for firm_id, _ in firm}
        assert 0.25 <= len(own) / 300 <= 0.35
        assert {r for _, r in firm} <= {"R1", "R2"}
        panels = _respondent_matrices(ahp, "panel_id")
        assert sorted({p for p, _ in panels}) == ["10", "13", "14", "22", "31"]
        assert {r for _, r in panels} == {"P1", "P2", "P3"}
        panel_ratios = {key: _cr(m) for key, m in panels.items()}
        assert all(cr <= 0.10 for (p, r), cr in panel_ratios.items() if r != "P3")
        assert any(cr > 0.10 for cr in panel_ratios.values())  # one sometimes inconsistent
        assert not (ahp["firm_id"].notna() & ahp["panel_id"].notna()).any()


def test_given_weights_sum_to_one(rounds):
    own_ahp = set(rounds[0]["ahp"]["firm_id"].dropna())
    for sheets in rounds:
        weights = sheets["weights"]
        assert len(weights) > 0 and weights["panel_id"].isna().all()
        sums = weights.groupby("firm_id")["beta"].sum()
        assert (abs(sums - 1) <= 0.005).all()
        assert weights.groupby("firm_id")["component"].agg(lambda c: "".join(c)).eq("THIO").all()
        assert weights["beta"].between(0, 1, inclusive="neither").all()
        assert not set(weights["firm_id"]) & own_ahp


def test_mentored_firms_improve_and_others_barely_change(rounds):
    assert rounds[0]["programs"].empty
    programs = rounds[2]["programs"]
    assert set(programs["focus"]) == {"T,H", "O"}
    assert set(programs["organisation"]) == {
        "Dinas Perindustrian Kota Bontang",
        "Balai Riset dan Standardisasi Industri Palembang",
    }
    assert programs["program_id"].nunique() == 2
    assert (programs["start_date"] > pd.Timestamp("2024-03-31")).all()
    assert (programs["end_date"] >= programs["start_date"]).all()
    assert (programs["end_date"] < pd.Timestamp("2024-07-01")).all()
    assert set(programs["firm_id"]) <= set(rounds[0]["firms"]["firm_id"])

    def mean_score(sheets, firm_ids, components):
        sota = sheets["sota"]
        mask = sota["firm_id"].isin(firm_ids) & sota["component"].isin(components)
        return sota.loc[mask, "score"].mean()

    all_firms = set(rounds[0]["firms"]["firm_id"])
    for focus, group in programs.groupby("focus"):
        mentored = set(group["firm_id"])
        components = focus.split(",")
        region = rounds[0]["firms"].set_index("firm_id").loc[list(mentored), "region_code"]
        peers = set(
            rounds[0]["firms"].loc[rounds[0]["firms"]["region_code"].isin(set(region)), "firm_id"]
        ) - set(programs["firm_id"])
        assert peers and peers <= all_firms
        gain = mean_score(rounds[2], mentored, components) - mean_score(
            rounds[0], mentored, components
        )
        drift = mean_score(rounds[2], peers, components) - mean_score(rounds[0], peers, components)
        assert 0.5 < gain < 2.0, (focus, gain)
        assert abs(drift) < 0.3, (focus, drift)


def test_small_populations_and_annual_rounds():
    (sheets,) = generate_rounds(n_firms=10, round_ids=("2024",), seed=1)
    assert len(sheets["firms"]) == 10
    assert sheets["firms"]["sector_code"].nunique() == 5
    assert set(sheets["items"]["firm_id"]) == set(sheets["firms"]["firm_id"])


def test_workbook_and_csv_read_back(tmp_path, rounds):
    (sheets,) = generate_rounds(n_firms=25, round_ids=("2024Q2",), seed=3)
    sheets["programs"] = rounds[1]["programs"].head(3)
    for engine in ("xlsxwriter", "fast"):
        path = tmp_path / f"round_{engine}.xlsx"
        write_workbook(sheets, path, engine=engine)
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        assert workbook.sheet_names == list(SHEETS)
        for name, sheet in SHEETS.items():
            rows = workbook.get_sheet_by_name(name).to_python()
            assert rows[0] == sheet.column_names
            assert len(rows) == len(sheets[name]) + 1
        firms = workbook.get_sheet_by_name("firms").to_python()
        assert firms[1][3] == sheets["firms"]["sector_code"].iloc[0]  # "10" stays text
        assert isinstance(firms[1][8], float)  # workers as a number
        values = [row[5] for row in workbook.get_sheet_by_name("ahp").to_python()[1:]]
        assert any(isinstance(v, str) and v.startswith("1/") for v in values)
        assert all(isinstance(v, float) for v in values if not isinstance(v, str))
        sota = workbook.get_sheet_by_name("sota").to_python()
        assert [row[5] for row in sota[1:]] == sheets["sota"]["score"].tolist()
    folder = tmp_path / "csv"
    write_csv_folder(sheets, folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.csv" for n in SHEETS)
    ahp = pd.read_csv(folder / "ahp.csv", dtype=str)
    assert list(ahp.columns) == SHEETS["ahp"].column_names
    assert ahp["value"].str.fullmatch(r"[1-9]|1/[2-9]").all()
    firms = pd.read_csv(folder / "firms.csv", dtype=str)
    assert firms["survey_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def _load_floor():
    spec = importlib.util.spec_from_file_location("bench_floor", REPO / "bench" / "floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_floor_reproduces_the_worked_example(worked_example, expected):
    floor = _load_floor()
    for source in (worked_example / "c01_worked_example.xlsx", worked_example / "csv"):
        out = floor.run_floor([source], keep_result=True)
        assert set(out) >= {"read_s", "compute_s", "total_s", "n_firms"}
        result = {row["firm_id"]: row for row in out["result"].to_pylist()}
        for firm in expected["firms"]:
            row = result[firm["firm_id"]]
            for key in ("t", "h", "i", "o", "beta_t", "beta_h", "beta_i", "beta_o", "tcc"):
                assert row[key] == pytest.approx(firm[key], abs=1e-9), (firm["firm_id"], key)
            assert row["ahp_cr"] == pytest.approx(firm["ahp_cr"], abs=1e-9)
            assert row["beta_source"] == firm["beta_source"]
            assert row["tcc_class"] == firm["tcc_class"]
            assert row["technology_level"] == firm["technology_level"]
            assert row["priority"] == firm["priority"]
            for code, component in firm["components"].items():
                for key in ("ll_min", "ul_max", "sota", "n_items"):
                    observed = row[f"{code.lower()}_{key}"]
                    assert observed == pytest.approx(component[key], abs=1e-9), (code, key)
        # the technometric map (method.md section 9) the floor computes too
        kinds = {3: "all", 1: "sector", 2: "region", 0: "sector_region"}
        groups = {
            (kinds[row["grouping_set"]], row["sector_code"], row["region_code"]): row
            for row in out["groups"].to_pylist()
        }
        assert len(groups) == len(expected["groups"])
        for group in expected["groups"]:
            row = groups[(group["group_type"], group["sector_code"], group["region_code"])]
            p25, median, p75 = row["tcc_quartiles"]
            observed = {"tcc_p25": p25, "tcc_median": median, "tcc_p75": p75}
            for key in ("tcc_mean", "tcc_min", "tcc_max", "t_mean", "beta_o_mean", "weight_sum"):
                observed[key] = row[key]
            for key, value in observed.items():
                assert value == pytest.approx(group[key], abs=1e-9), (group["group_code"], key)
            assert row["n_firms"] == group["n_firms"]
            assert row["n_fair"] == group["n_fair"] and row["share_fair"] == group["share_fair"]
            assert row["first_share_I"] == pytest.approx(group["first_priority_share_i"])
            assert row["priority"] == group["priority"]


def test_bench_floor_on_a_generated_round(tmp_path, rounds):
    floor = _load_floor()
    write_csv_folder(rounds[0], tmp_path / "r1")
    out = floor.run_floor([tmp_path / "r1"], keep_result=True)
    result = out["result"].to_pandas()
    assert out["n_firms"] == 300
    assert set(result["beta_source"]) == {"firm_ahp", "firm_weights", "panel_ahp"}
    assert result["tcc"].between(1 / 9, 1).all()
    assert set(result["tcc_class"]) <= {"low", "fair", "good", "very_good"}


@pytest.mark.slow
def test_100k_firms_generate():
    (sheets,) = generate_rounds(n_firms=100_000, round_ids=("2025Q1",))
    assert len(sheets["firms"]) == 100_000
    assert len(sheets["items"]) > 500_000 and len(sheets["sota"]) > 4_000_000
