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
from thio.ingest import ingest_inputs


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
