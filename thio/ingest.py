"""Ingest: read a round's input files into raw text frames, archiving every file as received.

An input is a workbook (``.xlsx``; ``.xlsm``, ``.xls`` and ``.ods`` are read too), a single
CSV file named after its sheet (``firms.csv``), or a folder holding such files (not
recursive; hidden files are skipped, files of other types are listed as skipped). Every
input file is

1. archived byte-for-byte as ``<home>/raw/<round_id>/<sha256>.<ext>`` (``ext`` from the
   detected content, never a name from the input -- a file name is shown in messages with
   its control characters as ``?`` and never makes a path; an existing archive copy is
   kept);
2. checked, if it is a workbook, before any parser opens it (:mod:`thio.containers`): a
   zip package within the ``ingest_limits`` of the methodology file (uncompressed size,
   compression ratio, number of parts: a decompression bomb is refused unread) and without
   a DOCTYPE in any XML part (entity expansion, external entities); an OLE2 file that is
   an encrypted Office file is refused as password-protected, another one is read as a
   legacy ``.xls``;
3. read: the contract sheets are matched case-insensitively (surrounding spaces ignored),
   header names likewise; unknown sheets and columns are ignored and listed in the file's
   record; a hidden (or very hidden) contract sheet is ignored, with a note in the
   record's ``notes``. The header is the first row (of the first ten used rows, or lines)
   holding a column name of the sheet, so a title block above it is tolerated. A CSV file
   is UTF-16 (by its byte-order mark, or the NUL bytes of every other byte), UTF-8 with or
   without BOM, else Windows-1252 (UTF-32 is refused, naming it); its delimiter, ``,``
   ``;`` tab or ``|``, is the one that splits the header into the most contract names --
   ``;`` is what Excel writes where the decimal separator is a comma; quoted line breaks
   are one cell; empty rows with another number of separators than the header (Excel
   leaves them below the data) are dropped, the other rows keeping their line numbers.
   Every cell is kept as text: surrounding whitespace stripped, an empty cell null, a date
   cell ("2023-01-11 00:00:00") as its ISO date, an Excel number as fastexcel renders it
   (rounded to 9 decimals), a formula cell as its cached value, TRUE/FALSE as
   "true"/"false". A merged range below the header gives its value to every row it
   covers, in its first column. Cells that cannot be used keep their original text and
   are marked in the row's ``_problems`` column (``"<column>:<rule>;..."``), for the
   validation step to quarantine the row: an error value (``error_cell``: ``#DIV/0!``,
   ``#N/A``, ... -- an error cell of a workbook, or a CSV cell that is exactly such a
   value, as Excel writes a failed formula into a CSV file) and a formula without a cached
   value (``no_cached_value``, the text ``=`` and the formula; a workbook written by a
   library and never calculated), and, in an ``.xlsx`` workbook that declares
   ``fullCalcOnLoad`` (asks to be recalculated when opened: what libraries write, caching a
   placeholder such as 0 for every formula), any formula cell (``untrusted_formula``, the
   text ``=`` and the formula, or the cached value when the cell does not hold the formula
   text). A date cell of Excel's serial day 60, which the reader shows as 1900-02-28, gets
   the text ``1900-02-29`` (the day Excel shows; it never existed), for the date parser to
   refuse. Numbers and dates stay text here: decimal commas,
   thousands separators and day-first dates are the parsers' rules (:mod:`thio.parse`).
   Rows empty in every contract column are dropped (Excel leaves many); ``_row`` keeps
   the spreadsheet row number of each data row (header = row 1 of a CSV file);
4. or rejected as a whole, with one line naming the file, the sheet and what is wrong, when
   it cannot be read (empty, not a workbook -- detected by content, e.g. a CSV file renamed
   to ``.xlsx`` --, corrupt or truncated, over a limit, a DOCTYPE, password-protected, a
   ragged CSV row, the same bytes as an earlier input, which is recognised by its sha256
   and read once) or when a sheet it has lacks a required column (an ``ahp`` or
   ``weights`` sheet needs at least one of ``firm_id`` / ``panel_id``).

Required sheets are judged for the round, not per file: a round may be split over several
files (one per region or team), so a file may omit any sheet as long as the round as a
whole, over the files that were read, has ``firms``, ``items`` and ``sota``. A sheet that
is present but has no cell at all counts as absent. When a required sheet is missing from
the round (or every file was rejected, or no file was found) the result says so
(``ok: false``, ``missing_sheets``) and the raw frames hold what was read; the caller
records the files and stops the round. Only a malformed round id, an empty input list
or an input path that does not exist raise :class:`~thio.errors.ThioError`.

Outputs in ``work_dir``: ``raw/<sheet>.parquet`` for all six contract sheets (union over
the files; every contract column as nullable text, absent ones null; then ``_file``,
``_file_sha256``, ``_sheet``, ``_row``, ``_problems``) and ``ingest.json`` (see
:func:`ingest_inputs`).

A sheet's rows are written to its parquet file as each input file is read (a file's sheet
is held in memory only while it is read), uncompressed and without statistics (the file
lives for one run and is read back at once; parquet dictionary-encodes the text columns, so
it stays small).
The provenance text columns are built dictionary-encoded (one value per file or sheet, not
one string per row); the files carry no Arrow schema, so every text column reads back as
plain ``string`` (or dictionary-encoded with ``read_dictionary``).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import mmap
import os
import re
import shutil
import tempfile
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from thio.containers import (
    FileRejected,
    SheetScan,
    check_ole2,
    check_zip,
    phantom_leap_day_cells,
    recalculated_on_load,
    safe_name,
    scan_sheet_xml,
    sheet_member,
)
from thio.contract import PROVENANCE_COLUMNS, SHEETS, Sheet, check_round_id
from thio.errors import ThioError
from thio.methodology import IngestLimits

REQUIRED_SHEETS = tuple(name for name, sheet in SHEETS.items() if sheet.required)
WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
CSV_SUFFIXES = {".csv"}
HEADER_SEARCH_ROWS = 10
SCOPE_COLUMNS = ("firm_id", "panel_id")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EXCEL_MIDNIGHT_RE = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"
_CSV_DELIMITERS = (",", ";", "\t", "|")
_TEXT_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
_HASH_CHUNK = 1 << 20
_HEAD_BYTES = 4096
_WRITE_BATCH_ROWS = 1 << 16  # rows encoded at a time by the parquet writer
# bytes of CSV text per parsing block: each block's columns get their own dictionary,
# unified afterwards; 16 MiB blocks still keep two threads busy on a file of a few dozen MB
# and make a sixteenth of arrow's 1 MiB default's dictionaries (0.3-0.4 CPU s less on a
# 4.6M-row sota.csv)
_CSV_BLOCK_BYTES = 16 << 20
PROBLEMS_COLUMN = "_problems"  # "<column>:<rule>;..." of a raw row's cells at fault, else null
# Excel's error values, as a cell shows them and as Excel writes them into a CSV file.
EXCEL_ERRORS = (
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
    "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!",
)  # fmt: skip
# calamine's names of the error values (fastexcel reports "Error(Div0)")
_CALAMINE_ERRORS = {"Null": "#NULL!", "Div0": "#DIV/0!", "Value": "#VALUE!", "Ref": "#REF!",
                    "Name": "#NAME?", "Num": "#NUM!", "NA": "#N/A",
                    "GettingData": "#GETTING_DATA"}  # fmt: skip
_CALAMINE_ERROR_RE = re.compile(r"Error\((\w+)\)")
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
# How the cell reader renders Excel's serial days 59 and 60 alike, and the day 60 stands for
# (it never existed: Excel takes 1900 for a leap year, as Lotus 1-2-3 did)
EXCEL_DAY_59 = "1900-02-28"
PHANTOM_LEAP_DAY = "1900-02-29"
_DEFAULT_LIMITS = IngestLimits()


@dataclass
class FileRecord:
    """What ingest did with one input file (one entry of ``ingest.json["files"]``)."""

    file_name: str
    sha256: str
    bytes: int
    kind: str  # xlsx | xls | ods | csv | unknown
    archived_as: str  # relative to <home>
    sheets: list[str] = field(default_factory=list)  # contract sheets read
    rows_read: dict[str, int] = field(default_factory=dict)
    unknown_sheets: list[str] = field(default_factory=list)
    unknown_columns: dict[str, list[str]] = field(default_factory=dict)
    status: str = "read"  # read | rejected
    message: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. rows a mapping's filter left out


@dataclass
class _SheetData:
    table: pa.Table  # the contract columns (all of them) as text, plus provenance
    columns_found: list[str]
    unknown_columns: list[str]


def ingest_inputs(
    inputs: list[Path],
    round_id: str,
    home: Path,
    work_dir: Path,
    mapping: Path | None = None,
    limits: IngestLimits | None = None,
) -> dict[str, Any]:
    """Archive and read a round's input files; write raw frames and ``ingest.json``.

    ``limits`` are the methodology file's ``ingest_limits`` (its defaults when None).

    With ``mapping`` (a mapping file, :mod:`thio.mapping`) every input file is an export
    read through it instead of a canonical file; ``ingest.json`` then records the mapping
    (``"mapping": {"file", "path", "sha256", "format", "archived_as"}``; the mapping kept
    as ``<home>/mappings/<sha256>.yaml``).

    Returns the ``ingest.json`` content::

        {"round_id": "2023Q1",
         "files": [{"file_name": "c01.xlsx", "sha256": "...", "bytes": 12345, "kind": "xlsx",
                    "archived_as": "raw/2023Q1/<sha256>.xlsx",
                    "sheets": ["firms", "items", "sota", "ahp"],
                    "rows_read": {"firms": 3, "items": 15, "sota": 72, "ahp": 30},
                    "unknown_sheets": ["notes"], "unknown_columns": {"firms": ["remark"]},
                    "status": "read" | "rejected", "message": "" | "<one line>"}],
         "skipped": [{"path": "csv/readme.txt", "reason": "..."}],
         "rows_read": {"firms": 3, ...all six sheets},
         "raw": {"firms": "raw/firms.parquet", ...}   # relative to work_dir
         "missing_sheets": [], "ok": true}
    """
    round_id = check_round_id(round_id)
    if not inputs:
        raise ThioError("no input files given")
    home = Path(home)
    work_dir = Path(work_dir)
    members, skipped = _expand_inputs([Path(path) for path in inputs])
    mapped = None
    if mapping is not None:
        from thio.mapping import load_mapping

        mapped = load_mapping(mapping)

    archive_dir = home / "raw" / round_id
    archive_dir.mkdir(parents=True, exist_ok=True)
    raw_dir = work_dir / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    records: dict[int, FileRecord] = {}
    seen: dict[str, str] = {}
    with _RawWriters(raw_dir) as writers:
        for index in _reading_order(members):
            path, display, kind_hint = members[index]
            read = _read_one(
                path, display, kind_hint, archive_dir, home, (mapped, round_id), limits
            )
            records[index] = _record(read, seen, writers)
    in_order = [records[index] for index in range(len(members))]
    return _summarise(round_id, in_order, skipped, writers, work_dir, home, mapped)


def _reading_order(members: list[tuple[Path, str, str]]) -> list[int]:
    """The order the members are read in: as given, but in a CSV folder its biggest file
    first, so that its raw frame (the most to write) is written while the folder's other
    files are read instead of after them.

    Only where that changes nothing but time: the file must be a CSV file of a folder that
    holds no workbook and no other file of the same sheet (the rows of a sheet stay in input
    order), and bigger than each of its folder's other files (so that no file read before it
    can have the same bytes: which of two equal files is the one read stays the same). The
    records keep the order given.
    """
    order = list(range(len(members)))
    start = 0
    while start < len(members):
        folder = members[start][0].parent
        end = start
        while end < len(members) and members[end][0].parent == folder:
            end += 1
        group = range(start, end)
        if all(members[index][2] == "csv" and "/" in members[index][1] for index in group):
            sizes = {index: members[index][0].stat().st_size for index in group}
            biggest = max(group, key=lambda index: sizes[index])
            sheet = members[biggest][0].stem.strip().lower()
            alone = all(
                sizes[index] < sizes[biggest] and members[index][0].stem.strip().lower() != sheet
                for index in group
                if index != biggest
            )
            if alone and biggest != start:
                order.remove(biggest)
                order.insert(start, biggest)
        start = end
    return order


def _summarise(
    round_id: str,
    records: list[FileRecord],
    skipped: list[dict[str, str]],
    writers: _RawWriters,
    work_dir: Path,
    home: Path,
    mapped: Any,
) -> dict[str, Any]:
    """The ingest.json of a round's records (written to ``work_dir``): the round's sheets
    judged over the files that were read."""
    raw_paths = {name: str(path.relative_to(work_dir)) for name, path in writers.paths.items()}
    read = [record for record in records if record.status == "read"]
    present = {sheet for record in read for sheet in record.sheets}
    missing = [sheet for sheet in REQUIRED_SHEETS if sheet not in present]
    result = {
        "round_id": round_id,
        "files": [asdict(record) for record in records],
        "skipped": skipped,
        "rows_read": writers.rows,
        "raw": raw_paths,
        "missing_sheets": missing,
        "ok": not missing,
    }
    if mapped is not None:
        result["mapping"] = {**mapped.record(), "archived_as": mapped.archive(home)}
    (work_dir / "ingest.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    pa.default_memory_pool().release_unused()  # hand the freed memory back to the system
    return result


# ---------------------------------------------------------------- one file at a time
# The flow reads the files of a round as separate tasks (on threads, or on a Dask
# cluster): list_input_files, then ingest_file for each, then combine_files in input order.
# The sequential ingest_inputs above gives the same ingest.json and raw frames.


def list_input_files(inputs: list[str]) -> dict[str, Any]:
    """The files of a round's inputs (a folder's CSV files and workbooks, in name order) and
    the folder entries skipped: {"files": [{"number", "path", "display", "kind"}],
    "skipped": [...]}."""
    members, skipped = _expand_inputs([Path(path) for path in inputs])
    files = [
        {"number": number, "path": str(path), "display": display, "kind": kind}
        for number, (path, display, kind) in enumerate(members)
    ]
    return {"files": files, "skipped": skipped}


def ingest_file(
    member: dict[str, str],
    round_id: str,
    home: Path,
    part_dir: Path,
    mapping: Path | None = None,
    limits: IngestLimits | None = None,
) -> dict[str, Any]:
    """Archive and read one input file into ``part_dir/<sheet>.parquet``; returns its
    record (an entry of ingest.json's ``files``) and ``part_dir``."""
    round_id = check_round_id(round_id)
    mapped = None
    if mapping is not None:
        from thio.mapping import load_mapping

        mapped = load_mapping(mapping)
    archive_dir = Path(home) / "raw" / round_id
    archive_dir.mkdir(parents=True, exist_ok=True)
    part_dir = Path(part_dir)
    part_dir.mkdir(parents=True, exist_ok=True)
    read = _read_one(
        Path(member["path"]), member["display"], member["kind"], archive_dir, Path(home),
        (mapped, round_id), limits,
    )  # fmt: skip
    with _RawWriters(part_dir) as writers:
        record = _record(read, {}, writers)
    return {"record": asdict(record), "part": str(part_dir)}


def combine_files(
    parts: list[dict[str, Any]],
    skipped: list[dict[str, str]],
    round_id: str,
    home: Path,
    work_dir: Path,
    mapping: Path | None = None,
) -> dict[str, Any]:
    """The round's raw frames and ingest.json from the files read one at a time (``parts``
    in input order), as :func:`ingest_inputs` makes them; a file repeating an earlier one is
    set aside there too."""
    round_id = check_round_id(round_id)
    mapped = None
    if mapping is not None:
        from thio.mapping import load_mapping

        mapped = load_mapping(mapping)
    work_dir = Path(work_dir)
    raw_dir = work_dir / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    records: list[FileRecord] = []
    seen: dict[str, str] = {}
    with _RawWriters(raw_dir) as writers:
        for part in parts:
            record = FileRecord(**part["record"])
            records.append(record)
            if record.sha256 in seen:
                record.status = "rejected"
                record.message = _repeated(record, seen[record.sha256])
                record.sheets, record.rows_read = [], {}
                record.unknown_sheets, record.unknown_columns = [], {}
                continue
            seen[record.sha256] = record.file_name
            if record.status != "read":
                continue
            for name in record.sheets:
                schema = _raw_schema(SHEETS[name])
                text = [field.name for field in schema if pa.types.is_dictionary(field.type)]
                table = pq.read_table(Path(part["part"]) / f"{name}.parquet", read_dictionary=text)
                writers.write(name, table)
    return _summarise(round_id, records, skipped, writers, work_dir, Path(home), mapped)


# ---------------------------------------------------------------- files


def _expand_inputs(
    inputs: list[Path],
) -> tuple[list[tuple[Path, str, str]], list[dict[str, str]]]:
    """(path, display name, "workbook" | "csv") of every input file; skipped folder entries."""
    members: list[tuple[Path, str, str]] = []
    skipped: list[dict[str, str]] = []
    for path in inputs:
        if path.is_dir():
            for child in sorted(path.iterdir(), key=lambda item: item.name):
                display = safe_name(f"{path.name}/{child.name}")
                if child.name.startswith(".") or child.name.startswith("~$"):
                    continue
                if not child.is_file():
                    skipped.append({"path": display, "reason": "not a file (folders are not read)"})
                elif child.suffix.lower() in CSV_SUFFIXES:
                    members.append((child, display, "csv"))
                elif child.suffix.lower() in WORKBOOK_SUFFIXES:
                    members.append((child, display, "workbook"))
                else:
                    skipped.append({"path": display, "reason": "neither a CSV file nor a workbook"})
        elif path.is_file():
            kind = "csv" if path.suffix.lower() in CSV_SUFFIXES else "workbook"
            members.append((path, safe_name(path.name), kind))
        else:
            raise ThioError(f"input {path}: no such file or folder")
    return members, skipped


@dataclass
class _FileRead:
    """One input file read: its record (status not yet judged) and its sheets."""

    record: FileRecord
    found: dict[str, _SheetData]
    unknown_sheets: list[str]
    rejection: str  # the one line why the file is rejected, or ""


def _read_one(
    path: Path,
    display: str,
    kind_hint: str,
    archive_dir: Path,
    home: Path,
    mapped: tuple[Any, str] = (None, ""),
    limits: IngestLimits | None = None,
) -> _FileRead:
    """Archive and read one input file (no judgement yet of it repeating another);
    ``mapped`` is (the loaded mapping or None, the round id)."""
    limits = limits or _DEFAULT_LIMITS
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
        size = path.stat().st_size
    except OSError as exc:
        raise ThioError(f"{display}: cannot be read ({exc.strerror})") from None
    kind = _detect_kind(head, kind_hint)
    if mapped[0] is not None and kind == "xlsx" and mapped[0].format == "odk_zip":
        kind = "zip"  # an ODK Central export: a zip of CSV files, archived as .zip
    extension = kind if kind != "unknown" else "bin"
    # the file is hashed and archived in a second thread while it is read
    with ThreadPoolExecutor(max_workers=1) as pool:
        archiving = pool.submit(_hash_and_archive, path, display, archive_dir, extension)
        unknown_sheets: list[str] = []
        notes: list[str] = []
        rejection = ""
        try:
            if mapped[0] is not None:
                from thio.mapping import read_for_ingest

                if kind != "csv":
                    _check_container(path, display, kind, size, head, limits)
                found, unknown_sheets, notes = read_for_ingest(path, display, *mapped)
            else:
                found, unknown_sheets, notes = _read_file(path, display, kind, size, head, limits)
        except FileRejected as exc:
            found, rejection = {}, str(exc)
        sha256, size, archived = archiving.result()
    record = FileRecord(
        file_name=display,
        sha256=sha256,
        bytes=size,
        kind=kind,
        archived_as=str(archived.relative_to(home)),
        notes=notes,
    )
    return _FileRead(record, found, unknown_sheets, rejection)


def _repeated(record: FileRecord, first: str) -> str:
    return f"{record.file_name}: the same content as {first}, read once"


def _record(read: _FileRead, seen: dict[str, str], writers: _RawWriters) -> FileRecord:
    """Judge a file read (in input order: a file repeating an earlier one is set aside)
    and hand its sheets to the writers."""
    record = read.record
    rejection = read.rejection
    if record.sha256 in seen:
        rejection = _repeated(record, seen[record.sha256])
    else:
        seen[record.sha256] = record.file_name
        record.unknown_sheets = read.unknown_sheets
    if rejection:
        record.status = "rejected"
        record.message = rejection
        return record
    for name, data in read.found.items():
        table = _with_provenance(data.table, record.file_name, record.sha256)
        writers.write(name, table)
        record.sheets.append(name)
        record.rows_read[name] = table.num_rows
        if data.unknown_columns:
            record.unknown_columns[name] = data.unknown_columns
    return record


def _read_file(
    path: Path, display: str, kind: str, size: int, head: bytes, limits: IngestLimits
) -> tuple[dict[str, _SheetData], list[str], list[str]]:
    """The contract sheets of an input file, the names of its other sheets, and notes."""
    if kind == "csv":
        sheet_name = path.stem.strip()
        sheet = SHEETS.get(sheet_name.lower())
        if sheet is None:
            return {}, [sheet_name], []
        return {sheet.name: _read_csv(path, display, sheet_name, sheet, size)}, [], []
    _check_container(path, display, kind, size, head, limits)
    return _read_workbook(path, display, kind)


def _check_container(
    path: Path, display: str, kind: str, size: int, head: bytes, limits: IngestLimits
) -> None:
    """Refuse a workbook by its content before any parser opens it (see thio.containers)."""
    _check_workbook_content(display, kind, size, head)
    try:
        if kind == "xls":
            check_ole2(path, display)
        else:
            check_zip(path, display, limits)
    except OSError as exc:
        raise FileRejected(f"{display}: cannot be read ({exc.strerror})") from None


def _hash_and_archive(
    path: Path, display: str, archive_dir: Path, extension: str
) -> tuple[str, int, Path]:
    """(sha256, size, archive path) of a file, archived as ``<sha256>.<extension>``."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise ThioError(f"{display}: cannot be read ({exc.strerror})") from None
    sha256 = digest.hexdigest()
    archived = archive_dir / f"{sha256}.{extension}"
    _archive(path, archived)
    return sha256, size, archived


def _detect_kind(head: bytes, hint: str) -> str:
    if hint == "csv":
        return "csv"
    if head.startswith(_OLE2_MAGIC):
        return "xls"
    if head.startswith(_ZIP_MAGIC):
        return "ods" if b"opendocument.spreadsheet" in head[:200] else "xlsx"
    return "unknown"


def _check_workbook_content(display: str, kind: str, size: int, head: bytes) -> None:
    if size == 0:
        raise FileRejected(f"{display}: the file is empty (0 bytes)")
    if kind != "unknown":
        return
    if _looks_like_text(head):
        raise FileRejected(
            f"{display}: not an Excel workbook; the content is text "
            "(a CSV file renamed to .xlsx? name it .csv, after its sheet)"
        )
    raise FileRejected(f"{display}: not an Excel workbook (unknown content)")


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "cp1252"):
        try:
            head.decode(encoding)
        except UnicodeDecodeError as exc:
            if encoding == "utf-8" and exc.start >= len(head) - 3:
                return True  # a character cut at the end of the sample
            continue
        return True
    return False


def _archive(source: Path, target: Path) -> None:
    """Copy byte-for-byte, atomically; an existing copy (same sha256 name) is kept."""
    if target.exists():
        return
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o444)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


# ---------------------------------------------------------------- workbooks


def _read_workbook(
    path: Path, display: str, kind: str
) -> tuple[dict[str, _SheetData], list[str], list[str]]:
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        names = list(reader.sheet_names)
    except Exception as exc:  # fastexcel raises its own error types for every failure
        raise FileRejected(_unreadable(display, exc)) from None
    hidden = _hidden_sheets(path)
    recalculated = kind == "xlsx" and recalculated_on_load(path)
    matched: dict[str, list[str]] = {}
    unknown: list[str] = []
    notes: list[str] = []
    for name in names:
        key = name.strip().lower()
        if name in hidden:
            if key in SHEETS:
                notes.append(
                    f"{display}, sheet {safe_name(name)}: a hidden sheet, ignored "
                    "(unhide it to have it read)"
                )
            else:
                unknown.append(name)
        elif key in SHEETS:
            matched.setdefault(key, []).append(name)
        else:
            unknown.append(name)
    found: dict[str, _SheetData] = {}
    for key, originals in matched.items():
        if len(originals) > 1:
            listed = ", ".join(repr(safe_name(name)) for name in originals)
            raise FileRejected(f"{display}: sheets {listed} both name sheet {key}; keep one")
        original = originals[0]
        where = f"{display}, sheet {safe_name(original)}"
        try:
            table, fixes = _load_grid(reader, path, kind, original, recalculated)
        except FileRejected as exc:
            raise FileRejected(f"{where}: refused: {exc}") from None
        except Exception as exc:
            raise FileRejected(f"{where}: cannot be read ({_first_line(exc)})") from None
        if table is None:
            continue  # an empty sheet counts as absent
        day_60 = _day_60_finder(path, original, fixes) if kind == "xlsx" else None
        found[key] = _sheet_from_grid(table, display, original, SHEETS[key], fixes, day_60)
    return found, unknown, notes


def _day_60_finder(path: Path, name: str, fixes: _GridFixes) -> Any:
    """The finder of a sheet's cells holding Excel's serial day 60, in grid coordinates (the
    cell reader shows that day, 1900-02-29, as 1900-02-28; only the XML tells them apart)."""

    def find() -> set[tuple[int, int]]:
        try:
            cells = phantom_leap_day_cells(path, name)
        except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError):
            return set()  # the sheet was read: its 1900-02-28 stays, out of any survey window
        row0, col0 = fixes.start[0], _calamine_start(path, name)[1]
        return {(row - row0, col - col0) for row, col in cells}

    return find


def _unreadable(display: str, exc: BaseException) -> str:
    reason = _first_line(exc)
    if "password" in reason.lower() or "encrypt" in reason.lower():
        return (
            f"{display}: the workbook is password-protected (encrypted); "
            "save it without a password and send it again"
        )
    return f"{display}: cannot be read as a workbook (corrupt or not a spreadsheet: {reason})"


def _hidden_sheets(path: Path) -> set[str]:
    """Names of the workbook's hidden (and very hidden) sheets; calamine reads only the
    workbook part for this."""
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        try:
            return {
                sheet.name
                for sheet in workbook.sheets_metadata
                if sheet.visible != python_calamine.SheetVisibleEnum.Visible
            }
        finally:
            workbook.close()
    except Exception:  # fastexcel opened it; without the metadata every sheet is visible
        return set()


@dataclass
class _GridFixes:
    """What the cell reader leaves out of a sheet's grid, in the grid's coordinates.

    ``start`` is the sheet (row, column) of the grid's first cell (0-based); ``cells`` are
    (grid row, grid column, text, rule) of the cells at fault (an error value, a formula
    without a cached value, or a formula whose cached value is untrusted; text None keeps
    the grid's text), ``merges`` (grid row, grid column, last grid row) of the merged
    ranges.
    """

    start: tuple[int, int] = (0, 0)
    cells: list[tuple[int, int, str | None, str]] = field(default_factory=list)
    merges: list[tuple[int, int, int]] = field(default_factory=list)


def _load_grid(
    reader: Any, path: Path, kind: str, name: str, recalculated: bool = False
) -> tuple[pa.Table | None, _GridFixes]:
    """A sheet's used range as text (None when it has no cell) and what the grid misses.

    An ``.xlsx`` sheet is read eagerly; when its grid has a null cell, its XML is scanned
    (:func:`thio.containers.scan_sheet_xml`, about 0.3 s per 100 MB of XML) for the cells
    that null stands for; in a workbook that asks to be recalculated on opening
    (``recalculated``: ``fullCalcOnLoad``) it is always scanned, for its formula cells,
    whose cached values are placeholders (``untrusted_formula``). Other formats are read
    with fastexcel's cell errors and calamine's merged ranges (a second read of the sheet:
    these formats are small and rare).
    """
    if kind == "xlsx":
        batch = reader.load_sheet(name, header_row=None, dtypes="string", eager=True)
        table = _grid_table(batch)
        if table is None:
            return None, _GridFixes()
        # an error cell, a formula without a value and a cell a merged range covers all
        # arrive as null: a grid without a null has none of them, and its XML is not read
        has_null = any(column.null_count for column in table.columns)
        scan = (
            scan_sheet_xml(path, name, formulas=recalculated)
            if has_null or recalculated
            else SheetScan()
        )
        start_row = _first_used_row(path, kind, name)
        # the column where the grid starts, from calamine (a second read of the sheet), only
        # when a cell must be placed: not for a merged title row (a range of one row)
        placed = (
            scan.errors or scan.no_value or scan.formulas or any(m[2] > m[0] for m in scan.merges)
        )
        start = (start_row, _calamine_start(path, name)[1]) if placed else (start_row, 0)
        return table, _fixes_from_scan(scan, start)
    sheet = reader.load_sheet(name, header_row=None, dtypes="string")
    batch, errors = sheet.to_arrow_with_errors()
    table = _grid_table(batch)
    if table is None:
        return None, _GridFixes()
    fixes = _GridFixes(start=_calamine_start(path, name))
    for error in errors.errors if errors is not None else []:
        row, column = error.position
        match = _CALAMINE_ERROR_RE.search(error.detail)
        text = _CALAMINE_ERRORS.get(match.group(1), f"#{match.group(1)}") if match else "#ERROR"
        fixes.cells.append((int(row), int(column), text, "error_cell"))
    merges = _calamine_merges(path, name)
    fixes.merges = _grid_merges(merges, fixes.start)
    return table, fixes


def _grid_table(batch: pa.RecordBatch) -> pa.Table | None:
    table = pa.Table.from_batches([batch]) if batch.num_rows else None
    if table is None or table.num_columns == 0:
        return None
    return table


def _fixes_from_scan(scan: SheetScan, start: tuple[int, int]) -> _GridFixes:
    row0, col0 = start
    fixes = _GridFixes(start=start)
    for row, column, text in scan.errors:
        fixes.cells.append((row - row0, column - col0, text, "error_cell"))
    for row, column, formula in scan.no_value:
        fixes.cells.append((row - row0, column - col0, f"={formula}", "no_cached_value"))
    errors = {(row, column) for row, column, _ in scan.errors}
    for row, column, formula in scan.formulas:
        if (row, column) in errors:
            continue  # an error value is the cell's problem already
        # the formula stands for the cell (its cached value is a placeholder); a shared
        # formula's other cells do not hold it, and keep the cached value
        text = f"={formula}" if formula else None
        fixes.cells.append((row - row0, column - col0, text, "untrusted_formula"))
    fixes.merges = _grid_merges(scan.merges, start)
    return fixes


def _grid_merges(
    merges: list[tuple[int, int, int, int]], start: tuple[int, int]
) -> list[tuple[int, int, int]]:
    row0, col0 = start
    return [(first_row - row0, first_col - col0, last_row - row0)
            for first_row, first_col, last_row, _ in merges if last_row > first_row]  # fmt: skip


def _calamine_start(path: Path, name: str) -> tuple[int, int]:
    """0-based sheet (row, column) where calamine's (and so fastexcel's) range starts.

    Reads the whole sheet with calamine: only called when a sheet has cells at fault or
    merged ranges, or is not an .xlsx.
    """
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        try:
            start = workbook.get_sheet_by_name(name).start
            return int(start[0]), int(start[1])
        finally:
            workbook.close()
    except Exception:  # fastexcel read it; without the offset, assume the range starts at A1
        return 0, 0


def _calamine_merges(path: Path, name: str) -> list[tuple[int, int, int, int]]:
    """Merged ranges of a sheet as calamine reports them (0-based, absolute)."""
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        try:
            ranges = workbook.get_sheet_by_name(name).merged_cell_ranges or []
        finally:
            workbook.close()
    except Exception:  # a format without merged ranges (or none known): nothing to fill
        return []
    return [(int(a[0]), int(a[1]), int(b[0]), int(b[1])) for a, b in ranges]


def _sheet_from_grid(
    grid: pa.Table,
    display: str,
    sheet_name: str,
    sheet: Sheet,
    fixes: _GridFixes,
    day_60: Any = None,
) -> _SheetData:
    """Find the header in a sheet's used range (all text) and build the sheet's table.

    The cells at fault get their text (the error value, or ``=`` and the formula) and a
    problem record; a merged range below the header gives its value to every row it covers
    in its first column (what the reader sees; the other columns it covers stay empty).
    A date column's cell shown as 1900-02-28 that holds Excel's serial day 60 (``day_60``
    finds those cells, in grid coordinates) gets the text ``1900-02-29``, the day Excel
    shows and that never existed, for validation to quarantine.
    """
    known = set(sheet.column_names)
    columns = [_as_text(column) for column in grid.columns]
    search = min(HEADER_SEARCH_ROWS, grid.num_rows)
    header_index = 0
    for index in range(search):
        cells = {_header_name(column[index].as_py()) for column in columns}
        if cells & known:
            header_index = index
            break
    header = [_header_name(column[header_index].as_py()) for column in columns]
    length = grid.num_rows - header_index - 1
    problems: dict[int, list[str]] = {}
    by_column: dict[int, list[tuple[int, str]]] = {}
    cells = list(fixes.cells)
    if day_60 is not None:
        cells += _day_60_cells(columns, header, header_index, sheet, day_60)
    for row, column, text, rule in cells:
        if row <= header_index or not 0 <= column < len(columns) or row >= grid.num_rows:
            continue
        if text is not None:
            by_column.setdefault(column, []).append((row, text))
        if rule and header[column] in known:
            problems.setdefault(row - header_index - 1, []).append(f"{header[column]}:{rule}")
    for column, cells in by_column.items():
        columns[column] = _replace_cells(columns[column], cells)
    fills: dict[int, np.ndarray] = {}
    for first_row, column, last_row in fixes.merges:
        if first_row <= header_index or not 0 <= column < len(columns):
            continue
        last_row = min(last_row, grid.num_rows - 1)
        if column not in fills:
            fills[column] = np.arange(grid.num_rows, dtype="int64")
        fills[column][first_row + 1 : last_row + 1] = first_row
    for column, source in fills.items():
        columns[column] = columns[column].take(pa.array(source))
    data = [column.slice(header_index + 1) for column in columns]
    # the used range starts at sheet row start + 1 (1-based); the header is in it
    first_data_row = fixes.start[0] + 1 + header_index + 1
    return _build_sheet(
        display, sheet_name, sheet, header, data, first_data_row, excel=True,
        problems=problems if length > 0 else {},
    )  # fmt: skip


def _day_60_cells(
    columns: list[Any], header: list[str], header_index: int, sheet: Sheet, day_60: Any
) -> list[tuple[int, int, str | None, str]]:
    """The date cells below the header that hold Excel's serial day 60: text
    ``1900-02-29`` and no problem record (the date parser's rule names it)."""
    dates = {column.name for column in sheet.columns if column.kind == "date"}
    shown: set[tuple[int, int]] = set()
    for index, name in enumerate(header):
        if name not in dates:
            continue
        below = columns[index].slice(header_index + 1)
        hits = pc.fill_null(pc.starts_with(below, EXCEL_DAY_59), False)
        if pc.any(hits).as_py():
            rows = np.flatnonzero(hits.to_numpy())
            shown.update((int(row) + header_index + 1, index) for row in rows)
    if not shown:
        return []
    return [(row, column, PHANTOM_LEAP_DAY, "") for row, column in shown & day_60()]


def _replace_cells(column: Any, cells: list[tuple[int, str]]) -> Any:
    """The column with the text of a few cells replaced (an Arrow take, no loop over rows)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    source = np.arange(len(column), dtype="int64")
    rows = np.asarray([row for row, _ in cells], dtype="int64")
    source[rows] = len(column) + np.arange(len(cells))
    extra = pa.array([text for _, text in cells], type=column.type)
    return pa.concat_arrays([column, extra]).take(pa.array(source))


def _first_used_row(path: Path, kind: str, sheet_name: str) -> int:
    """0-based sheet row of the first non-empty cell (where fastexcel's range starts)."""
    if kind == "xlsx":
        row = _xlsx_first_used_row(path, sheet_name)
        if row is not None:
            return row
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        try:
            return int(workbook.get_sheet_by_name(sheet_name).start[0])
        finally:
            workbook.close()
    except Exception:  # fastexcel read it; without the offset, assume the range starts at row 1
        return 0


_CELL_RE = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(/>|>(.*?)</(?:\w+:)?c>)", re.DOTALL)
_CELL_REF_RE = re.compile(rb'\br="[A-Z]+(\d+)"')
_VALUE_RE = re.compile(rb"<(?:\w+:)?(?:v|is)\b")


def _xlsx_first_used_row(path: Path, sheet_name: str) -> int | None:
    """Scan the start of the sheet's XML for the first cell with a value (None: unsure)."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = sheet_member(archive, sheet_name)
            if member is None:
                return None
            with archive.open(member) as stream:
                buffer = b""
                for _ in range(64):  # at most 4 MiB of XML before the first value
                    chunk = stream.read(1 << 16)
                    if not chunk:
                        break
                    buffer += chunk
                    for match in _CELL_RE.finditer(buffer):
                        if match.group(2) == b"/>" or not _VALUE_RE.search(match.group(3)):
                            continue
                        reference = _CELL_REF_RE.search(match.group(1))
                        return int(reference.group(1)) - 1 if reference else None
                return None
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError):
        return None


# ---------------------------------------------------------------- CSV files


def _read_csv(path: Path, display: str, sheet_name: str, sheet: Sheet, size: int) -> _SheetData:
    if size == 0:
        raise FileRejected(f"{display}: the file is empty (0 bytes)")
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if head.startswith(_ZIP_MAGIC) or head.startswith(_OLE2_MAGIC):
        raise FileRejected(f"{display}: a workbook, not CSV text (name it .xlsx)")
    encoding = _text_encoding(head)
    if encoding is None:
        raise FileRejected(f"{display}: {_not_text(head)}")
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    lines = _LINE_BREAK_RE.split(text)[:HEADER_SEARCH_ROWS]
    known = set(sheet.column_names)
    # the header: the first line (of the first ten) holding a column name of the sheet, so
    # that a title block above it is tolerated; else the first line
    header_index, delimiter = 0, _sniff_delimiter(lines[0] if lines else "", known)
    for index, line in enumerate(lines):
        candidate = _sniff_delimiter(line, known)
        cells = next(csv.reader(io.StringIO(line), delimiter=candidate), [])
        if any(_header_name(cell) in known for cell in cells):
            header_index, delimiter = index, candidate
            break
    header_line = lines[header_index] if lines else ""
    header_cells = next(csv.reader(io.StringIO(header_line), delimiter=delimiter), [])
    header = [_header_name(cell) for cell in header_cells]
    if not any(header):
        raise FileRejected(f"{display}, sheet {sheet_name}: the first line has no column names")
    names = [f"c{index}" for index in range(len(header))]
    wanted = [names[index] for index, name in enumerate(header) if name in sheet.column_names]
    table, lines = _read_csv_table(
        path, display, names, wanted, delimiter, encoding, header_index + 1
    )
    columns = [table.column(name) if name in wanted else None for name in names]
    first_data_row = header_index + 2
    return _build_sheet(
        display, sheet_name, sheet, header, columns, first_data_row, excel=False, lines=lines
    )


def _text_encoding(head: bytes) -> str | None:
    """The encoding of a CSV file from its first bytes: UTF-16 (by its byte-order mark,
    or the NUL bytes of every other byte), UTF-8 (with or without BOM), else Windows-1252;
    None when it is none of these (e.g. UTF-32, or binary)."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        sample = head[: len(head) - len(head) % 2]
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        half = len(sample) // 2
        if odd >= half // 2 and even == 0:
            return "utf-16-le"
        if even >= half // 2 and odd == 0:
            return "utf-16-be"
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return None
    return "cp1252"


def _not_text(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32 text, which is not read; save the file as CSV UTF-8"
    return "not a text file (neither UTF-8, UTF-16 nor Windows-1252)"


def _sniff_delimiter(first_line: str, known: set[str]) -> str:
    best, best_score = ",", (-1, -1)
    for delimiter in _CSV_DELIMITERS:
        cells = next(csv.reader(io.StringIO(first_line), delimiter=delimiter), [])
        score = (sum(_header_name(cell) in known for cell in cells), len(cells))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv_table(
    path: Path,
    display: str,
    names: list[str],
    wanted: list[str],
    delimiter: str,
    encoding: str,
    skip_rows: int = 1,
) -> tuple[pa.Table, np.ndarray | None]:
    """The CSV file's columns (``wanted`` of ``names``) as dictionary-encoded text, and the
    line numbers of its rows when empty ragged rows were dropped (else None: the rows are
    the lines after the header)."""
    bad_rows: list[Any] = []
    blank_rows: list[Any] = []  # ragged rows of nothing but separators and spaces
    skipped: list[int] = []  # their line numbers
    # arrow parses about twice as fast when told no value spans lines; it cannot cut a file
    # whose quoted value does into blocks and says so (an ArrowInvalid, never a wrong row),
    # and the file is read again allowing it. A file without a quote has no such value.
    quoted = _contains_quote(path)
    newlines = False

    def on_invalid(row: Any) -> str:
        if not (row.text or "").strip(f' \t\r\n"{delimiter}'):
            blank_rows.append(row)
        else:
            bad_rows.append(row)
        return "skip"

    def read(use_threads: bool, encoding: str, handler: Any = None) -> pa.Table:
        # without a handler a ragged row stops the read (an ArrowInvalid); the handler, a
        # Python call back, makes the parse markedly slower, so it is only used to find the
        # ragged row's number once one is known to be there
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows=skip_rows,
                use_threads=use_threads,
                block_size=_CSV_BLOCK_BYTES,
                encoding=encoding,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=newlines,
                ignore_empty_lines=False,
                invalid_row_handler=handler,
            ),
            convert_options=pacsv.ConvertOptions(
                # dictionary-encoded as parsed (in parallel, block by block): a column of a
                # survey has few distinct values, and cleaning then touches only those
                column_types={name: _TEXT_DICTIONARY for name in names},
                include_columns=wanted,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )

    def read_checked(encoding: str) -> pa.Table | None:
        nonlocal newlines
        bad_rows.clear()
        blank_rows.clear()
        skipped.clear()
        try:
            return read(True, encoding)
        except pa.ArrowInvalid as exc:
            if _is_utf8_error(exc):
                raise
            if quoted and not newlines:
                newlines = True  # a value may span lines: read again allowing it
                return read_checked(encoding)
            # once more, single-threaded, for the row numbers
            table = read(False, encoding, on_invalid)
            if bad_rows:
                return None
            if not blank_rows:
                raise
            # empty rows (often below the data, with another number of separators than the
            # header) are dropped; the rows after one keep their line numbers
            unnumbered = [row for row in blank_rows if row.number is None]
            if unnumbered:
                bad_rows.append(unnumbered[0])
                return None
            skipped.extend(row.number for row in blank_rows)
            return table

    try:
        try:
            table = read_checked(encoding)
        except pa.ArrowInvalid as exc:
            if encoding != "utf-8" or not _is_utf8_error(exc):
                raise
            encoding = "cp1252"  # invalid UTF-8 past the sampled head: Excel's "CSV" on Windows
            table = read_checked(encoding)
        if bad_rows:
            row = bad_rows[0]
            where = f"row {row.number}" if row.number is not None else "a row"
            raise FileRejected(
                f"{display}: {where} has {row.actual_columns} fields where the header has "
                f"{row.expected_columns} ({_shorten(row.text)})"
            )
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileRejected(f"{display}: cannot be read as CSV ({_first_line(exc)})") from None
    assert table is not None
    if not skipped:
        return table, None
    # one line per row (as the row numbers of a CSV file are counted), the dropped ones out
    lines = np.arange(skip_rows + 1, skip_rows + 1 + table.num_rows + len(skipped))
    return table, np.setdiff1d(lines, np.asarray(skipped, dtype="int64"))[: table.num_rows]


def _contains_quote(path: Path) -> bool:
    """Whether the file has a double quote anywhere (in any of the encodings read, a quote
    is the byte 0x22)."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return view.find(b'"') != -1


def _is_utf8_error(exc: BaseException) -> bool:
    return "UTF8" in str(exc).upper().replace("-", "")


# ---------------------------------------------------------------- sheets


def _build_sheet(
    display: str,
    sheet_name: str,
    sheet: Sheet,
    header: list[str],
    data: list[Any],
    first_data_row: int,
    *,
    excel: bool,
    problems: dict[int, list[str]] | None = None,
    lines: np.ndarray | None = None,
) -> _SheetData:
    """Map header names to contract columns, check them, and build the text table.

    ``problems`` maps a data row (0-based) to its cells at fault ("<column>:<rule>"); in a
    CSV file (``excel`` False) a cell whose whole text is an Excel error value (Excel writes
    a failed formula so) is one too. They make the ``_problems`` column. ``lines`` are the
    rows' numbers when they are not ``first_data_row`` onwards (a CSV file whose empty
    ragged rows were dropped).
    """
    problems = dict(problems or {})
    positions: dict[str, int] = {}
    unknown: list[str] = []
    for index, name in enumerate(header):
        if name in sheet.column_names:
            if name in positions:
                raise FileRejected(
                    f"{display}, sheet {sheet_name}: column {name} appears twice in the header"
                )
            positions[name] = index
        elif name and not name.startswith("__unnamed__"):
            unknown.append(name)
    missing = [
        column.name for column in sheet.columns if column.required and column.name not in positions
    ]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise FileRejected(
            f"{display}, sheet {sheet_name}: required column{plural} {', '.join(missing)} "
            f"missing (the header has: {', '.join(name for name in header if name) or 'nothing'})"
        )
    if sheet.name in ("ahp", "weights") and not any(name in positions for name in SCOPE_COLUMNS):
        raise FileRejected(
            f"{display}, sheet {sheet_name}: needs a firm_id or a panel_id column (the scope)"
        )
    length = next((len(column) for column in data if column is not None), 0)
    arrays: dict[str, pa.ChunkedArray] = {}
    for name in sheet.column_names:
        if name in positions and data[positions[name]] is not None:
            arrays[name] = _clean(data[positions[name]], excel=excel)
            if not excel:
                for row in _error_values(arrays[name]):
                    problems.setdefault(row, []).append(f"{name}:error_cell")
        else:
            arrays[name] = pa.chunked_array([_null_text(length)])
    table = pa.table(arrays)
    if lines is not None and len(lines) == length:
        rows = pa.array(np.asarray(lines, dtype="int64"))
    else:
        rows = pa.array(np.arange(first_data_row, first_data_row + length, dtype="int64"))
    table = table.append_column("_row", rows)
    table = table.append_column("_sheet", _repeat(sheet_name, length))
    table = table.append_column(PROBLEMS_COLUMN, _problems_column(problems, length))
    present = [name for name in sheet.column_names if name in positions]
    # a row can only be empty in every contract column if every column has a null
    if present and length and all(table.column(name).null_count for name in present):
        all_empty = _all_true([pc.is_null(table.column(name)) for name in present])
        if pc.any(all_empty).as_py():
            table = table.filter(pc.invert(all_empty))
    return _SheetData(table=table, columns_found=present, unknown_columns=unknown)


def _error_values(column: pa.ChunkedArray) -> np.ndarray:
    """Rows (0-based) whose text is an Excel error value; looked up in the dictionary."""
    if column.num_chunks == 0 or len(column) == 0:
        return np.zeros(0, dtype="int64")
    dictionary = column.chunk(0).dictionary
    hits = pc.is_in(dictionary, value_set=pa.array(EXCEL_ERRORS, pa.string()))
    if not pc.any(hits).as_py():
        return np.zeros(0, dtype="int64")
    flags = np.append(hits.to_numpy(zero_copy_only=False), False)
    codes = np.concatenate(
        [pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False) for chunk in column.chunks]
    )
    return np.flatnonzero(flags[codes])


def _problems_column(problems: dict[int, list[str]], length: int) -> pa.DictionaryArray:
    """The ``_problems`` column: null but for the few rows with cells at fault."""
    if not problems:
        return _null_text(length)
    values = np.full(length, None, dtype=object)
    for row, found in problems.items():
        if 0 <= row < length:
            values[row] = ";".join(dict.fromkeys(found))
    return pa.array(values, pa.string()).dictionary_encode()


def _all_true(masks: list[Any]) -> Any:
    result = masks[0]
    for mask in masks[1:]:
        result = pc.and_(result, mask)
    return result


def _clean(column: Any, *, excel: bool) -> pa.ChunkedArray:
    """Text, stripped; empty -> null; an Excel date cell at midnight -> its ISO date.

    The column comes out dictionary-encoded, one dictionary for all its chunks; the
    cleaning works on the dictionary's distinct values only, and the rows' codes are
    remapped (an integer take) only when a value changed.
    """
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if not pa.types.is_dictionary(column.type):
        column = _as_text(column).dictionary_encode()  # one dictionary for every chunk
    elif column.num_chunks > 1:
        column = pa.table({"text": column}).unify_dictionaries().column(0)
    if column.num_chunks == 0:
        return pa.chunked_array([_null_text(0)])
    values = column.chunk(0).dictionary
    cleaned = pc.utf8_trim_whitespace(values)
    if excel:
        cleaned = pc.replace_substring_regex(cleaned, _EXCEL_MIDNIGHT_RE, r"\1")
    empty = pc.equal(cleaned, "")
    if pc.all(pc.equal(cleaned, values)).as_py() and not pc.any(empty).as_py():
        return column
    encoded = cleaned.dictionary_encode()  # equal cleaned values share one code
    mapping = pc.if_else(empty, pa.scalar(None, pa.int32()), encoded.indices)
    return pa.chunked_array(
        [
            pa.DictionaryArray.from_arrays(pc.take(mapping, chunk.indices), encoded.dictionary)
            for chunk in column.chunks
        ],
        type=_TEXT_DICTIONARY,
    )


def _repeat(value: str, length: int) -> pa.DictionaryArray:
    """``value`` ``length`` times, dictionary-encoded (one string, not ``length`` copies)."""
    indices = pa.array(np.zeros(length, dtype="int32"))
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))


def _as_text(column: Any) -> Any:
    if column.type != pa.string():
        column = column.cast(pa.string())
    return column


def _with_provenance(table: pa.Table, display: str, sha256: str) -> pa.Table:
    length = table.num_rows
    sheet_column = table.column("_sheet")
    row_column = table.column("_row")
    table = table.drop_columns(["_sheet", "_row"])
    table = table.append_column("_file", _repeat(display, length))
    table = table.append_column("_file_sha256", _repeat(sha256, length))
    table = table.append_column("_sheet", sheet_column)
    return table.append_column("_row", row_column)


def _null_text(length: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.nulls(length, pa.int32()), pa.array([], pa.string()))


def _raw_schema(sheet: Sheet) -> pa.Schema:
    """The raw frame in memory: every text column dictionary-encoded, then _row."""
    fields = [pa.field(name, _TEXT_DICTIONARY) for name in sheet.column_names]
    fields += [pa.field(name, _TEXT_DICTIONARY) for name in PROVENANCE_COLUMNS[:3]]
    fields.append(pa.field("_row", pa.int64()))
    fields.append(pa.field(PROBLEMS_COLUMN, _TEXT_DICTIONARY))
    return pa.schema(fields)


class _RawWriters:
    """One parquet writer per sheet, opened at the sheet's first rows; the union over files.

    The writing happens in a second thread, in the order of the ``write`` calls, while the
    next file is read (parquet encoding is outside the GIL). On exit every sheet has its
    file (a sheet no file had: no rows, all the columns), and ``rows``/``paths`` give each
    sheet's row count and file.
    """

    def __init__(self, raw_dir: Path) -> None:
        self.raw_dir = raw_dir
        self.rows: dict[str, int] = {name: 0 for name in SHEETS}
        self.paths = {name: raw_dir / f"{name}.parquet" for name in SHEETS}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: list[Future[None]] = []

    def __enter__(self) -> _RawWriters:
        return self

    def write(self, name: str, table: pa.Table) -> None:
        self.rows[name] += table.num_rows
        self._pending.append(self._pool.submit(self._write, name, table))

    def _write(self, name: str, table: pa.Table) -> None:
        schema = _raw_schema(SHEETS[name])
        if PROBLEMS_COLUMN not in table.column_names:  # a mapped export's sheet
            table = table.append_column(PROBLEMS_COLUMN, _null_text(table.num_rows))
        writer = self._writers.get(name)
        if writer is None:
            writer = self._writers[name] = self._open(name, schema)
        # one row group per file's sheet: it reads back as one chunk per column
        writer.write_table(
            table.select(schema.names).cast(schema), row_group_size=max(len(table), 1)
        )

    def _open(self, name: str, schema: pa.Schema) -> pq.ParquetWriter:
        # no Arrow schema in the file: the dictionary-encoded columns read back as string;
        # no statistics (min/max of every text column cost a third of the writing)
        return pq.ParquetWriter(
            self.paths[name],
            schema,
            use_dictionary=[name for name in schema.names if name != "_row"],  # as they are
            column_encoding={"_row": "DELTA_BINARY_PACKED"},  # consecutive numbers: ~nothing
            compression="none",
            write_statistics=False,
            write_batch_size=_WRITE_BATCH_ROWS,
            store_schema=False,
        )

    def __exit__(self, *exc_info: Any) -> None:
        try:
            for pending in self._pending:
                pending.result()  # a writing error is raised here
        finally:
            self._pool.shutdown(wait=True)
            for writer in self._writers.values():
                writer.close()
        if exc_info[0] is not None:
            return
        for name, sheet in SHEETS.items():
            if name not in self._writers:
                with self._open(name, _raw_schema(sheet)) as writer:
                    writer.write_table(_raw_schema(sheet).empty_table())


def _header_name(value: Any) -> str:
    return "" if value is None else str(value).strip().lower()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return _shorten(text[0]) if text else type(exc).__name__


def _shorten(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
