"""Excel realities that used to slip through (issue 12, item 5): formula cells whose cached
value is a placeholder (a workbook declaring fullCalcOnLoad), the day 1900-02-29 that never
existed, survey dates outside the methodology's window, and the exact duplicate rows an
auditor must be able to see in meta.quarantine.

Expected values are written out by hand: the fixtures' cells (tests/fixtures/bad/), Excel's
serial days (1 = 1900-01-01, 59 = 1900-02-28, 60 = the phantom 1900-02-29, 61 = 1900-03-01)
and the round 2023Q1's days (2023-01-01 .. 2023-03-31).
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.fixtures.bad.make_fixtures import rewrite_zip
from tests.fixtures.rounds import ROUND_ID, good_round, write_csv
from tests.fixtures.rounds import write_xlsx as write_round_xlsx
from thio.containers import recalculated_on_load, scan_sheet_xml
from thio.errors import ThioError
from thio.ingest import ingest_inputs
from thio.methodology import DEFAULT_METHODOLOGY, load_methodology
from thio.parse import parse_date
from thio.quarantine import quarantine_lines, review_rows, round_quarantine
from thio.rounds import console_messages, input_file_rows, publish_run
from thio.runs import run_methodology, start_run
from thio.validation import round_period, validate_round
from thio.warehouse import build_compute_db

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
UNTRUSTED = (
    "a formula cell whose saved value is not trusted (the workbook asks to be recalculated "
    "when opened, fullCalcOnLoad, as a library that never calculated its formulas writes it; "
    "open it in Excel, save it and send it again)"
)
IMPOSSIBLE = (
    "is not a date: 1900-02-29 (Excel's serial day 60) never existed, Excel counts 1900 as a "
    "leap year; enter the real date"
)


def validated(tmp_path: Path, *inputs: Path, methodology: Path | None = None) -> dict:
    work = tmp_path / "work"
    ingest = ingest_inputs(list(inputs), ROUND_ID, tmp_path / "home", work)
    validation = validate_round(work, ROUND_ID, load_methodology(methodology))
    quarantine = pd.read_parquet(work / "quarantine.parquet")
    rows = input_file_rows({"run_id": "r", "round_id": ROUND_ID}, ingest, validation)
    return {"work": work, "validation": validation, "quarantine": quarantine, "rows": rows}


def accepted(run: dict, sheet: str) -> pd.DataFrame:
    return pd.read_parquet(run["work"] / "accepted" / f"{sheet}.parquet")


def records(run: dict, rule: str) -> list[tuple]:
    frame = run["quarantine"]
    frame = frame[frame["rule"] == rule]
    return list(
        frame[["_file", "sheet", "_row", "column_name", "value", "message"]].itertuples(
            index=False, name=None
        )
    )


# ---------------------------------------------------------------- formulas


def test_a_cached_placeholder_under_full_calc_on_load_is_quarantined(tmp_path):
    # F001's first sota score is =7+0.5, cached 0 by xlsxwriter, which declares fullCalcOnLoad
    with zipfile.ZipFile(BAD / "formula_full_calc.xlsx") as archive:
        assert b'fullCalcOnLoad="1"' in archive.read("xl/workbook.xml")
        assert b"<f>7+0.5</f><v>0</v>" in archive.read("xl/worksheets/sheet3.xml")
    run = validated(tmp_path, BAD / "formula_full_calc.xlsx")
    assert records(run, "untrusted_formula") == [
        (
            "formula_full_calc.xlsx", "sota", 2, "score", "=7+0.5",
            f"formula_full_calc.xlsx, sheet sota, row 2, column score: =7+0.5: {UNTRUSTED}",
        )
    ]  # fmt: skip
    # the placeholder 0 is never published: F001 (1 of 21 firms) loses its T item, and so is
    # excluded; the 20 other firms are published
    assert "F001" not in set(accepted(run, "firms")["firm_id"])
    assert len(accepted(run, "firms")) == 20
    assert 0 not in set(accepted(run, "sota")["score"])
    (file_row,) = [row for row in run["rows"] if row["sheet"] is None]
    assert (file_row["rows_read"], file_row["rows_accepted"]) == (630, 600)
    assert (file_row["rows_quarantined"], file_row["rows_duplicate"]) == (30, 0)


def test_a_workbook_excel_calculated_keeps_its_cached_values(tmp_path):
    # the same kind of formulas, saved without fullCalcOnLoad (as Excel saves): =6*2 is 12
    with zipfile.ZipFile(BAD / "formula_cached.xlsx") as archive:
        assert b"fullCalcOnLoad" not in archive.read("xl/workbook.xml")
    run = validated(tmp_path, BAD / "formula_cached.xlsx")
    assert run["validation"]["n_quarantine_records"] == 0
    assert accepted(run, "firms")["workers"].tolist() == [12, 12]


def _full_calc_workbook(tmp_path: Path, cells: bytes) -> Path:
    """good_round(2) as a workbook (xlsxwriter's: it declares fullCalcOnLoad) whose sota row 2
    score cell (F2) is ``cells``."""
    path = write_round_xlsx(good_round(2), tmp_path / "book.xlsx")

    def spoil(name: str, data: bytes) -> bytes | None:
        if name == "xl/worksheets/sheet3.xml":
            start = data.index(b'<c r="F2"')
            end = data.index(b"</c>", start) + 4
            return data[:start] + cells + data[end:]
        return None

    rewrite_zip(path, spoil)
    return path


def test_a_shared_formula_cell_keeps_its_cached_value_as_the_quarantined_value(tmp_path):
    # a shared formula's other cells hold no formula text: the record shows the cached value
    path = _full_calc_workbook(tmp_path, b'<c r="F2"><f t="shared" si="0"/><v>0</v></c>')
    assert recalculated_on_load(path)
    assert scan_sheet_xml(path, "sota", formulas=True).formulas == [(1, 5, "")]
    run = validated(tmp_path, path)
    assert records(run, "untrusted_formula") == [
        ("book.xlsx", "sota", 2, "score", "0",
         f"book.xlsx, sheet sota, row 2, column score: 0: {UNTRUSTED}"),
    ]  # fmt: skip


def test_without_full_calc_on_load_a_cached_value_is_used(tmp_path):
    path = _full_calc_workbook(tmp_path, b'<c r="F2"><f>7+0.5</f><v>7.5</v></c>')
    assert recalculated_on_load(path)

    def as_excel_saves_it(name: str, data: bytes) -> bytes | None:
        if name == "xl/workbook.xml":
            return data.replace(b' fullCalcOnLoad="1"', b"")
        return None

    rewrite_zip(path, as_excel_saves_it)
    assert not recalculated_on_load(path)
    assert scan_sheet_xml(path, "sota").formulas == []
    run = validated(tmp_path, path)
    assert run["validation"]["n_quarantine_records"] == 0
    assert accepted(run, "sota")["score"].iloc[0] == 7.5


# ---------------------------------------------------------------- dates


def test_excel_serial_days_around_the_phantom_leap_day():
    parsed = parse_date(pd.Series(["1", "59", "60", "60.5", "61", "44937"]))
    assert parsed.invalid.tolist() == [False, False, True, True, False, False]
    days = [None if pd.isna(day) else day.date() for day in parsed.values]
    assert days == [
        dt.date(1900, 1, 1), dt.date(1900, 2, 28), None, None, dt.date(1900, 3, 1),
        dt.date(2023, 1, 11),
    ]  # fmt: skip


def test_a_date_cell_of_serial_60_is_quarantined_naming_the_day(tmp_path):
    # F001's survey_date is a date cell of serial 60: Excel shows 1900-02-29
    run = validated(tmp_path, BAD / "phantom_leap_day.xlsx")
    assert records(run, "impossible_date") == [
        (
            "phantom_leap_day.xlsx", "firms", 2, "survey_date", "1900-02-29",
            f"phantom_leap_day.xlsx, sheet firms, row 2, column survey_date: 1900-02-29 "
            f"{IMPOSSIBLE}",
        )
    ]  # fmt: skip
    assert "F001" not in set(accepted(run, "firms")["firm_id"])


def test_serial_60_and_1900_02_29_as_text_are_impossible_dates(tmp_path):
    round_ = good_round(4)
    for firm, text in zip(round_["firms"], ["60", "29/02/1900", "1900-02-29", "59"], strict=True):
        firm["survey_date"] = text
    run = validated(tmp_path, write_csv(round_, tmp_path / "csv"))
    place = "csv/firms.csv, sheet firms, row {}, column survey_date: "
    assert records(run, "impossible_date") == [
        ("csv/firms.csv", "firms", row, "survey_date", text, place.format(row) + f"{text} "
         + IMPOSSIBLE)
        for row, text in ((2, "60"), (3, "29/02/1900"), (4, "1900-02-29"))
    ]  # fmt: skip
    # serial 59 is a real day, 1900-02-28, but no survey of 2023Q1 was made then
    (window,) = records(run, "survey_date_window")
    assert window[2:5] == (5, "survey_date", "59")


def test_round_periods():
    assert round_period("2023Q1") == (dt.date(2023, 1, 1), dt.date(2023, 3, 31))
    assert round_period("2024Q4") == (dt.date(2024, 10, 1), dt.date(2024, 12, 31))
    assert round_period("2024") == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))


def _dated_round(tmp_path: Path, dates: list[str]) -> Path:
    round_ = good_round(len(dates))
    for firm, day in zip(round_["firms"], dates, strict=True):
        firm["survey_date"] = day
    return write_csv(round_, tmp_path / "csv")


def _methodology(tmp_path: Path, window: str) -> Path:
    text = DEFAULT_METHODOLOGY.read_text()
    default = "survey_date_window:\n  days_before_round: 366\n  days_after_round: 366\n"
    assert default in text
    path = tmp_path / "methodology.yaml"
    path.write_text(text.replace(default, window))
    return path


def test_the_default_survey_window_is_a_year_each_way_ends_allowed(tmp_path):
    # 2023Q1 is 2023-01-01 .. 2023-03-31: 366 days before is 2021-12-31 (2022 has 365 days),
    # 366 days after is 2024-03-31 (2024-02-29 exists)
    dates = ["2021-12-31", "2021-12-30", "2024-03-31", "2024-04-01", "2023-02-15"]
    run = validated(tmp_path, _dated_round(tmp_path, dates))
    assert sorted(accepted(run, "firms")["firm_id"]) == ["F001", "F003", "F005"]
    message = (
        "csv/firms.csv, sheet firms, row {}, column survey_date: {} is outside the survey "
        "dates of round 2023Q1, 2021-12-31 to 2024-03-31 (survey_date_window: 366 days before "
        "the round begins, 366 days after it ends)"
    )
    assert records(run, "survey_date_window") == [
        ("csv/firms.csv", "firms", row, "survey_date", day, message.format(row, day))
        for row, day in ((3, "2021-12-30"), (5, "2024-04-01"))
    ]


def test_the_survey_window_is_the_methodology_setting(tmp_path):
    window = "survey_date_window:\n  days_before_round: 10\n  days_after_round: 5\n"
    methodology = _methodology(tmp_path, window)
    # 10 days before 2023-01-01 is 2022-12-22; 5 days after 2023-03-31 is 2023-04-05
    dates = ["2022-12-22", "2022-12-21", "2023-04-05", "2023-04-06"]
    run = validated(tmp_path, _dated_round(tmp_path, dates), methodology=methodology)
    assert sorted(accepted(run, "firms")["firm_id"]) == ["F001", "F003"]
    assert [record[4] for record in records(run, "survey_date_window")] == [
        "2022-12-21",
        "2023-04-06",
    ]
    assert records(run, "survey_date_window")[0][5].endswith(
        "2022-12-22 to 2023-04-05 (survey_date_window: 10 days before the round begins, "
        "5 days after it ends)"
    )


@pytest.mark.parametrize(
    ("window", "complaint"),
    [
        ("survey_date_window:\n  days_before_round: -1\n", "at least 0"),
        ("survey_date_window:\n  days_before_round: 1.5\n", "whole number"),
        ("survey_date_window:\n  days_after_round: .nan\n", "finite number"),
        ("survey_date_window:\n  days_after_round: 1.0e+9\n", "at most 36525"),
        ("survey_date_window:\n  days_around: 3\n", "is not a setting"),
        ("survey_date_window: 30\n", "must be a mapping"),
    ],
)
def test_a_bad_survey_window_is_refused(tmp_path, window, complaint):
    with pytest.raises(ThioError, match=complaint):
        load_methodology(_methodology(tmp_path, window))


def test_a_methodology_without_the_window_uses_the_defaults(tmp_path):
    methodology = load_methodology(_methodology(tmp_path, ""))
    assert methodology.survey_date_window == (366, 366)


# ---------------------------------------------------------------- exact duplicate rows


DUPLICATES = [
    ("duplicate_rows/items.csv", "items", 5, "F001",
     "duplicate_rows/items.csv, sheet items, row 5: an exact duplicate of row 4, collapsed "
     "into it"),
    ("duplicate_rows/sota.csv", "sota", 40, "F001",
     "duplicate_rows/sota.csv, sheet sota, row 40: an exact duplicate of row 2, collapsed "
     "into it"),
    ("duplicate_rows/sota.csv", "sota", 41, "F001",
     "duplicate_rows/sota.csv, sheet sota, row 41: an exact duplicate of row 3, collapsed "
     "into it"),
]  # fmt: skip


def test_each_collapsed_row_is_listed_with_the_row_it_repeats(tmp_path):
    run = validated(tmp_path, BAD / "duplicate_rows")
    frame = run["quarantine"]
    listed = frame[frame["rule"] == "duplicate_row"]
    assert (
        list(
            listed[["_file", "sheet", "_row", "firm_id", "message"]].itertuples(
                index=False, name=None
            )
        )
        == DUPLICATES
    )
    assert listed["column_name"].isna().all() and listed["value"].isna().all()
    # listed, not quarantined: no count, rule, share or console line changes
    validation = run["validation"]
    assert validation["n_quarantine_records"] == 0
    assert validation["rules"] == {}
    assert validation["quarantine_share"] == 0.0
    assert validation["reconciled"] is True
    assert console_messages(run["work"] / "quarantine.parquet") == []
    sheets = {row["file_name"]: row for row in run["rows"] if row["sheet"] is None}
    assert [
        (name, row["rows_read"], row["rows_accepted"], row["rows_quarantined"],
         row["rows_duplicate"])
        for name, row in sorted(sheets.items())
    ] == [
        ("duplicate_rows/ahp.csv", 12, 12, 0, 0),
        ("duplicate_rows/firms.csv", 2, 2, 0, 0),
        ("duplicate_rows/items.csv", 9, 8, 0, 1),
        ("duplicate_rows/sota.csv", 40, 38, 0, 2),
    ]  # fmt: skip


def test_duplicates_across_files_name_the_other_file(tmp_path):
    run = validated(tmp_path, BAD / "conflicting_firm")
    listed = run["quarantine"][run["quarantine"]["rule"] == "duplicate_row"]
    assert len(listed) == 29  # west.xlsx's F002 rows but its firms row
    assert listed["message"].iloc[0] == (
        "conflicting_firm/west.xlsx, sheet items, row 2: an exact duplicate of row 6 "
        "(conflicting_firm/east.xlsx, sheet items), collapsed into it"
    )
    # counted as before: firm F002 (1 of 21) has problems, its 30 rows of east.xlsx and the
    # firms row of west.xlsx are quarantined (31 records)
    assert run["validation"]["n_firms_with_problems"] == 1
    assert run["validation"]["n_quarantine_records"] == 31


def test_meta_quarantine_and_thio_quarantine_list_the_duplicates_apart(tmp_path):
    home = tmp_path / "home"
    inputs = [BAD / "duplicate_rows"]
    run = start_run(ROUND_ID, [str(path) for path in inputs], str(home), None)
    work = Path(run["work_dir"])
    ingest = ingest_inputs(inputs, ROUND_ID, home, work)
    validation = validate_round(work, ROUND_ID, run_methodology(run))
    compute = build_compute_db(
        work / "accepted", run_methodology(run), work / "compute.duckdb", ROUND_ID
    )
    report = publish_run(run, ingest, validation, compute)
    assert report["publication"]["status"] == "published"
    assert report["messages"] == [message for *_, message in DUPLICATES]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select file_name, sheet, row_number, firm_id, message from meta.quarantine "
            "where rule = 'duplicate_row' order by sheet, row_number"
        ).fetchall()
        reconciled = con.execute(
            "select count(*) from meta.input_sheets where rows_read = rows_accepted "
            "+ rows_quarantined + rows_duplicate"
        ).fetchone()[0]
    assert rows == DUPLICATES
    assert reconciled == 4
    found, listed = round_quarantine(home, ROUND_ID)
    lines = quarantine_lines(found, listed)
    assert lines[0].endswith(": 0 quarantined rows, 0 problems")
    assert lines[1:] == [
        "3 exact duplicate rows collapsed into the rows they repeat (not quarantined):",
        *[f"{message} [duplicate_row]" for *_, message in DUPLICATES],
    ]
    # nothing for the enumerators to fix: the review workbook holds no duplicate
    assert review_rows(home, found, listed) == {}


def test_quarantine_parquet_keeps_its_schema(tmp_path):
    run = validated(tmp_path, BAD / "duplicate_rows")
    schema = pq.read_schema(run["work"] / "quarantine.parquet")
    assert [field.name for field in schema] == [
        "_file", "_file_sha256", "_sheet", "_row", "sheet", "column_name", "value", "rule",
        "message", "firm_id",
    ]  # fmt: skip
