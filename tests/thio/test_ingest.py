"""thio.ingest: archive, read, reject; raw frames with provenance."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.fixtures.rounds import ROUND_ID, good_round, write_csv, write_xlsx
from thio.errors import ThioError
from thio.ingest import _expand_inputs, _reading_order, ingest_inputs


def ingest(tmp_path: Path, *inputs: Path, round_id: str = ROUND_ID) -> dict:
    return ingest_inputs(list(inputs), round_id, tmp_path / "home", tmp_path / "work")


def raw(tmp_path: Path, sheet: str) -> pd.DataFrame:
    return pd.read_parquet(tmp_path / "work" / "raw" / f"{sheet}.parquet")


def test_worked_example_workbook(tmp_path, worked_example):
    source = worked_example / "c01_worked_example.xlsx"
    result = ingest(tmp_path, source)
    (record,) = result["files"]
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert record["file_name"] == "c01_worked_example.xlsx"
    assert record["sha256"] == digest
    assert record["bytes"] == source.stat().st_size
    assert record["status"] == "read" and record["message"] == ""
    assert record["sheets"] == ["firms", "items", "sota", "ahp"]
    assert record["rows_read"] == {"firms": 3, "items": 15, "sota": 72, "ahp": 30}
    assert result["ok"] is True and result["missing_sheets"] == []
    archived = tmp_path / "home" / "raw" / ROUND_ID / f"{digest}.xlsx"
    assert record["archived_as"] == f"raw/{ROUND_ID}/{digest}.xlsx"
    assert archived.read_bytes() == source.read_bytes()
    assert json.loads((tmp_path / "work" / "ingest.json").read_text()) == result

    firms = raw(tmp_path, "firms")
    assert firms["_row"].tolist() == [2, 3, 4]
    assert set(firms["_file"]) == {"c01_worked_example.xlsx"}
    assert set(firms["_file_sha256"]) == {digest}
    assert set(firms["_sheet"]) == {"firms"}
    assert firms["survey_date"].tolist() == ["2023-01-11"] * 3  # Excel date cell -> ISO date
    assert firms["sample_weight"].isna().all()  # a contract column the file lacks
    items = raw(tmp_path, "items")
    assert items["weight"].tolist()[:2] == ["1", "3"]
    assert pd.isna(items["weight"].iloc[2])  # empty cell -> null
    for sheet in ("weights", "programs"):  # absent optional sheets: empty, with columns
        frame = raw(tmp_path, sheet)
        assert len(frame) == 0 and "_row" in frame.columns


def test_worked_example_csv_folder(tmp_path, worked_example):
    result = ingest(tmp_path, worked_example / "csv")
    names = [record["file_name"] for record in result["files"]]
    assert names == ["csv/ahp.csv", "csv/firms.csv", "csv/items.csv", "csv/sota.csv"]
    assert result["rows_read"] == {
        "firms": 3, "items": 15, "sota": 72, "ahp": 30, "weights": 0, "programs": 0
    }  # fmt: skip
    ahp = raw(tmp_path, "ahp")
    assert ahp["_file"].iloc[0] == "csv/ahp.csv" and ahp["_sheet"].iloc[0] == "ahp"
    assert ahp["_row"].tolist() == list(range(2, 32))
    assert ahp["panel_id"].isna().all()
    assert ahp["value"].iloc[17] == "1/2"
    for record in result["files"]:
        assert (tmp_path / "home" / record["archived_as"]).name == f"{record['sha256']}.csv"


@pytest.mark.parametrize("round_id", ["2023q1", "2023Q5", "23Q1", "../2023Q1", "2023Q1/x", ""])
def test_round_id_is_checked_before_any_path_is_built(tmp_path, worked_example, round_id):
    with pytest.raises(ThioError, match="is not YYYY or YYYYQn"):
        ingest(tmp_path, worked_example / "csv", round_id=round_id)
    assert not (tmp_path / "home").exists()


def test_annual_round_id(tmp_path, worked_example):
    assert ingest(tmp_path, worked_example / "csv", round_id="2023")["ok"]


def test_missing_input_path(tmp_path):
    with pytest.raises(ThioError, match="no such file or folder"):
        ingest(tmp_path, tmp_path / "nope.xlsx")


def test_zero_byte_workbook_rejected_and_archived(tmp_path):
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    result = ingest(tmp_path, empty)
    (record,) = result["files"]
    assert record["status"] == "rejected"
    assert record["message"] == "empty.xlsx: the file is empty (0 bytes)"
    assert record["sheets"] == [] and record["rows_read"] == {}
    assert (tmp_path / "home" / record["archived_as"]).read_bytes() == b""
    assert result["ok"] is False
    assert result["missing_sheets"] == ["firms", "items", "sota"]


def test_csv_renamed_to_xlsx_is_detected_by_content(tmp_path, worked_example):
    renamed = tmp_path / "firms.xlsx"
    shutil.copyfile(worked_example / "csv" / "firms.csv", renamed)
    (record,) = ingest(tmp_path, renamed)["files"]
    assert record["status"] == "rejected"
    assert record["message"] == (
        "firms.xlsx: not an Excel workbook; the content is text "
        "(a CSV file renamed to .xlsx? name it .csv, after its sheet)"
    )
    assert record["archived_as"].endswith(".bin")


def test_corrupt_zip_is_rejected_with_one_line(tmp_path, worked_example):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes((worked_example / "c01_worked_example.xlsx").read_bytes()[:3000])
    (record,) = ingest(tmp_path, broken)["files"]
    assert record["status"] == "rejected"
    assert record["message"].startswith("broken.xlsx: cannot be read as a workbook")
    assert "\n" not in record["message"]


def test_a_zip_that_is_not_a_workbook(tmp_path):
    other = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("a.txt", "hello")
    (record,) = ingest(tmp_path, other)["files"]
    assert record["status"] == "rejected"
    assert record["message"].startswith("photos.xlsx: cannot be read as a workbook")


def test_missing_required_column_rejects_the_file(tmp_path):
    round_ = good_round(1)
    for row in round_["items"]:
        del row["ul"]
    (record,) = ingest(tmp_path, write_xlsx(round_, tmp_path / "r.xlsx"))["files"]
    assert record["status"] == "rejected"
    assert record["message"] == (
        "r.xlsx, sheet items: required column ul missing "
        "(the header has: firm_id, component, item_id, item_name, weight, ll)"
    )


def test_missing_required_column_in_csv(tmp_path):
    round_ = good_round(1)
    for row in round_["sota"]:
        del row["score"]
        del row["criterion"]
    result = ingest(tmp_path, write_csv(round_, tmp_path / "east"))
    record = next(r for r in result["files"] if r["file_name"] == "east/sota.csv")
    assert record["status"] == "rejected"
    assert record["message"].startswith(
        "east/sota.csv, sheet sota: required columns criterion, score"
    )
    assert result["ok"] is False and result["missing_sheets"] == ["sota"]


def test_ahp_needs_a_scope_column(tmp_path):
    round_ = good_round(1)
    for row in round_["ahp"]:
        del row["firm_id"], row["panel_id"]
    (record,) = ingest(tmp_path, write_xlsx(round_, tmp_path / "r.xlsx"))["files"]
    assert record["status"] == "rejected"
    assert record["message"] == (
        "r.xlsx, sheet ahp: needs a firm_id or a panel_id column (the scope)"
    )


def test_round_split_over_files_needs_required_sheets_only_as_a_whole(tmp_path):
    round_ = good_round(2)
    first = write_xlsx({"firms": round_["firms"], "items": round_["items"]}, tmp_path / "a.xlsx")
    second = write_xlsx({"sota": round_["sota"]}, tmp_path / "b.xlsx")
    result = ingest(tmp_path, first, second)
    assert result["ok"] is True
    assert [r["sheets"] for r in result["files"]] == [["firms", "items"], ["sota"]]
    only_first = ingest_inputs([first], ROUND_ID, tmp_path / "home", tmp_path / "work2")
    assert only_first["ok"] is False and only_first["missing_sheets"] == ["sota"]


def test_headers_and_sheet_names_case_insensitive_unknowns_reported(tmp_path):
    round_ = good_round(1)
    round_["Firms "] = [
        {f" {name.upper()} ": value for name, value in row.items()} | {"Remark": "x"}
        for row in round_.pop("firms")
    ]
    round_["notes"] = [{"text": "hello"}]
    result = ingest(tmp_path, write_xlsx(round_, tmp_path / "r.xlsx"))
    (record,) = result["files"]
    assert record["status"] == "read"
    assert "firms" in record["sheets"]
    assert record["unknown_sheets"] == ["notes"]
    assert record["unknown_columns"] == {"firms": ["remark"]}
    firms = raw(tmp_path, "firms")
    assert firms["firm_id"].tolist() == ["F001"]
    assert firms["_sheet"].tolist() == ["Firms "]


def test_whitespace_stripped_empty_and_blank_cells_null(tmp_path):
    round_ = good_round(1)
    round_["firms"][0]["firm_name"] = "  Usaha  Maju \t"
    round_["firms"][0]["enumerator"] = "   "
    round_["items"][0]["item_name"] = ""
    ingest(tmp_path, write_csv(round_, tmp_path / "csv"))
    firms = raw(tmp_path, "firms")
    assert firms["firm_name"].iloc[0] == "Usaha  Maju"
    assert pd.isna(firms["enumerator"].iloc[0])
    assert pd.isna(raw(tmp_path, "items")["item_name"].iloc[0])


def test_blank_rows_dropped_but_row_numbers_kept(tmp_path):
    round_ = good_round(1)
    items = round_["items"]
    round_["items"] = [items[0], {name: None for name in items[0]}, *items[1:]]
    ingest(tmp_path, write_csv(round_, tmp_path / "csv"))
    frame = raw(tmp_path, "items")
    assert len(frame) == 4
    assert frame["_row"].tolist() == [2, 4, 5, 6]


def test_workbook_header_below_title_rows(tmp_path):
    round_ = good_round(1)
    path = write_xlsx(round_, tmp_path / "r.xlsx", header_row=2)
    ingest(tmp_path, path)
    assert raw(tmp_path, "firms")["_row"].tolist() == [4]
    assert raw(tmp_path, "items")["_row"].tolist() == [4, 5, 6, 7]


def test_workbook_title_row_above_header(tmp_path):
    import xlsxwriter

    path = tmp_path / "titled.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("firms")
    sheet.write(0, 0, "Survey of small industries, Kota Bontang")
    rows = good_round(2)["firms"]
    sheet.write_row(2, 0, list(rows[0]))
    for offset, row in enumerate(rows):
        sheet.write_row(3 + offset, 0, list(row.values()))
    workbook.close()
    ingest(tmp_path, path)
    firms = raw(tmp_path, "firms")
    assert firms["firm_id"].tolist() == ["F001", "F002"]
    assert firms["_row"].tolist() == [4, 5]


def test_semicolon_csv_with_decimal_comma_kept_as_text(tmp_path):
    round_ = good_round(1)
    round_["sota"][0]["score"] = "7,5"
    ingest(tmp_path, write_csv(round_, tmp_path / "csv", delimiter=";"))
    sota = raw(tmp_path, "sota")
    assert sota["score"].iloc[0] == "7,5"
    assert sota["criterion"].iloc[0] == "T.op_complexity"


def test_ragged_csv_row_rejects_the_file(tmp_path):
    folder = write_csv(good_round(1), tmp_path / "csv")
    path = folder / "items.csv"
    lines = path.read_text().splitlines()
    lines[2] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    result = ingest(tmp_path, folder)
    record = next(r for r in result["files"] if r["file_name"] == "csv/items.csv")
    assert record["status"] == "rejected"
    assert record["message"].startswith("csv/items.csv: row 3 has 8 fields where the header has 7")


def test_same_content_twice_is_read_once(tmp_path, worked_example):
    source = worked_example / "c01_worked_example.xlsx"
    copy = tmp_path / "copy.xlsx"
    shutil.copyfile(source, copy)
    result = ingest(tmp_path, source, copy)
    assert [r["status"] for r in result["files"]] == ["read", "rejected"]
    assert result["files"][1]["message"] == (
        "copy.xlsx: the same content as c01_worked_example.xlsx, read once"
    )
    assert result["rows_read"]["firms"] == 3


def test_archive_is_kept_when_already_there(tmp_path, worked_example):
    source = worked_example / "c01_worked_example.xlsx"
    first = ingest(tmp_path, source)
    archived = tmp_path / "home" / first["files"][0]["archived_as"]
    stamp = archived.stat().st_mtime_ns
    ingest_inputs([source], ROUND_ID, tmp_path / "home", tmp_path / "work-again")
    assert archived.stat().st_mtime_ns == stamp
    assert len(list(archived.parent.iterdir())) == 1


def test_folder_skips_other_files(tmp_path):
    folder = write_csv(good_round(1), tmp_path / "csv")
    (folder / "readme.txt").write_text("notes")
    (folder / ".DS_Store").write_bytes(b"\x00")
    (folder / "extra.csv").write_text("a,b\n1,2\n")
    result = ingest(tmp_path, folder)
    assert result["skipped"] == [
        {"path": "csv/readme.txt", "reason": "neither a CSV file nor a workbook"}
    ]
    extra = next(r for r in result["files"] if r["file_name"] == "csv/extra.csv")
    assert extra["status"] == "read" and extra["unknown_sheets"] == ["extra"]
    assert extra["sheets"] == []


def test_raw_frames_read_back_as_plain_text(tmp_path, worked_example):
    ingest(tmp_path, worked_example / "c01_worked_example.xlsx")
    for sheet in ("firms", "sota", "weights"):
        schema = pq.read_schema(tmp_path / "work" / "raw" / f"{sheet}.parquet")
        assert {str(field.type) for field in schema if field.name != "_row"} == {"string"}
        assert str(schema.field("_row").type) == "int64"


def test_cells_equal_once_stripped_are_one_value(tmp_path):
    round_ = good_round(2)
    round_["items"][0]["component"] = " T"
    round_["items"][1]["component"] = "H  "
    round_["items"][2]["item_name"] = "   "
    ingest(tmp_path, write_csv(round_, tmp_path / "csv"))
    items = raw(tmp_path, "items")
    assert items["component"].tolist() == ["T", "H", "I", "O"] * 2
    assert pd.isna(items["item_name"].iloc[2])
    assert items["component"].nunique() == 4


def test_windows_1252_past_the_sampled_head(tmp_path):
    """Invalid UTF-8 after the first 64 KiB: the file is read again as Windows-1252."""
    row = good_round(1)["firms"][0]
    header = ",".join(row)
    lines = [",".join(str(value) for value in (row | {"firm_id": f"F{n:05d}"}).values())
             for n in range(1500)]  # fmt: skip
    lines.append(",".join(str(v) for v in (row | {"firm_name": "Kopi Caf\u00e9"}).values()))
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "firms.csv").write_bytes(("\n".join([header, *lines]) + "\n").encode("cp1252"))
    (record,) = ingest(tmp_path, folder)["files"]
    assert record["status"] == "read" and record["rows_read"] == {"firms": 1501}
    assert raw(tmp_path, "firms")["firm_name"].iloc[-1] == "Kopi Caf\u00e9"


# ---------------------------------------------------------------- Indonesian and Excel realities
# (tests/fixtures/bad/, issue 3 part 2: each fixture read through ingest and validation)

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"


class Checked:
    """A fixture of tests/fixtures/bad/ ingested and validated into tmp_path."""

    def __init__(self, tmp_path: Path, *names: str) -> None:
        from thio.methodology import load_methodology
        from thio.rounds import input_file_rows
        from thio.validation import validate_round

        self.work = tmp_path / "work"
        self.ingest = ingest(tmp_path, *(BAD / name for name in names))
        self.validation = validate_round(self.work, ROUND_ID, load_methodology())
        self.quarantine = pd.read_parquet(self.work / "quarantine.parquet")
        self.rows = input_file_rows({"run_id": "r", "round_id": ROUND_ID}, self.ingest,
                                    self.validation)  # fmt: skip

    def accepted(self, sheet: str) -> pd.DataFrame:
        return pd.read_parquet(self.work / "accepted" / f"{sheet}.parquet")

    def counts(self) -> dict[str, tuple[int, int, int, int]]:
        """file (and file/sheet) -> (read, accepted, quarantined, duplicate)."""
        return {
            row["file_name"] + (f"/{row['sheet']}" if row["sheet"] else ""): (
                row["rows_read"], row["rows_accepted"], row["rows_quarantined"],
                row["rows_duplicate"],
            )
            for row in self.rows
        }  # fmt: skip

    def all_accepted(self, rows: int) -> bool:
        return (
            self.validation["n_quarantine_records"] == 0
            and sum(count["rows_accepted"] for count in self.validation["sheets"].values()) == rows
        )


def test_decimal_comma_in_a_semicolon_csv(tmp_path):
    checked = Checked(tmp_path, "decimal_comma_semicolon")
    assert checked.all_accepted(60)
    sota = checked.accepted("sota")
    assert sota.loc[sota["criterion"] == "T.precision", "score"].tolist() == [7.5, 6.0]
    assert checked.accepted("items")["weight"].tolist()[:2] == [1.0, 1.5]


def test_thousands_dots(tmp_path):
    checked = Checked(tmp_path, "thousands_dots")
    assert checked.all_accepted(60)
    firms = checked.accepted("firms")
    assert firms["workers"].tolist() == [1234, 12500]
    assert firms["sample_weight"].tolist() == [1234.5, 2000.25]


@pytest.mark.parametrize(
    ("name", "firm_name"),
    [("tab_utf8_bom", "Batik Pekalongan Jaya"), ("windows_1252", "Kopi Caf\u00e9"),
     ("utf16", "Kopi Caf\u00e9")],
)  # fmt: skip
def test_csv_encodings_and_delimiters(tmp_path, name, firm_name):
    checked = Checked(tmp_path, name)
    assert checked.all_accepted(60)
    firms = checked.accepted("firms")
    assert firms["firm_name"].iloc[0] == firm_name
    assert firms["firm_id"].tolist() == ["F001", "F002"]  # the first header cell, BOM-free
    assert firms["_row"].tolist() == [2, 3]


def test_utf32_csv_is_rejected_naming_the_encoding(tmp_path):
    (record,) = ingest(tmp_path, BAD / "utf32")["files"]
    assert record["status"] == "rejected"
    assert record["message"] == (
        "utf32/firms.csv: UTF-32 text, which is not read; save the file as CSV UTF-8"
    )


def test_utf16_without_a_byte_order_mark(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    text = (BAD / "utf16" / "firms.csv").read_bytes().decode("utf-16")
    (folder / "firms.csv").write_bytes(text.encode("utf-16-be"))
    (record,) = ingest(tmp_path, folder)["files"]
    assert record["status"] == "read" and record["rows_read"] == {"firms": 2}
    assert raw(tmp_path, "firms")["firm_name"].iloc[0] == "Kopi Caf\u00e9"


def test_excel_serial_and_day_first_dates(tmp_path):
    checked = Checked(tmp_path, "dates.xlsx")
    firms = raw(tmp_path, "firms")
    assert firms["survey_date"].tolist() == ["44937", "11/01/2023"]
    assert checked.all_accepted(60)
    days = checked.accepted("firms")["survey_date"].tolist()
    assert [str(day) for day in days] == ["2023-01-11", "2023-01-11"]


def test_numbers_stored_as_text(tmp_path):
    checked = Checked(tmp_path, "numbers_as_text.xlsx")
    assert checked.all_accepted(60)
    items = checked.accepted("items")
    assert items["ll"].tolist()[:2] == [2, 2] and items["weight"].tolist()[:2] == [1.0, 1.0]


@pytest.mark.parametrize("name", ["title_block.xlsx", "title_block_csv"])
def test_title_block_above_the_header(tmp_path, name):
    checked = Checked(tmp_path, name)
    assert checked.all_accepted(60)
    assert checked.accepted("firms")["_row"].tolist() == [4, 5]
    assert checked.accepted("items")["_row"].tolist() == list(range(4, 12))


def test_merged_cells_fill_their_range(tmp_path):
    checked = Checked(tmp_path, "merged_cells.xlsx")
    assert checked.all_accepted(60)
    items = raw(tmp_path, "items")
    assert items["firm_id"].tolist() == ["F001"] * 4 + ["F002"] * 4
    assert items["_row"].tolist() == list(range(2, 10))


def test_hidden_sheet_is_ignored_with_a_note(tmp_path):
    checked = Checked(tmp_path, "hidden_sheet.xlsx")
    (record,) = checked.ingest["files"]
    assert record["sheets"] == ["firms", "items", "sota", "ahp"]
    assert record["notes"] == [
        "hidden_sheet.xlsx, sheet weights: a hidden sheet, ignored (unhide it to have it read)"
    ]
    assert checked.all_accepted(60)
    assert checked.rows[0]["notes"] == record["notes"][0]


def test_error_cells_quarantine_their_row(tmp_path):
    checked = Checked(tmp_path, "error_cells.xlsx")
    cells = checked.quarantine[checked.quarantine["rule"] == "error_cell"]
    assert cells[["sheet", "_row", "column_name", "value"]].values.tolist() == [
        ["firms", 2, "workers", "#DIV/0!"],
        ["sota", 3, "score", "#N/A"],
    ]
    assert cells["message"].tolist() == [
        "error_cells.xlsx, sheet firms, row 2, column workers: #DIV/0! is an Excel error "
        "value (a formula that failed); the row is quarantined",
        "error_cells.xlsx, sheet sota, row 3, column score: #N/A is an Excel error value "
        "(a formula that failed); the row is quarantined",
    ]
    # no second record (a type failure) for the same cells
    assert len(checked.quarantine[checked.quarantine["column_name"].isin(["workers"])]) == 1
    assert checked.validation["excluded_firms"][0]["firm_id"] == "F001"
    assert checked.counts()["error_cells.xlsx"] == (630, 600, 30, 0)


def test_csv_error_values_quarantine_their_row(tmp_path):
    round_ = good_round(1)
    round_["firms"][0]["enumerator"] = "#N/A"  # Excel writes an error cell so into a CSV
    folder = write_csv(round_, tmp_path / "csv")
    from thio.methodology import load_methodology
    from thio.validation import validate_round

    ingest(tmp_path, folder)
    result = validate_round(tmp_path / "work", ROUND_ID, load_methodology())
    assert result["messages"][0] == (
        "csv/firms.csv, sheet firms, row 2, column enumerator: #N/A is an Excel error value "
        "(a formula that failed); the row is quarantined"
    )


def test_formula_without_cached_value_quarantines_its_row(tmp_path):
    checked = Checked(tmp_path, "no_cached_value.xlsx")
    (record,) = checked.quarantine[checked.quarantine["rule"] == "no_cached_value"].to_dict(
        "records"
    )
    assert (record["sheet"], record["_row"], record["column_name"], record["value"]) == (
        "items",
        2,
        "weight",
        "=2*A1",
    )
    assert record["message"] == (
        "no_cached_value.xlsx, sheet items, row 2, column weight: formula =2*A1 has no saved "
        "value (the workbook was written without calculating it; open it in Excel, save it "
        "and send it again)"
    )
    assert checked.counts()["no_cached_value.xlsx"] == (630, 600, 30, 0)


def test_formula_with_cached_value_uses_it(tmp_path):
    checked = Checked(tmp_path, "formula_cached.xlsx")
    assert checked.all_accepted(60)
    assert checked.accepted("firms")["workers"].tolist() == [12, 12]
    assert checked.accepted("items")["ul"].tolist()[:2] == [4, 4]


@pytest.mark.parametrize("name", ["trailing_empty.xlsx", "trailing_empty_csv"])
def test_trailing_empty_rows_are_dropped(tmp_path, name):
    checked = Checked(tmp_path, name)
    assert checked.all_accepted(60)
    assert [record["rows_read"] for record in checked.ingest["files"]][-1] in (
        {"firms": 2, "items": 8, "sota": 38, "ahp": 12},
        {"sota": 38},
    )
    assert raw(tmp_path, "sota")["_row"].tolist() == list(range(2, 40))


def test_an_empty_ragged_row_amid_the_data_keeps_the_row_numbers(tmp_path):
    folder = write_csv(good_round(1), tmp_path / "csv")
    path = folder / "items.csv"
    lines = path.read_text().splitlines()
    lines.insert(2, ",,")  # 3 fields where the header has 7
    path.write_text("\n".join(lines) + "\n")
    ingest(tmp_path, folder)
    assert raw(tmp_path, "items")["_row"].tolist() == [2, 4, 5, 6]


def test_exact_duplicate_rows_are_collapsed_and_counted(tmp_path):
    checked = Checked(tmp_path, "duplicate_rows")
    counts = checked.counts()
    assert counts["duplicate_rows/items.csv"] == (9, 8, 0, 1)
    assert counts["duplicate_rows/items.csv/items"] == (9, 8, 0, 1)
    assert counts["duplicate_rows/sota.csv"] == (40, 38, 0, 2)
    for read, accepted, quarantined, duplicate in counts.values():
        assert read == accepted + quarantined + duplicate
    assert checked.validation["duplicates"] == [
        "duplicate_rows/items.csv, sheet items, row 5: an exact duplicate of row 4, collapsed "
        "into it",
        "duplicate_rows/sota.csv, sheet sota, row 40: an exact duplicate of row 2, collapsed "
        "into it",
        "duplicate_rows/sota.csv, sheet sota, row 41: an exact duplicate of row 3, collapsed "
        "into it",
    ]
    assert checked.validation["sheets"]["sota"] == {
        "rows_read": 40, "rows_accepted": 38, "rows_quarantined": 0, "rows_duplicate": 2
    }  # fmt: skip
    assert checked.validation["reconciled"] is True


def test_round_split_over_two_workbooks_each_firm_in_one(tmp_path):
    checked = Checked(tmp_path, "split_round")
    assert checked.all_accepted(60)
    firms = checked.accepted("firms")
    assert list(zip(firms["firm_id"], firms["_file"], strict=True)) == [
        ("F001", "split_round/east.xlsx"), ("F002", "split_round/west.xlsx")
    ]  # fmt: skip


def test_the_same_firm_with_conflicting_attributes_in_two_files(tmp_path):
    checked = Checked(tmp_path, "conflicting_firm")
    firms = checked.quarantine[checked.quarantine["sheet"] == "firms"]
    assert firms["message"].tolist() == [
        "conflicting_firm/east.xlsx, sheet firms, row 3, column firm_id: firm F002 appears "
        "more than once (also conflicting_firm/west.xlsx, sheet firms, row 2)",
        "conflicting_firm/west.xlsx, sheet firms, row 2, column firm_id: firm F002 appears "
        "more than once (also conflicting_firm/east.xlsx, sheet firms, row 3)",
    ]
    counts = checked.counts()
    assert counts["conflicting_firm/east.xlsx"] == (630, 600, 30, 0)
    assert counts["conflicting_firm/west.xlsx"] == (30, 0, 1, 29)
    assert counts["conflicting_firm/west.xlsx/sota"] == (19, 0, 0, 19)
    assert "F002" not in set(checked.accepted("firms")["firm_id"])


def test_the_same_bytes_twice_are_counted_once(tmp_path):
    checked = Checked(tmp_path, "same_file_twice")
    assert checked.counts() == {
        "same_file_twice/a.xlsx": (60, 60, 0, 0),
        "same_file_twice/a.xlsx/firms": (2, 2, 0, 0),
        "same_file_twice/a.xlsx/items": (8, 8, 0, 0),
        "same_file_twice/a.xlsx/sota": (38, 38, 0, 0),
        "same_file_twice/a.xlsx/ahp": (12, 12, 0, 0),
        "same_file_twice/b.xlsx": (0, 0, 0, 0),
    }
    assert checked.ingest["files"][1]["message"] == (
        "same_file_twice/b.xlsx: the same content as same_file_twice/a.xlsx, read once"
    )


@pytest.mark.parametrize("name", ["error_cells.xlsx", "merged_cells.xlsx", "title_block.xlsx"])
def test_other_formats_get_the_same_fixes_from_fastexcel_and_calamine(name):
    """.xls and .ods sheets are read with fastexcel's cell errors and calamine's merged
    ranges; on an .xlsx both ways must find the same cells (the XML scan is .xlsx only)."""
    import fastexcel

    from thio.ingest import _load_grid

    path = BAD / name
    reader = fastexcel.read_excel(path)
    for sheet in ("firms", "items", "sota"):
        grid, fixes = _load_grid(reader, path, "xlsx", sheet)
        other_grid, other = _load_grid(reader, path, "ods", sheet)
        assert other_grid.equals(grid)
        assert sorted(other.cells) == sorted(fixes.cells)
        assert sorted(other.merges) == sorted(fixes.merges)
    assert _load_grid(reader, path, "ods", "firms")[1].cells == (
        [(1, 8, "#DIV/0!", "error_cell")] if name == "error_cells.xlsx" else []
    )


def test_a_quoted_line_break_is_one_cell_and_the_next_rows_keep_their_numbers(tmp_path):
    round_ = good_round(2)
    round_["firms"][0]["firm_name"] = "Usaha\nF001"  # Excel writes an Alt+Enter so, quoted
    folder = write_csv(round_, tmp_path / "csv")
    assert '"Usaha\nF001"' in (folder / "firms.csv").read_text()
    ingest(tmp_path, folder)
    firms = pq.read_table(tmp_path / "work" / "raw" / "firms.parquet").to_pandas()
    assert list(firms["firm_name"]) == ["Usaha\nF001", "Usaha F002"]
    assert list(firms["_row"]) == [2, 3]
    # and a file without any quote is read the fast way, with the same rows
    items = pq.read_table(tmp_path / "work" / "raw" / "items.parquet").to_pandas()
    assert '"' not in (folder / "items.csv").read_text()
    assert len(items) == 8 and list(items["_row"])[:2] == [2, 3]


def test_files_read_one_at_a_time_combine_as_ingest_inputs_reads_them(tmp_path):
    from thio.ingest import combine_files, ingest_file, list_input_files

    round_ = good_round(4)
    north = {
        sheet: [r for r in rows if r["firm_id"] in ("F001", "F002")]
        for sheet, rows in round_.items()
    }
    south = {
        sheet: [r for r in rows if r["firm_id"] in ("F003", "F004")]
        for sheet, rows in round_.items()
    }
    inputs = [
        write_xlsx(north, tmp_path / "north.xlsx"),
        write_csv(south, tmp_path / "south"),
        tmp_path / "copy.xlsx",
        tmp_path / "empty.xlsx",
    ]
    shutil.copyfile(inputs[0], inputs[2])  # the same bytes again: read once
    inputs[3].write_bytes(b"")  # rejected
    sequential = ingest_inputs(inputs, ROUND_ID, tmp_path / "home", tmp_path / "one")
    listing = list_input_files([str(path) for path in inputs])
    assert [member["display"] for member in listing["files"]] == [
        "north.xlsx", "south/ahp.csv", "south/firms.csv", "south/items.csv", "south/sota.csv",
        "copy.xlsx", "empty.xlsx",
    ]  # fmt: skip
    parts = [
        ingest_file(member, ROUND_ID, tmp_path / "home", tmp_path / "parts" / str(index))
        for index, member in enumerate(reversed(listing["files"]))  # any order of reading
    ][::-1]
    combined = combine_files(
        parts, listing["skipped"], ROUND_ID, tmp_path / "home", tmp_path / "many"
    )
    assert combined["files"] == sequential["files"]
    assert combined["rows_read"] == sequential["rows_read"] == {
        # 4 firms, one item per component, 5 + 5 + 4 + 5 criteria, 6 AHP pairs each
        "firms": 4, "items": 16, "sota": 76, "ahp": 24, "weights": 0, "programs": 0,
    }  # fmt: skip
    assert [f["status"] for f in combined["files"]] == ["read"] * 5 + ["rejected"] * 2
    assert combined["files"][5]["message"] == "copy.xlsx: the same content as north.xlsx, read once"
    for sheet in ("firms", "items", "sota", "ahp", "weights"):
        one = pq.read_table(tmp_path / "one" / "raw" / f"{sheet}.parquet")
        many = pq.read_table(tmp_path / "many" / "raw" / f"{sheet}.parquet")
        assert many.equals(one), sheet


def test_quoted_line_breaks_across_arrow_blocks_are_read_whole(tmp_path, monkeypatch):
    # every field quoted (as pyarrow and some tools write), a line break in every 997th name,
    # and enough rows (~5 MB) that parsing blocks of 1 MiB fall anywhere
    monkeypatch.setattr("thio.ingest._CSV_BLOCK_BYTES", 1 << 20)
    folder = tmp_path / "csv"
    folder.mkdir()
    lines = ['"round_id","firm_id","firm_name","sector_code","region_code","survey_date"']
    for number in range(100_000):
        name = f"Usaha\n{number}" if number % 997 == 0 else f"Usaha {number}"
        lines.append(f'"{ROUND_ID}","F{number:06d}","{name}","10","6474","2023-01-11"')
    (folder / "firms.csv").write_text("\n".join(lines) + "\n")
    result = ingest(tmp_path, folder)
    assert result["rows_read"]["firms"] == 100_000
    firms = pq.read_table(tmp_path / "work" / "raw" / "firms.parquet").to_pandas()
    assert firms["firm_name"].iloc[997] == "Usaha\n997"
    assert firms["firm_id"].iloc[99_999] == "F099999"
    # row numbers count records, as Excel shows the file (a cell's line break is in its row)
    assert firms["_row"].iloc[998] == 998 + 2


def test_a_csv_folders_biggest_file_is_read_first_and_recorded_in_place(tmp_path):
    first, second = tmp_path / "north", tmp_path / "south"
    for folder, sizes in ((first, {"firms": 30, "items": 50, "sota": 900}), (second, {})):
        folder.mkdir()
        for sheet, size in sizes.items():
            (folder / f"{sheet}.csv").write_bytes(b"x" * size)
    for sheet, size in {"firms": 10, "sota": 400, "weights": 400}.items():  # a tie
        (second / f"{sheet}.csv").write_bytes(b"x" * size)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "firms.csv").write_bytes(b"x" * 10)
    (mixed / "sota.csv").write_bytes(b"x" * 900)
    (mixed / "round.xlsx").write_bytes(b"x" * 20)  # a workbook may hold a sota sheet too
    members, _ = _expand_inputs([first, second, mixed])
    names = [display for _, display, _ in members]
    assert names[:3] == ["north/firms.csv", "north/items.csv", "north/sota.csv"]
    order = _reading_order(members)
    # north: sota first; south: no single biggest file; mixed: a workbook beside it
    assert [names[index] for index in order] == [
        "north/sota.csv",
        "north/firms.csv",
        "north/items.csv",
        "south/firms.csv",
        "south/sota.csv",
        "south/weights.csv",
        "mixed/firms.csv",
        "mixed/round.xlsx",
        "mixed/sota.csv",
    ]


def test_reading_the_biggest_file_first_keeps_the_files_in_input_order(tmp_path):
    folder = tmp_path / "csv"
    write_csv(good_round(), folder)
    result = ingest(tmp_path, folder)
    names = [record["file_name"] for record in result["files"]]
    assert names == sorted(names)  # as the folder lists them, sota.csv not first
    assert "csv/sota.csv" in names and names[0] != "csv/sota.csv"
