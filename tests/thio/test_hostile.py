"""Hostile and broken files (issue 3, part 3): each rejected by ingest with one line naming
the file and why, before a parser opens it; values from a file are data, never code."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tests.fixtures.bad.make_fixtures import write_ole2
from tests.fixtures.rounds import ROUND_ID, good_round, write_xlsx
from thio.containers import declares_dtd
from thio.errors import ThioError
from thio.ingest import ingest_inputs
from thio.methodology import IngestLimits, load_methodology
from thio.validation import validate_round

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
BOMB_LINE = (
    "zip_bomb.xlsx: refused: part xl/worksheets/sheet1.xml is compressed 1,011 to 1, above the "
    "limit of 100 to 1 (ingest_limits.max_compression_ratio; a decompression bomb?)"
)
DOCTYPE_TAIL = (
    "declares a DOCTYPE (XML entities are not accepted in a workbook: an entity bomb or an "
    "external entity?)"
)


def ingest(tmp_path: Path, *inputs: Path, limits: IngestLimits | None = None) -> dict:
    return ingest_inputs(
        list(inputs), ROUND_ID, tmp_path / "home", tmp_path / "work", limits=limits
    )


def rejection(tmp_path: Path, name: str, limits: IngestLimits | None = None) -> str:
    result = ingest(tmp_path, BAD / name, limits=limits)
    (record,) = result["files"]
    assert record["status"] == "rejected"
    assert record["sheets"] == [] and record["rows_read"] == {}
    assert result["ok"] is False
    assert "\n" not in record["message"]
    return record["message"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.xlsx", "empty.xlsx: the file is empty (0 bytes)"),
        ("zero_bytes_csv", "zero_bytes_csv/firms.csv: the file is empty (0 bytes)"),
        (
            "truncated.xlsx",
            "truncated.xlsx: cannot be read as a workbook (corrupt or truncated zip: File is "
            "not a zip file)",
        ),
        (
            "csv_renamed.xlsx",
            "csv_renamed.xlsx: not an Excel workbook; the content is text (a CSV file renamed "
            "to .xlsx? name it .csv, after its sheet)",
        ),
        (
            "encrypted.xlsx",
            "encrypted.xlsx: the workbook is password-protected (encrypted); save it without "
            "a password and send it again",
        ),
        (
            "not_a_workbook.xls",
            "not_a_workbook.xls: cannot be read as a workbook (corrupt or not a spreadsheet: "
            "calamine error: Xls error: Cfb error: Cannot find Workbook stream)",
        ),
        ("zip_bomb.xlsx", BOMB_LINE),
        (
            "billion_laughs.xlsx",
            f"billion_laughs.xlsx: refused: part xl/workbook.xml {DOCTYPE_TAIL}",
        ),
        (
            "external_entity.xlsx",
            f"external_entity.xlsx: refused: part xl/worksheets/sheet1.xml {DOCTYPE_TAIL}",
        ),
    ],
)
def test_each_hostile_file_is_rejected_in_one_line(tmp_path, name, message):
    assert rejection(tmp_path, name) == message


def test_a_corrupt_part_is_rejected_before_calamine_reads_it(tmp_path):
    assert rejection(tmp_path, "corrupt_part.xlsx").startswith(
        "corrupt_part.xlsx: cannot be read as a workbook (part xl/worksheets/sheet1.xml: "
    )


def test_a_rejected_file_is_still_archived_under_its_sha256(tmp_path):
    result = ingest(tmp_path, BAD / "zip_bomb.xlsx")
    (record,) = result["files"]
    archived = tmp_path / "home" / record["archived_as"]
    assert archived.name == f"{record['sha256']}.xlsx"
    assert archived.read_bytes() == (BAD / "zip_bomb.xlsx").read_bytes()


def test_limits_come_from_the_methodology_file(tmp_path):
    assert load_methodology().ingest_limits == IngestLimits(
        max_uncompressed_bytes=1 << 30,
        max_compression_ratio=100.0,
        min_ratio_check_bytes=1 << 20,
        max_zip_members=10_000,
    )
    method = tmp_path / "method.yaml"
    shipped = load_methodology().raw.decode()
    method.write_text(shipped.replace("max_compression_ratio: 100", "max_compression_ratio: 2000"))
    loose = load_methodology(method).ingest_limits
    assert loose.max_compression_ratio == 2000.0
    # the bomb passes the looser ratio and is read (its padding is white space)
    (record,) = ingest(tmp_path, BAD / "zip_bomb.xlsx", limits=loose)["files"]
    assert record["status"] == "read"


def test_the_total_uncompressed_size_and_the_number_of_parts_are_limited(tmp_path):
    workbook = write_xlsx(good_round(1), tmp_path / "r.xlsx")
    with zipfile.ZipFile(workbook) as archive:
        total = sum(info.file_size for info in archive.infolist())
        parts = len(archive.infolist())
    small = IngestLimits(max_uncompressed_bytes=1000)
    (record,) = ingest(tmp_path / "a", workbook, limits=small)["files"]
    assert record["message"] == (
        f"r.xlsx: refused: the workbook would unpack to {total:,} bytes, above the limit of "
        "1,000 (ingest_limits.max_uncompressed_bytes; a decompression bomb?)"
    )
    (record,) = ingest(tmp_path / "b", workbook, limits=IngestLimits(max_zip_members=3))["files"]
    assert record["message"] == (
        f"r.xlsx: refused: the workbook has {parts:,} parts, above the limit of 3 "
        "(ingest_limits.max_zip_members)"
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "ingest_limits: {max_zip_members: 0}",
            r"ingest_limits.max_zip_members must be greater than 0 \(found 0\)",
        ),
        ("ingest_limits: {max_rows: 5}", "ingest_limits.max_rows is not a setting"),
        ("ingest_limits: 7", "ingest_limits must be a mapping"),
    ],
)
def test_bad_limits_in_the_methodology_file(tmp_path, setting, message):
    shipped = load_methodology().raw.decode()
    method = tmp_path / "method.yaml"
    # the shipped file with its ingest_limits block (the indented lines under it) replaced
    method.write_text(re.sub(r"(?m)^ingest_limits:\n(?:  .*\n)+", setting + "\n", shipped))
    with pytest.raises(ThioError, match=message):
        load_methodology(method)


def test_an_ole2_workbook_without_encryption_goes_to_the_reader(tmp_path):
    # a stream named like the encryption ones but not at a directory entry is not enough
    path = write_ole2(tmp_path / "old.xls", ["Workbook"])
    data = bytearray(path.read_bytes())
    name = "EncryptedPackage".encode("utf-16-le")
    data[-200 : -200 + len(name)] = name  # inside a stream, not a directory entry
    path.write_bytes(bytes(data))
    (record,) = ingest(tmp_path, path)["files"]
    assert record["status"] == "rejected"
    assert record["message"].startswith("old.xls: cannot be read as a workbook (corrupt or not")


@pytest.mark.parametrize(
    ("head", "declares"),
    [
        (b'<?xml version="1.0"?><worksheet/>', False),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\r\n<!-- c --><?pi x?> <worksheet>', False),
        (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "b">]><w/>', True),
        (b"<?xml version='1.0'?>\n<!-- <worksheet> -->\n<!doctype w SYSTEM 'x'><w/>", True),
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE w><w/>'.encode("utf-16"), True),
        ('<?xml version="1.0" encoding="UTF-16"?><w/>'.encode("utf-16-le"), False),
        (b"<?xml version='1.0'?><!-- a comment that never ends", True),
        (b"", False),
    ],
)
def test_doctype_detection_reads_the_prolog_only(head, declares):
    assert declares_dtd(head) is declares


def test_a_prolog_longer_than_what_is_read_counts_as_a_doctype():
    assert declares_dtd(b"<?xml version='1.0'?>" + b" " * (1 << 16)) is True


def test_file_names_are_shown_on_one_line_and_never_make_a_path(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    odd = folder / "firms\nsheet;'..\\x.xlsx"
    odd.write_bytes(b"")
    result = ingest(tmp_path, folder)
    (record,) = result["files"]
    assert record["file_name"] == "in/firms?sheet;'..\\x.xlsx"
    assert record["message"] == "in/firms?sheet;'..\\x.xlsx: the file is empty (0 bytes)"
    stored = sorted(path.name for path in (tmp_path / "home" / "raw" / ROUND_ID).iterdir())
    assert stored == [f"{record['sha256']}.bin"]  # the extension from the content, none here


@pytest.mark.parametrize("round_id", ["../2023Q1", "2023Q1/../../x", "2023Q1;drop", "2023Q1\n"])
def test_a_round_id_with_path_characters_is_refused_before_any_path(tmp_path, round_id):
    with pytest.raises(ThioError, match="is not YYYY or YYYYQn"):
        ingest_inputs([BAD / "dates.xlsx"], round_id, tmp_path / "home", tmp_path / "work")
    assert not (tmp_path / "home").exists()


def test_text_that_looks_like_sql_or_a_formula_is_kept_as_data(tmp_path):
    ingest(tmp_path, BAD / "sql_and_formula_text")
    result = validate_round(tmp_path / "work", ROUND_ID, load_methodology())
    assert result["n_quarantine_records"] == 0
    firms = pd.read_parquet(tmp_path / "work" / "accepted" / "firms.parquet")
    assert firms["firm_name"].tolist() == [
        "Robert'); DROP TABLE meta.runs; --",
        '=HYPERLINK("http://example.com","klik")',
    ]
    assert firms["enumerator"].tolist() == ["+cmd|' /C calc'!A0", "@SUM(1+1)"]
    items = pd.read_parquet(tmp_path / "work" / "accepted" / "items.parquet")
    assert items["item_name"].iloc[0] == "'; select * from meta.quarantine; --"
