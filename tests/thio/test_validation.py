"""thio.validation: row rules, cross-sheet rules, the cascade, outputs and reconciliation."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.common import _BLOCK_ROWS, repeated_rows
from tests.fixtures.rounds import (
    ROUND_ID,
    find,
    good_round,
    row_number,
    write_csv,
    write_xlsx,
)
from thio.contract import SHEETS, landing_columns
from thio.ingest import ingest_inputs
from thio.methodology import load_methodology
from thio.validation import QUARANTINE_COLUMNS, _codes_over, validate_round

METHODOLOGY = load_methodology()


class Run:
    """One ingest + validation of some inputs in a fresh work folder."""

    def __init__(self, tmp_path: Path, *inputs: Path, name: str = "work") -> None:
        self.work = tmp_path / name
        self.ingest = ingest_inputs(list(inputs), ROUND_ID, tmp_path / "home", self.work)
        self.result = validate_round(self.work, ROUND_ID, METHODOLOGY)
        self.quarantine = pd.read_parquet(self.work / "quarantine.parquet")

    def accepted(self, sheet: str) -> pd.DataFrame:
        return pd.read_parquet(self.work / "accepted" / f"{sheet}.parquet")

    def messages(self, rule: str | None = None) -> list[str]:
        frame = self.quarantine
        if rule is not None:
            frame = frame[frame["rule"] == rule]
        return frame["message"].tolist()

    def rules(self, sheet: str) -> dict[str, int]:
        frame = self.quarantine[self.quarantine["sheet"] == sheet]
        return frame["rule"].value_counts().to_dict()


def xlsx_run(tmp_path: Path, round_: dict, name: str = "r.xlsx") -> Run:
    return Run(tmp_path, write_xlsx(round_, tmp_path / name))


def csv_run(tmp_path: Path, round_: dict) -> Run:
    return Run(tmp_path, write_csv(round_, tmp_path / "csv"))


# ---------------------------------------------------------------- the worked example


def _without_source(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["_file", "_file_sha256", "_sheet"])


def test_worked_example_xlsx_and_csv_accept_the_same_rows(tmp_path, worked_example):
    from_xlsx = Run(tmp_path, worked_example / "c01_worked_example.xlsx", name="x")
    from_csv = Run(tmp_path, worked_example / "csv", name="c")
    counts = {"firms": 3, "items": 15, "sota": 72, "ahp": 30, "weights": 0, "programs": 0}
    for run in (from_xlsx, from_csv):
        assert run.quarantine.empty
        assert {s: c["rows_accepted"] for s, c in run.result["sheets"].items()} == counts
        assert run.result["blocked"] is False
        assert run.result["n_firms_read"] == run.result["n_firms_accepted"] == 3
        assert run.result["quarantine_share"] == 0.0
        assert run.result["reconciled"] is True
    for sheet in SHEETS:
        pd.testing.assert_frame_equal(
            _without_source(from_xlsx.accepted(sheet)), _without_source(from_csv.accepted(sheet))
        )
    ahp = from_xlsx.accepted("ahp")
    # the inconsistent respondent is accepted: consistency is for the compute step
    r3 = ahp[(ahp["firm_id"] == "F003") & (ahp["respondent"] == "R3")]
    assert len(r3) == 6
    assert r3["value"].tolist() == [9, 1 / 9, 9, 9, 1 / 9, 9]
    half = ahp[(ahp["firm_id"] == "F002") & (ahp["respondent"] == "R2") & (ahp["row"] == "I")]
    assert half["value_text"].tolist() == ["1/2"] and half["value"].tolist() == [0.5]
    firms = from_xlsx.accepted("firms")
    assert firms["survey_date"].tolist() == [dt.date(2023, 1, 11)] * 3
    assert firms["workers"].tolist() == [12, 12, 12]


def test_accepted_frames_have_the_landing_types(tmp_path, worked_example):
    run = Run(tmp_path, worked_example / "csv")
    for name, sheet in SHEETS.items():
        schema = pq.read_schema(run.work / "accepted" / f"{name}.parquet")
        types = {"varchar": "string", "bigint": "int64", "double": "double", "date": "date32[day]"}
        expected = [(column, types[kind]) for column, kind in landing_columns(sheet)]
        assert [(field.name, str(field.type)) for field in schema] == expected, name
    quarantine = pq.read_schema(run.work / "quarantine.parquet")
    assert quarantine.names == QUARANTINE_COLUMNS


# ---------------------------------------------------------------- parsing


def test_decimal_comma_score(tmp_path):
    round_ = good_round(1)
    find(round_["sota"], criterion="T.precision")["score"] = "7,5"
    run = csv_run(tmp_path, round_)
    assert run.quarantine.empty
    sota = run.accepted("sota")
    assert sota.loc[sota["criterion"] == "T.precision", "score"].tolist() == [7.5]


def test_judgments_one_third_written_two_ways(tmp_path):
    round_ = good_round(1)
    find(round_["ahp"], row="T", col="H")["value"] = "1/3"
    find(round_["ahp"], row="T", col="I")["value"] = "0.3333"
    run = xlsx_run(tmp_path, round_)
    assert run.quarantine.empty
    ahp = run.accepted("ahp").set_index(["row", "col"])
    assert ahp.loc[("T", "H"), "value"] == 1 / 3  # exactly
    assert ahp.loc[("T", "H"), "value_text"] == "1/3"
    assert ahp.loc[("T", "I"), "value"] == 1 / 3
    assert ahp.loc[("T", "I"), "value_text"] == "0.3333"


def test_judgment_not_on_the_scale_sets_the_respondent_aside(tmp_path):
    round_ = good_round(2)
    find(round_["ahp"], firm_id="F001", row="T", col="I")["value"] = "0.4"
    run = xlsx_run(tmp_path, round_)
    assert run.messages("saaty_scale") == [
        "r.xlsx, sheet ahp, row 3, column value: 0.4 is not a value of Saaty's scale "
        "(1/9 .. 1/2, 1 .. 9)"
    ]
    assert run.messages("incomplete_ahp")[0] == (
        "r.xlsx, sheet ahp, row 2, column respondent: respondent R1 of firm F001 gives no "
        "valid judgment for T:I; the respondent's judgments are set aside"
    )
    assert run.rules("ahp") == {"incomplete_ahp": 5, "saaty_scale": 1}
    assert len(run.accepted("ahp")) == 6  # F002's
    # the firm itself stays (its betas fall back), but it counts as a firm with problems
    assert run.result["n_firms_accepted"] == 2
    assert run.result["n_firms_with_problems"] == 1


def test_excel_serial_date_and_bad_date(tmp_path):
    round_ = good_round(2)
    round_["firms"][0]["survey_date"] = "44937"
    round_["firms"][1]["survey_date"] = "01/13/2023"  # month first: not guessed
    run = csv_run(tmp_path, round_)
    assert run.accepted("firms")["survey_date"].tolist() == [dt.date(2023, 1, 11)]
    assert run.messages("type") == [
        "csv/firms.csv, sheet firms, row 3, column survey_date: 01/13/2023 is not a date "
        "(use YYYY-MM-DD, DD/MM/YYYY or an Excel date)"
    ]


# ---------------------------------------------------------------- row rules


def test_ll_above_ul_and_ul_out_of_range(tmp_path):
    round_ = good_round(1, items_per_component=2)
    find(round_["items"], item_id="T1").update(ll="5", ul="3")
    find(round_["items"], item_id="H2").update(ul="12")
    run = xlsx_run(tmp_path, round_)
    messages = run.messages()
    assert messages[:2] == [
        "r.xlsx, sheet items, row 2, column ul: 3 is below ll 5",
        "r.xlsx, sheet items, row 5, column ul: 12 is outside 1..9",
    ]
    assert messages[2] == (
        "r.xlsx, sheet sota, row 2, column item_id: item T1 of firm F001 is quarantined in "
        "the items sheet"
    )
    assert run.rules("items") == {"ll_ul": 1, "range": 1}
    assert run.rules("sota") == {"item_excluded": 10}  # five criteria of each item
    assert run.result["n_firms_accepted"] == 1  # T2 and H1 are left


def test_several_bad_cells_of_one_row_count_once(tmp_path):
    round_ = good_round(1, items_per_component=2)
    find(round_["items"], item_id="T1").update(ll="0", ul="x", weight="-1")
    run = csv_run(tmp_path, round_)
    items = run.quarantine[run.quarantine["sheet"] == "items"]
    assert sorted(items["column_name"]) == ["ll", "ul", "weight"]
    assert run.result["sheets"]["items"] == {
        "rows_read": 8, "rows_accepted": 7, "rows_quarantined": 1, "rows_duplicate": 0
    }  # fmt: skip
    assert items.set_index("column_name").loc["ul", "message"] == (
        "csv/items.csv, sheet items, row 2, column ul: x is not a whole number"
    )


def test_round_id_of_another_round(tmp_path):
    round_ = good_round(2)
    round_["firms"][1]["round_id"] = "2023Q2"
    run = csv_run(tmp_path, round_)
    assert run.messages("round_id") == [
        "csv/firms.csv, sheet firms, row 3, column round_id: 2023Q2 is not the round being "
        "read (2023Q1)"
    ]
    assert run.result["n_firms_excluded"] == 1


def test_sample_weight_all_or_none(tmp_path):
    round_ = good_round(3)
    round_["firms"][0]["sample_weight"] = "2,5"
    round_["firms"][1]["sample_weight"] = "1"
    run = csv_run(tmp_path, round_)
    assert run.messages("sample_weight") == [
        "csv/firms.csv, sheet firms, row 4, column sample_weight: a sample_weight is required: "
        "other firms of the round have one"
    ]
    assert run.accepted("firms")["sample_weight"].tolist() == [2.5, 1.0]


def test_criterion_of_another_component_and_duplicate_rater(tmp_path):
    round_ = good_round(1)
    sota = round_["sota"]
    find(sota, criterion="T.precision")["criterion"] = "H.creativity"
    extra = copy.deepcopy(find(sota, criterion="O.autonomy"))
    extra["rater"] = "1"
    find(sota, criterion="O.autonomy")["rater"] = None  # blank rater is rater "1"
    sota.append(extra)
    run = csv_run(tmp_path, round_)
    assert run.messages("criterion") == [
        "csv/sota.csv, sheet sota, row 3, column criterion: H.creativity is not a criterion "
        "of component T"
    ]
    duplicates = run.messages("duplicate_key")
    assert duplicates == [
        "csv/sota.csv, sheet sota, row 17, column criterion: O.autonomy of item O1 (firm "
        "F001) is scored more than once by rater (blank) (also csv/sota.csv, sheet sota, "
        "row 21)",
        "csv/sota.csv, sheet sota, row 21, column criterion: O.autonomy of item O1 (firm "
        "F001) is scored more than once by rater 1 (also csv/sota.csv, sheet sota, row 17)",
    ]


def test_programs_dates_and_focus(tmp_path):
    round_ = good_round(1)
    base = {"program_id": "P1", "program_name": "Pendampingan", "organisation": "Dinas"}
    round_["programs"] = [
        base | {"firm_id": "F001", "focus": "t, humanware", "start_date": "2023-02-01",
                "end_date": "2023-06-30"},
        base | {"firm_id": "X9", "focus": "T", "start_date": "2023-02-01",
                "end_date": "2023-01-31"},
    ]  # fmt: skip
    run = csv_run(tmp_path, round_)
    programs = run.accepted("programs")
    assert programs["focus"].tolist() == ["T,H"]
    assert programs["end_date"].tolist() == [dt.date(2023, 6, 30)]
    assert run.messages() == [
        "csv/programs.csv, sheet programs, row 3, column end_date: 2023-01-31 is before "
        "start_date 2023-02-01"
    ]
    # a programme row is not a firm of the round: it does not count in the share
    assert run.result["n_firms_with_problems"] == 0


# ---------------------------------------------------------------- cross-sheet rules


def test_missing_criterion_cascades_to_the_firm(tmp_path):
    round_ = good_round(2)
    round_["sota"].remove(find(round_["sota"], firm_id="F001", criterion="H.risk_taking"))
    run = xlsx_run(tmp_path, round_)
    assert run.messages("missing_criterion") == [
        "r.xlsx, sheet items, row 3, column item_id: item H1 of firm F001 has no valid score "
        "for H.risk_taking; the item is quarantined"
    ]
    assert run.messages("missing_component") == [
        "r.xlsx, sheet firms, row 2, column firm_id: firm F001 has no valid item for "
        "component H; the firm is excluded"
    ]
    excluded = run.messages("firm_excluded")
    assert excluded[0] == (
        "r.xlsx, sheet items, row 2, column firm_id: firm F001 is excluded from the round: "
        "it has no valid item for component H"
    )
    assert run.rules("firms") == {"missing_component": 1}
    assert run.rules("items") == {"missing_criterion": 1, "firm_excluded": 3}
    assert run.rules("sota") == {"item_excluded": 4, "firm_excluded": 14}
    assert run.rules("ahp") == {"firm_excluded": 6}
    assert run.result["excluded_firms"] == [
        {"firm_id": "F001", "reason": "it has no valid item for component H"}
    ]
    for sheet in ("firms", "items", "sota", "ahp"):
        assert set(run.accepted(sheet)["firm_id"]) == {"F002"}
    assert run.result["n_firms_accepted"] == 1
    assert run.result["quarantine_share"] == 0.5
    assert run.result["n_firms_with_problems"] == 1
    # the share is judged by the audit gate (round.quarantine_share), not here
    assert run.result["blocked"] is False


def test_unknown_firm_and_item(tmp_path):
    round_ = good_round(1)
    round_["items"].append(
        {"firm_id": "F999", "component": "T", "item_id": "T1", "ll": "1", "ul": "2"}
    )
    round_["sota"].append(
        {"firm_id": "F001", "component": "technoware", "item_id": "T7",
         "criterion": "T.control", "score": "5"}
    )  # fmt: skip
    run = csv_run(tmp_path, round_)
    assert run.messages() == [
        "csv/items.csv, sheet items, row 6, column firm_id: F999 is not in the firms sheet",
        "csv/sota.csv, sheet sota, row 21, column item_id: item T7 of firm F001, component "
        "technoware is not in the items sheet",
    ]
    assert run.result["n_unknown_firm_ids"] == 1
    assert run.result["n_firms_with_problems"] == 2  # F001 (a bad sota row) and F999
    # sota, the biggest sheet, is written while the cross-sheet rules run, then again
    # without the row they quarantined
    sota = run.accepted("sota")
    assert "T7" not in set(sota["item_id"])
    assert len(sota) == run.result["sheets"]["sota"]["rows_accepted"] > 0


def test_duplicate_firm_across_two_files_names_both_places(tmp_path):
    round_ = good_round(2)
    east = write_xlsx(round_, tmp_path / "east.xlsx")
    second = good_round(2)
    west_only = {
        sheet: [row for row in rows if row.get("firm_id") == "F002"]
        for sheet, rows in second.items()
    }
    west_only["firms"][0]["firm_name"] = "another firm"
    west = write_csv(west_only, tmp_path / "west")
    run = Run(tmp_path, east, west)
    duplicates = run.messages("duplicate_key")
    assert duplicates[:2] == [
        "east.xlsx, sheet firms, row 3, column firm_id: firm F002 appears more than once "
        "(also west/firms.csv, sheet firms, row 2)",
        "west/firms.csv, sheet firms, row 2, column firm_id: firm F002 appears more than once "
        "(also east.xlsx, sheet firms, row 3)",
    ]
    # F002's items, scores and judgments are the same text in both files: the west copies
    # are exact duplicates, collapsed into the east rows (which go with the excluded firm)
    assert duplicates == duplicates[:2]
    assert {sheet: run.result["sheets"][sheet]["rows_duplicate"] for sheet in SHEETS} == {
        "firms": 0, "items": 4, "sota": 19, "ahp": 6, "weights": 0, "programs": 0
    }  # fmt: skip
    assert run.result["duplicates"][0] == (
        "west/items.csv, sheet items, row 2: an exact duplicate of row 6 (east.xlsx, sheet "
        "items), collapsed into it"
    )
    assert run.result["excluded_firms"] == [
        {"firm_id": "F002", "reason": "it appears more than once in the firms sheet"}
    ]
    for sheet in ("firms", "items", "sota", "ahp"):
        assert set(run.accepted(sheet)["firm_id"]) == {"F001"}
        assert set(run.quarantine.loc[run.quarantine["sheet"] == sheet, "firm_id"]) == {"F002"}


def test_reversed_judgments_must_be_reciprocal(tmp_path):
    round_ = good_round(3)
    ahp = round_["ahp"]
    # F001: T:H 2 and H:T 1/2 -- both accepted
    ahp.append(
        find(ahp, firm_id="F001", row="T", col="H") | {"row": "H", "col": "T", "value": "0,5"}
    )
    # F002: T:H 2 and H:T 3 -- a contradiction
    ahp.append(find(ahp, firm_id="F002", row="T", col="H") | {"row": "H", "col": "T", "value": "3"})
    # F003: the pair given only as its lower-triangle judgment
    find(ahp, firm_id="F003", row="T", col="H").update(row="H", col="T", value="1/2")
    run = xlsx_run(tmp_path, round_)
    assert run.messages("reciprocal") == [
        "r.xlsx, sheet ahp, row 8, column value: T:H 2 and H:T 3 are not reciprocal (within 1 %)",
        "r.xlsx, sheet ahp, row 21, column value: H:T 3 and T:H 2 are not reciprocal (within 1 %)",
    ]
    assert run.rules("ahp") == {"reciprocal": 2, "incomplete_ahp": 5}
    accepted = run.accepted("ahp")
    assert accepted.groupby("firm_id").size().to_dict() == {"F001": 7, "F003": 6}


def test_duplicate_judgment_and_row_equal_col(tmp_path):
    round_ = good_round(1)
    ahp = round_["ahp"]
    ahp.append({"firm_id": "F001", "respondent": "R1", "row": "T", "col": "technoware",
                "value": "1"})  # fmt: skip
    run = csv_run(tmp_path, round_)
    assert run.messages() == [
        "csv/ahp.csv, sheet ahp, row 8, column col: technoware is the same component as row T"
    ]


def test_ahp_and_weights_scope(tmp_path):
    round_ = good_round(2)
    panel = [
        {"firm_id": None, "panel_id": code, "respondent": "P1", "row": row, "col": col,
         "value": value}
        for code in ("10", "99")
        for row, col, value in [("T", "H", "2"), ("T", "I", "3"), ("T", "O", "4"),
                                ("H", "I", "2"), ("H", "O", "3"), ("I", "O", "2")]
    ]  # fmt: skip
    round_["ahp"] += panel
    round_["ahp"].append({"firm_id": "F001", "panel_id": "10", "respondent": "R9", "row": "T",
                          "col": "H", "value": "2"})  # fmt: skip
    run = csv_run(tmp_path, round_)
    assert run.rules("ahp") == {"unknown_panel": 6, "scope": 1}
    assert run.messages("unknown_panel")[0] == (
        "csv/ahp.csv, sheet ahp, row 20, column panel_id: 99 is not the sector_code of an "
        "accepted firm"
    )
    assert run.messages("scope") == [
        "csv/ahp.csv, sheet ahp, row 26, column firm_id: firm_id F001 and panel_id 10 are "
        "both given; give one of them"
    ]
    # panel rows belong to no firm: only F001 (the scope row) counts as a firm with problems
    assert run.result["n_firms_with_problems"] == 1


def test_given_weights(tmp_path):
    round_ = good_round(2, ahp=False)
    betas = {"F001": ("0.4", "0.3", "0.2", "0.12"), "F002": ("0.4", "0.3", "0.3", None)}
    round_["weights"] = [
        {"firm_id": firm, "panel_id": None, "component": component, "beta": beta}
        for firm, values in betas.items()
        for component, beta in zip("THIO", values, strict=True)
        if beta is not None
    ]
    round_["weights"].append({"firm_id": None, "panel_id": "31", "component": "T", "beta": "1"})
    good = [{"firm_id": None, "panel_id": "10", "component": c, "beta": "0.25"} for c in "THIO"]
    round_["weights"] += good
    run = csv_run(tmp_path, round_)
    assert run.rules("weights") == {"weights_sum": 4, "incomplete_weights": 3, "range": 1}
    assert run.messages("weights_sum")[0] == (
        "csv/weights.csv, sheet weights, row 2, column beta: the betas of firm F001 sum to "
        "1.02, not 1 within 0.005"
    )
    assert run.messages("incomplete_weights")[0] == (
        "csv/weights.csv, sheet weights, row 6, column component: firm F002 gives betas for "
        "T, H, I only; all four components are needed"
    )
    assert run.messages("range") == [
        "csv/weights.csv, sheet weights, row 9, column beta: 1 is not between 0 and 1 "
        "(both excluded)"
    ]
    accepted = run.accepted("weights")
    assert accepted["panel_id"].tolist() == ["10"] * 4 and accepted["beta"].sum() == 1.0


# ---------------------------------------------------------------- counts and threshold


def test_reconciliation_on_a_messy_round(tmp_path):
    round_ = good_round(6, items_per_component=2)
    find(round_["items"], firm_id="F001", item_id="T1")["ul"] = "0"
    find(round_["items"], firm_id="F002", item_id="I1")["component"] = "nonsense"
    round_["sota"].remove(find(round_["sota"], firm_id="F003", item_id="O2",
                               criterion="O.autonomy"))  # fmt: skip
    find(round_["sota"], firm_id="F004", item_id="H1", criterion="H.creativity")["score"] = "11"
    find(round_["ahp"], firm_id="F005", row="I", col="O")["value"] = "2.5"
    round_["firms"][5]["workers"] = "-3"
    east = {s: [r for r in rows if r["firm_id"] in ("F001", "F002", "F003")]
            for s, rows in round_.items()}  # fmt: skip
    west = {s: [r for r in rows if r["firm_id"] not in ("F001", "F002", "F003")]
            for s, rows in round_.items()}  # fmt: skip
    run = Run(tmp_path, write_xlsx(east, tmp_path / "east.xlsx"), write_csv(west, tmp_path / "w"))
    result = run.result
    assert result["reconciled"] is True
    read = {(r["file_name"], s): n for r in run.ingest["files"] for s, n in r["rows_read"].items()}
    counted = {(f["file_name"], f["sheet"]): f for f in result["files"]}
    assert set(read) == set(counted)
    for key, n in read.items():
        assert counted[key]["rows_read"] == n
        assert counted[key]["rows_accepted"] + counted[key]["rows_quarantined"] == n
    for sheet, counts in result["sheets"].items():
        assert len(run.accepted(sheet)) == counts["rows_accepted"]
        in_quarantine = run.quarantine[run.quarantine["sheet"] == sheet]
        rows = in_quarantine.drop_duplicates(["_file", "_row"])
        assert len(rows) == counts["rows_quarantined"]
    assert result["n_firms_read"] == 6
    assert result["n_firms_with_problems"] == 6
    assert result["n_firms_excluded"] == 1  # F006: its firms row (workers) is quarantined
    assert result["excluded_firms"] == [
        {"firm_id": "F006", "reason": "its firms row is quarantined (workers: -3 is below 0)"}
    ]
    values = run.quarantine.set_index(["sheet", "column_name", "rule"])["value"]
    assert values[("items", "component", "type")] == "nonsense"  # verbatim
    assert values[("ahp", "value", "saaty_scale")] == "2.5"
    checks = {(c["suite"], c["check_name"]): c for c in result["checks"]}
    assert checks[("sota", "range")] == {
        "suite": "sota", "check_name": "range", "success": False, "unexpected_count": 1
    }  # fmt: skip
    assert checks[("firms", "duplicate_key")]["success"] is True


@pytest.mark.parametrize("n_bad", [0, 1, 2])
def test_the_share_is_measured_for_the_audit(tmp_path, n_bad):
    # the threshold rule is the audit gate's (round.quarantine_share, tests/thio/
    # test_expectations.py); validation measures the share and blocks only an empty round
    round_ = good_round(20, ahp=False)
    for row in round_["firms"][:n_bad]:
        row["workers"] = "-1"
    result = csv_run(tmp_path, round_).result
    assert result["quarantine_threshold"] == 0.05
    assert result["quarantine_share"] == n_bad / 20
    assert (result["n_firms_with_problems"], result["n_firms_read"]) == (n_bad, 20)
    assert result["blocked"] is False
    assert result["blocked_reason"] is None


def test_no_firm_accepted_blocks(tmp_path):
    round_ = good_round(1)
    round_["firms"][0]["round_id"] = "2022Q4"
    result = csv_run(tmp_path, round_).result
    assert result["blocked"] is True
    assert result["n_firms_accepted"] == 0


def test_row_numbers_in_messages(tmp_path):
    round_ = good_round(2)
    assert row_number(round_["items"], firm_id="F002", item_id="I1") == 8
    find(round_["items"], firm_id="F002", item_id="I1")["weight"] = "0"
    run = xlsx_run(tmp_path, round_)
    assert run.messages("range") == [
        "r.xlsx, sheet items, row 8, column weight: 0 is not greater than 0"
    ]


def test_keys_equal_once_stripped_are_duplicates(tmp_path):
    round_ = good_round(1, items_per_component=2)
    find(round_["items"], item_id="T2")["item_id"] = " T1 "
    run = csv_run(tmp_path, round_)
    assert run.messages("duplicate_key") == [
        "csv/items.csv, sheet items, row 2, column item_id: item T1 of firm F001, component T "
        "appears more than once (also csv/items.csv, sheet items, row 3)",
        "csv/items.csv, sheet items, row 3, column item_id: item T1 of firm F001, component T "
        "appears more than once (also csv/items.csv, sheet items, row 2)",
    ]


# ---------------------------------------------------------------- the key and code helpers


def _coded(frame: pd.DataFrame) -> list:
    coded = []
    for name in frame.columns:
        codes, uniques = pd.factorize(frame[name], use_na_sentinel=True)
        coded.append((codes, len(uniques)))
    return coded


@pytest.mark.parametrize("shuffle", [False, True])
def test_repeated_rows_matches_pandas_in_any_row_order(shuffle):
    # rows grouped firm > item > rater > criterion (not the columns' order), longer than a
    # block, one exact repeat and one row repeating the labels with another score
    rows = [
        (f"F{firm:05d}", f"I{item}", criterion, rater, f"{firm % 7}")
        for firm in range(_BLOCK_ROWS // 12 + 10)
        for item in range(2)
        for rater in (None, "2")
        for criterion in ("c1", "c2", "c3")
    ]
    rows.insert(5000, rows[4000])
    rows.insert(9000, (*rows[8000][:4], "other"))
    frame = pd.DataFrame(rows, columns=["firm", "item", "criterion", "rater", "score"])
    if shuffle:
        frame = frame.sample(frac=1, random_state=3).reset_index(drop=True)
    labels, score = _coded(frame[["firm", "item", "criterion", "rater"]]), _coded(frame[["score"]])

    found = repeated_rows(labels, len(frame), then=score)
    assert found is not None
    order, starts = found
    repeated = np.zeros(len(frame), dtype=bool)
    repeated[order[~starts]] = True  # each later row of a combination
    assert (repeated == frame.duplicated(keep="first").to_numpy()).all()
    assert repeated.sum() == 1
    by_labels = repeated_rows(labels, len(frame))
    assert by_labels is not None and int((~by_labels[1]).sum()) == 2

    unique = frame.drop_duplicates(["firm", "item", "criterion", "rater"])
    assert (
        repeated_rows(_coded(unique[["firm", "item", "criterion", "rater"]]), len(unique)) is None
    )


def test_codes_over_sheets_share_codes():
    big = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, None, 2, 1], pa.int32()), pa.array(["a", "b", "c"])
    )
    # a dictionary holding a value twice, a value the other sheet lacks, a null
    small = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 2, None], pa.int8()), pa.array(["b", "d", "b"])
    )
    union = _codes_over([small, big])
    values = union.values.to_pylist()
    decoded = [[values[code] if code >= 0 else None for code in codes] for codes in union.codes]
    assert decoded == [["b", "d", "b", None], ["a", "b", None, "c", "b"]]
    assert union.n_values == 4
    assert union.codes[1].base is not None  # the biggest sheet's own indices, not a copy
