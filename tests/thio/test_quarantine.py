"""The quarantine review loop: thio quarantine lists and writes the quarantined rows; a
corrected workbook makes the next version with the fixed firms in it."""

from __future__ import annotations

import shutil

import duckdb
import openpyxl
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from thio.cli import cli
from thio.contract import SHEETS
from thio.quarantine import (
    REVIEW_COLUMNS,
    formula_safe,
    review_rows,
    round_quarantine,
    write_review_workbook,
)
from thio.sample import generate_rounds, write_workbook

ROUND = "2024Q1"


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_review_workbook_never_holds_a_formula(tmp_path):
    risky = ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)", "\tx", "\rx"]
    rows = {
        "firms": [
            {"firm_id": value, "problem": "column firm_id: bad", "file": "a.xlsx", "row": index}
            for index, value in enumerate(risky, start=2)
        ]
        + [{"firm_id": "BTG-10-0001", "problem": "fine text", "file": "a.xlsx", "row": 9}]
    }
    out = tmp_path / "review.xlsx"
    assert write_review_workbook(rows, out) == {"firms": 7}
    # values as a reader sees them (calamine, which thio's ingest uses), styles by openpyxl
    values = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("firms").to_python()
    sheet = openpyxl.load_workbook(out)["firms"]
    header = [cell.value for cell in sheet[1]]
    assert header == values[0] == [*SHEETS["firms"].column_names, *REVIEW_COLUMNS]
    column = header.index("firm_id")
    for number, value in enumerate(risky, start=2):
        cell = sheet.cell(row=number, column=column + 1)
        assert not formula_safe(value)
        assert values[number - 1][column] == value
        assert (cell.data_type, cell.quotePrefix) == ("s", True)
    plain = sheet.cell(row=8, column=column + 1)
    assert (plain.value, plain.data_type, plain.quotePrefix) == ("BTG-10-0001", "s", False)
    assert sheet.cell(row=8, column=header.index("row") + 1).value == 9


@pytest.mark.usefixtures("prefect_harness")
def test_bad_workbook_review_workbook_fixed_workbook_version_2(tmp_path):
    (sheets,) = generate_rounds(n_firms=80, round_ids=(ROUND,), seed=11)
    sota = sheets["sota"]
    # each firm has one infoware item; a criterion rated once there, made invalid, leaves
    # the firm without a valid I item: the firm is excluded (3 of 80 firms: 3.75 % < 5 %)
    raters = sota.groupby(["firm_id", "item_id", "criterion"])["score"].transform("size")
    single = sota[(sota["component"] == "I") & (raters == 1)].drop_duplicates("firm_id")
    (fixed_a, fixed_b, unfixed), positions = (
        list(single["firm_id"][:3]),
        list(single.index[:3]),
    )
    sota["score"] = sota["score"].astype(object)
    sota.loc[positions[0], "score"] = 11  # outside 0..10
    sota.loc[positions[2], "score"] = -1  # likewise, and left unfixed
    bad_workbook = tmp_path / "survey.xlsx"
    write_workbook(sheets, bad_workbook)
    # a text cell that reads like a formula (not a number): written as text, with openpyxl
    book = openpyxl.load_workbook(bad_workbook)
    cell = book["sota"].cell(
        row=positions[1] + 2, column=SHEETS["sota"].column_names.index("score") + 1
    )
    cell.value = "=2+3"
    cell.data_type = "s"
    book.save(bad_workbook)
    home = tmp_path / "home"

    first = _run("run", "--home", str(home), "--round", ROUND, str(bad_workbook))
    assert first.exit_code == 0, first.output
    assert first.output.strip().splitlines()[-1] == "round 2024Q1: version 1, 77 firms, published"

    review = tmp_path / "review.xlsx"
    listed = _run("quarantine", "--home", str(home), "--round", ROUND, "--xlsx", str(review))
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].startswith(f"round {ROUND}, run ")
    assert "(published)" in lines[0]
    for position, bad in zip(positions, ("11", "=2+3", "-1"), strict=True):
        # the workbook's header is row 1
        where = f"survey.xlsx, sheet sota, row {position + 2}, column score: "
        assert [line for line in lines if line.startswith(where) and bad in line], bad
    assert lines[-1].startswith(f"wrote {review} (")

    # the enumerators' view: the bad rows as the workbook had them, with the problem
    book = openpyxl.load_workbook(review)
    assert {"firms", "sota"} <= set(book.sheetnames)
    sota_sheet = book["sota"]
    header = [cell.value for cell in sota_sheet[1]]
    assert header == [*SHEETS["sota"].column_names, *REVIEW_COLUMNS]
    rows = [
        dict(zip(header, [c.value for c in row], strict=True)) for row in sota_sheet.iter_rows(2)
    ]
    causes = {
        row["firm_id"]: row
        for row in rows
        if "[range]" in row["problem"] or "[type]" in row["problem"]
    }
    assert set(causes) == {fixed_a, fixed_b, unfixed}
    assert causes[fixed_b]["score"] == "=2+3"
    formula_cell = sota_sheet.cell(
        row=rows.index(causes[fixed_b]) + 2, column=header.index("score") + 1
    )
    assert (formula_cell.data_type, formula_cell.quotePrefix) == ("s", True)
    firms = {row[1].value: row for row in book["firms"].iter_rows(2)}
    assert set(firms) == {fixed_a, fixed_b, unfixed}

    # the fix: the enumerators correct two of the three scores the review named, in the
    # round's workbook, and the round is run again
    for firm_id, value in ((fixed_a, "7"), (fixed_b, "5")):
        sota.loc[causes[firm_id]["row"] - 2, "score"] = value
    fixed_workbook = tmp_path / "survey_fixed.xlsx"
    write_workbook(sheets, fixed_workbook)
    second = _run("run", "--home", str(home), "--round", ROUND, str(fixed_workbook))
    assert second.exit_code == 0, second.output
    assert second.output.strip().splitlines()[-1] == "round 2024Q1: version 2, 79 firms, published"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        published = {
            row[0] for row in con.execute("select firm_id from latest.firm_tcc").fetchall()
        }
    assert {fixed_a, fixed_b} <= published
    assert unfixed not in published

    # only what is still wrong: the unfixed firm's rows
    run, records = round_quarantine(home, ROUND)
    assert run["status"] == "published"
    assert {record["firm_id"] for record in records} == {unfixed}
    again = _run("quarantine", "--home", str(home), "--round", ROUND)
    assert again.exit_code == 0
    assert fixed_a not in again.output and fixed_b not in again.output
    assert unfixed in again.output

    # with the run's staged files gone, the rows are read again from the archived inputs
    from_raw = review_rows(home, run, records)
    shutil.rmtree(home / "work" / run["run_id"] / "raw")
    assert review_rows(home, run, records) == from_raw
    assert {row["firm_id"] for row in from_raw["firms"]} == {unfixed}
