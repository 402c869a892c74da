"""Mapping files: read a survey tool's export as the sheets of the input contract.

A mapping file (``schemas/mappings/*.yaml``, given with ``thio run --mapping FILE``) says,
as data, how the tables of one kind of export become the contract's sheets (``firms``,
``items``, ``sota``, ``ahp``, ``weights``, ``programs``)::

    format: kobo_xlsx            # kobo_xlsx | odk_zip | surveycto_csv
    tables:                      # the export's tables the sheets are read from
      submissions:
        sheet: THIO technometric survey   # workbook sheet, or CSV file in the zip
        key: _index              # the column a repeat's rows point at
        keep: {column: _validation_status, values: [validation_status_approved], blank: true}
      t_items:
        sheet: t_items
        parent: submissions      # a repeat: each row belongs to one parent row ...
        link: _parent_index      # ... the one whose key this column holds
      # SurveyCTO's wide CSV holds a repeat as columns <field>_1, <field>_2, ... of the
      # submission's row:  t_items: {parent: submissions, wide: true}
    sheets:
      items:                     # a contract sheet: one or more parts, each from one table
        - table: t_items
          columns:               # contract column: an export column, or one of
            item_id: t_items/t_item_id
            firm_id: {parent: firm/firm_id}   # a column of the parent table
            component: {value: T}             # a constant
            # {run: round_id}: the round id given to the run
            # {column: X, map: {label: code}}: values replaced (others kept as they are)
            # {column: X, date_format: "%b %d, %Y"}: dates rewritten as ISO
      sota:
        - table: t_items
          columns: {...}
          melt:                  # wide columns -> long rows: one row per non-empty cell
            into: score
            cells:
              t_items/t_sota1/t1_op_complexity: {criterion: T.op_complexity, rater: "1"}

Export columns are matched case-insensitively, surrounding spaces ignored. Every cell is
cleaned as ingest cleans a canonical file's cells (text, stripped, empty -> null, Excel
midnight dates -> ISO dates). Rows of a table are kept when its ``keep`` filter passes and
its parent row was kept (a repeat row of a left-out submission is left out too); a repeat row
whose parent is not in the export is kept with its parent's columns empty, so validation
quarantines it. Nothing is validated here beyond what is needed to read: the rows go through
the same validation as a canonical file's.

Provenance: each mapped row's ``_sheet`` is the export's sheet (or the CSV file's name in the
zip, or the CSV file's stem for a single CSV file) and ``_row`` its row number there (header
= row 1); rows melted from one export row share it. The work is columnar (pyarrow compute
on whole columns; no Python loop over rows or cells). Nothing from the mapping or the export
is formatted into SQL or into a path.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from thio.contract import SHEETS
from thio.errors import ThioError
from thio.yamlfile import InvalidYaml, load_yaml

FORMATS = ("kobo_xlsx", "odk_zip", "surveycto_csv")
RUN_VALUES = ("round_id",)
SOURCE_KEYS = ("column", "parent", "value", "run")
# an ODK Central zip member is read into memory: refuse one that inflates beyond this
MAX_MEMBER_BYTES = 2 << 30
_WIDE_SUFFIX_RE = re.compile(r"^(.*)_([0-9]+)$")


class MappingError(ThioError):
    """A mapping file that cannot be used; the message names the file and the key."""


class ExportRejected(Exception):
    """An export that cannot be read with the mapping; the message is the one line to show."""


# ---------------------------------------------------------------- the mapping file


@dataclass(frozen=True)
class Keep:
    """Rows kept: those whose ``column`` is one of ``values`` (case-insensitive) or blank."""

    column: str
    values: tuple[str, ...]
    blank: bool


@dataclass(frozen=True)
class Table:
    """One table of the export: a sheet, a CSV file, or a wide repeat inside its parent."""

    name: str
    sheet: str | None
    key: str | None = None
    parent: str | None = None
    link: str | None = None
    wide: bool = False
    keep: Keep | None = None


@dataclass(frozen=True)
class Source:
    """Where one contract column's values come from (exactly one of the four kinds)."""

    column: str | None = None
    parent: str | None = None
    value: str | None = None
    run: str | None = None
    map: dict[str, str] | None = None
    date_format: str | None = None

    def describe(self) -> str:
        if self.value is not None:
            return f"constant {self.value!r}"
        if self.run is not None:
            return f"the run's {self.run}"
        what = f"parent column {self.parent!r}" if self.parent else f"column {self.column!r}"
        if self.map:
            what += ", values mapped"
        if self.date_format:
            what += f", dates {self.date_format!r}"
        return what


@dataclass(frozen=True)
class Melt:
    """Wide columns to long rows: each non-empty cell of ``cells`` becomes a row, its value
    in ``into`` and the cell's constants (e.g. criterion, rater) in their columns."""

    into: str
    cells: tuple[tuple[str, dict[str, str]], ...]
    map: dict[str, str] | None = None

    @property
    def constant_columns(self) -> list[str]:
        return list(dict.fromkeys(name for _, constants in self.cells for name in constants))


@dataclass(frozen=True)
class Part:
    """One part of a contract sheet: the rows read from one table."""

    sheet: str
    index: int
    table: str
    columns: dict[str, Source]
    melt: Melt | None = None

    @property
    def where(self) -> str:
        return f"sheets.{self.sheet}[{self.index}]"

    def mapped_columns(self) -> set[str]:
        names = set(self.columns)
        if self.melt:
            names |= {self.melt.into, *self.melt.constant_columns}
        return names


@dataclass(frozen=True)
class Mapping:
    """A loaded, checked mapping file."""

    path: Path
    sha256: str
    format: str
    tables: dict[str, Table]
    parts: tuple[Part, ...]
    raw: bytes = field(repr=False, default=b"")

    @property
    def name(self) -> str:
        return self.path.name

    def archive(self, home: Path) -> str:
        """Keep the mapping's bytes as ``<home>/mappings/<sha256>.yaml`` (read-only, written
        once, atomically) so a round can be read again as it was; returns that path
        relative to ``home``."""
        target = Path(home) / "mappings" / f"{self.sha256}.yaml"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(self.raw)
                os.chmod(temporary, 0o444)
                os.replace(temporary, target)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
        return str(target.relative_to(home))

    def record(self) -> dict[str, str]:
        """What ingest.json records of the mapping used."""
        return {"file": self.path.name, "path": str(self.path), "sha256": self.sha256,
                "format": self.format}  # fmt: skip


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file; :class:`MappingError` names the file and the key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError(f"mapping {path}: cannot be read ({exc.strerror})") from None
    try:
        document = load_yaml(raw)
    except InvalidYaml as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise MappingError(f"{path.name}: not valid YAML{where}") from None
    checker = _Checker(path.name)
    fmt, tables, parts = checker.document(document)
    return Mapping(path, hashlib.sha256(raw).hexdigest(), fmt, tables, tuple(parts), raw)


class _Checker:
    """Checks a mapping document; every error names the file and the key path."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name

    def fail(self, where: str, message: str) -> None:
        raise MappingError(f"{self.file_name}: {where}: {message}")

    def dict_of(self, value: Any, where: str, allowed: tuple[str, ...] | None = None) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"expected a mapping of keys to values, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail(where, f"key {key!r} is not text")
            if allowed is not None and key not in allowed:
                self.fail(f"{where}.{key}", f"unknown key (expected one of {', '.join(allowed)})")
        return value

    def text(self, value: Any, where: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(where, f"expected text, got {_kind(value)}")
        text = str(value).strip()
        if not text:
            self.fail(where, "is empty")
        return text

    def document(self, document: Any) -> tuple[str, dict[str, Table], list[Part]]:
        document = self.dict_of(document, "the file", ("format", "description", "tables",
                                                       "sheets"))  # fmt: skip
        for key in ("format", "tables", "sheets"):
            if key not in document:
                self.fail(key, "missing")
        fmt = self.text(document["format"], "format")
        if fmt not in FORMATS:
            self.fail("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
        tables = self.tables(document["tables"], fmt)
        parts = self.sheets(document["sheets"], tables)
        return fmt, tables, parts

    def tables(self, value: Any, fmt: str) -> dict[str, Table]:
        raw = self.dict_of(value, "tables")
        if not raw:
            self.fail("tables", "names no table")
        tables: dict[str, Table] = {}
        for name, spec in raw.items():
            where = f"tables.{name}"
            spec = self.dict_of(spec, where, ("sheet", "key", "keep", "parent", "link", "wide"))
            wide = spec.get("wide", False)
            if not isinstance(wide, bool):
                self.fail(f"{where}.wide", "expected true or false")
            keep = None
            if "keep" in spec:
                keep = self.keep(spec["keep"], f"{where}.keep")
            table = Table(
                name=name,
                sheet=self.text(spec["sheet"], f"{where}.sheet") if "sheet" in spec else None,
                key=self.text(spec["key"], f"{where}.key") if "key" in spec else None,
                parent=self.text(spec["parent"], f"{where}.parent") if "parent" in spec else None,
                link=self.text(spec["link"], f"{where}.link") if "link" in spec else None,
                wide=wide,
                keep=keep,
            )
            if wide and fmt != "surveycto_csv":
                self.fail(
                    f"{where}.wide", "only a SurveyCTO wide CSV (surveycto_csv) has wide repeats"
                )
            if wide and table.parent is None:
                self.fail(f"{where}.wide", "a wide repeat needs its parent")
            if fmt == "surveycto_csv" and table.sheet is not None:
                self.fail(f"{where}.sheet", "a SurveyCTO export is one CSV file: no sheet names")
            if fmt != "surveycto_csv" and table.sheet is None:
                self.fail(where, "needs sheet (the sheet or CSV file name in the export)")
            if table.parent is not None and not wide and table.link is None:
                self.fail(where, "needs link (the column holding the parent row's key)")
            if table.link is not None and table.parent is None:
                self.fail(f"{where}.link", "a link needs a parent")
            tables[name] = table
        roots = [table.name for table in tables.values() if table.parent is None]
        if fmt == "surveycto_csv" and len(roots) != 1:
            self.fail(
                "tables", "a SurveyCTO export is one CSV file: exactly one table without parent"
            )
        for table in tables.values():
            if table.parent is None:
                continue
            where = f"tables.{table.name}.parent"
            parent = tables.get(table.parent)
            if parent is None:
                self.fail(where, f"no table {table.parent!r} (tables: {', '.join(tables)})")
            if table.wide and parent.wide:
                self.fail(where, "a wide repeat inside a wide repeat is not supported")
            if not table.wide and parent.key is None:
                self.fail(where, f"the parent table {parent.name} needs key (what link points at)")
            seen = {table.name}
            ancestor: Table | None = parent
            while ancestor is not None:
                if ancestor.name in seen:
                    self.fail(where, "the parents form a cycle")
                seen.add(ancestor.name)
                ancestor = tables.get(ancestor.parent) if ancestor.parent else None
        return tables

    def keep(self, value: Any, where: str) -> Keep:
        spec = self.dict_of(value, where, ("column", "values", "blank"))
        if "column" not in spec:
            self.fail(where, "needs column")
        values = spec.get("values", [])
        if not isinstance(values, list):
            self.fail(f"{where}.values", f"expected a list, got {_kind(values)}")
        blank = spec.get("blank", False)
        if not isinstance(blank, bool):
            self.fail(f"{where}.blank", "expected true or false")
        if not values and not blank:
            self.fail(where, "keeps nothing (give values, or blank: true)")
        return Keep(
            column=self.text(spec["column"], f"{where}.column"),
            values=tuple(self.text(v, f"{where}.values[{i}]") for i, v in enumerate(values)),
            blank=blank,
        )

    def sheets(self, value: Any, tables: dict[str, Table]) -> list[Part]:
        raw = self.dict_of(value, "sheets", tuple(SHEETS))
        for name in (name for name, sheet in SHEETS.items() if sheet.required):
            if name not in raw:
                self.fail("sheets", f"the required contract sheet {name} is not mapped")
        parts: list[Part] = []
        for sheet_name, spec in raw.items():
            entries = spec if isinstance(spec, list) else [spec]
            if not entries:
                self.fail(f"sheets.{sheet_name}", "names no part")
            for index, entry in enumerate(entries):
                parts.append(self.part(sheet_name, index, entry, tables))
        return parts

    def part(self, sheet_name: str, index: int, value: Any, tables: dict[str, Table]) -> Part:
        where = f"sheets.{sheet_name}[{index}]"
        spec = self.dict_of(value, where, ("table", "columns", "melt"))
        if "table" not in spec:
            self.fail(where, "needs table (one of the tables)")
        table_name = self.text(spec["table"], f"{where}.table")
        table = tables.get(table_name)
        if table is None:
            self.fail(f"{where}.table", f"no table {table_name!r} (tables: {', '.join(tables)})")
        sheet = SHEETS[sheet_name]
        names = ", ".join(sheet.column_names)
        columns: dict[str, Source] = {}
        for column, source in self.dict_of(spec.get("columns", {}), f"{where}.columns").items():
            if column not in sheet.column_names:
                self.fail(f"{where}.columns.{column}", f"not a column of {sheet_name} ({names})")
            columns[column] = self.source(source, f"{where}.columns.{column}", table)
        melt = self.melt(spec["melt"], f"{where}.melt", sheet, columns) if "melt" in spec else None
        part = Part(sheet_name, index, table_name, columns, melt)
        mapped = part.mapped_columns()
        missing = [c.name for c in sheet.columns if c.required and c.name not in mapped]
        if missing:
            self.fail(where, f"required column{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing)} of {sheet_name} not mapped")  # fmt: skip
        if sheet_name in ("ahp", "weights") and not mapped & {"firm_id", "panel_id"}:
            self.fail(where, f"{sheet_name} needs firm_id or panel_id (the scope)")
        return part

    def source(self, value: Any, where: str, table: Table) -> Source:
        if not isinstance(value, dict):
            return Source(column=self.text(value, where))
        spec = self.dict_of(value, where, (*SOURCE_KEYS, "map", "date_format"))
        given = [key for key in SOURCE_KEYS if key in spec]
        if len(given) != 1:
            self.fail(where, f"give exactly one of {', '.join(SOURCE_KEYS)}")
        kind = given[0]
        text = self.text(spec[kind], f"{where}.{kind}")
        if kind == "run" and text not in RUN_VALUES:
            self.fail(f"{where}.run", f"{text!r} is not one of {', '.join(RUN_VALUES)}")
        if kind == "parent" and table.parent is None:
            self.fail(f"{where}.parent", f"table {table.name} has no parent")
        if kind in ("value", "run") and ("map" in spec or "date_format" in spec):
            self.fail(where, "map and date_format apply to columns only")
        date_format = None
        if "date_format" in spec:
            date_format = self.text(spec["date_format"], f"{where}.date_format")
            if "%" not in date_format:
                self.fail(f"{where}.date_format", "expected a strptime format such as %b %d, %Y")
        return Source(
            **{kind: text},
            map=self.value_map(spec["map"], f"{where}.map") if "map" in spec else None,
            date_format=date_format,
        )

    def value_map(self, value: Any, where: str) -> dict[str, str]:
        raw = self.dict_of(value, where) if isinstance(value, dict) else None
        if raw is None or not raw:
            self.fail(where, "expected a non-empty mapping of export values to contract values")
        return {self.text(k, f"{where}"): self.text(v, f"{where}.{k}") for k, v in raw.items()}

    def melt(self, value: Any, where: str, sheet: Any, columns: dict[str, Source]) -> Melt:
        spec = self.dict_of(value, where, ("into", "cells", "map"))
        for key in ("into", "cells"):
            if key not in spec:
                self.fail(where, f"needs {key}")
        into = self.text(spec["into"], f"{where}.into")
        if into not in sheet.column_names:
            self.fail(f"{where}.into", f"not a column of {sheet.name}")
        if into in columns:
            self.fail(f"{where}.into", f"{into} is also under columns")
        raw = self.dict_of(spec["cells"], f"{where}.cells")
        if not raw:
            self.fail(f"{where}.cells", "names no cell")
        cells = []
        keys: set[str] | None = None
        for column, constants in raw.items():
            at = f"{where}.cells.{column}"
            constants = self.dict_of(constants if constants is not None else {}, at)
            for name in constants:
                if name not in sheet.column_names:
                    self.fail(f"{at}.{name}", f"not a column of {sheet.name}")
                if name in columns or name == into:
                    self.fail(f"{at}.{name}", f"{name} is also under columns or into")
            if keys is not None and set(constants) != keys:
                self.fail(at, "every cell must give the same columns ("
                              f"{', '.join(sorted(keys)) or 'none'})")  # fmt: skip
            keys = set(constants)
            cells.append(
                (column, {name: self.text(v, f"{at}.{name}") for name, v in constants.items()})
            )
        value_map = self.value_map(spec["map"], f"{where}.map") if "map" in spec else None
        return Melt(into, tuple(cells), value_map)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


# ---------------------------------------------------------------- reading an export


@dataclass
class _Loaded:
    """One export table as read: cleaned text columns (plain strings) by lower-case header."""

    sheet: str  # the name the export gives it (for _sheet and messages)
    headers: list[str]  # as in the export
    columns: dict[str, pa.Array]  # lower-cased header -> column
    duplicates: set[str]
    rows: np.ndarray  # sheet row number of each row (int64)

    @property
    def length(self) -> int:
        return len(self.rows)


@dataclass
class _Resolved:
    """A table with its rows' fates: kept or not, and the position of each one's parent."""

    table: Table
    loaded: _Loaded
    kept: np.ndarray  # bool per row
    parent_pos: pa.Array | None  # int64 position in the parent's rows (null: orphan)


@dataclass
class MappedExport:
    """An export read through a mapping: the contract sheets and what was left aside."""

    sheets: dict[str, pa.Table]  # contract columns (text) + _sheet + _row
    columns_found: dict[str, list[str]]
    unused_sheets: list[str]
    notes: list[str] = field(default_factory=list)  # rows left out by keep filters, ...


class _Export:
    """An opened export: loads its tables on demand (each at most once)."""

    def __init__(self, mapping: Mapping, path: Path, display: str, strict: bool) -> None:
        self.mapping = mapping
        self.path = path
        self.display = display
        self.strict = strict  # False: collect what is missing instead of rejecting
        self.missing: list[tuple[str, str, str]] = []  # (table, column, why)
        self.loaded: dict[str, _Loaded | None] = {}
        self.resolved: dict[str, _Resolved] = {}
        self._cache: dict[str, _Loaded | None] = {}
        self.sheet_names = self._open()

    # -- opening and loading ------------------------------------------------------------
    def _open(self) -> list[str]:
        fmt = self.mapping.format
        try:
            size = self.path.stat().st_size
            with self.path.open("rb") as handle:
                head = handle.read(8)
        except OSError as exc:
            raise ExportRejected(f"{self.display}: cannot be read ({exc.strerror})") from None
        if size == 0:
            raise ExportRejected(f"{self.display}: the file is empty (0 bytes)")
        if fmt == "surveycto_csv":
            if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
                raise ExportRejected(
                    f"{self.display}: a workbook or zip, not the CSV file {fmt} expects"
                )
            return [self.path.stem]
        if not head.startswith(b"PK\x03\x04"):
            what = "an .xlsx workbook" if fmt == "kobo_xlsx" else "a .zip of CSV files"
            raise ExportRejected(f"{self.display}: not {what} as {fmt} expects")
        if fmt == "odk_zip":
            try:
                with zipfile.ZipFile(self.path) as archive:
                    names = [info.filename for info in archive.infolist() if not info.is_dir()]
            except (zipfile.BadZipFile, OSError) as exc:
                raise ExportRejected(f"{self.display}: not a readable zip ({exc})") from None
            if any(name.lower() == "xl/workbook.xml" for name in names):
                raise ExportRejected(f"{self.display}: a workbook, not the zip of CSV files "
                                     "odk_zip expects")  # fmt: skip
            return names
        import fastexcel

        try:
            self._reader = fastexcel.read_excel(self.path)
            return list(self._reader.sheet_names)
        except Exception as exc:  # fastexcel raises its own error types
            raise ExportRejected(
                f"{self.display}: cannot be read as a workbook ({_first_line(exc)})"
            ) from None

    def sheet_for(self, table: Table) -> str | None:
        """The export's name of the table's sheet (matched case-insensitively)."""
        if table.sheet is None:
            return self.sheet_names[0]
        wanted = table.sheet.strip().lower()
        for name in self.sheet_names:
            if name.strip().lower() == wanted:
                return name
        return None

    def load(self, table: Table) -> _Loaded | None:
        sheet = self.sheet_for(table)
        if sheet is None:
            return None
        if sheet not in self._cache:
            if self.mapping.format == "kobo_xlsx":
                self._cache[sheet] = self._load_xlsx(sheet)
            elif self.mapping.format == "odk_zip":
                self._cache[sheet] = self._load_zip_member(sheet)
            else:
                self._cache[sheet] = self._load_csv(self.path, sheet)
        return self._cache[sheet]

    def _load_xlsx(self, sheet: str) -> _Loaded:
        from thio.ingest import _first_used_row

        try:
            batch = self._reader.load_sheet(sheet, header_row=None, dtypes="string", eager=True)
        except Exception as exc:
            raise ExportRejected(
                f"{self.display}, sheet {sheet}: cannot be read ({_first_line(exc)})"
            ) from None
        if batch.num_rows == 0 or batch.num_columns == 0:
            return _Loaded(sheet, [], {}, set(), np.zeros(0, np.int64))
        grid = pa.Table.from_batches([batch])
        header = [_header_text(column[0].as_py()) for column in grid.columns]
        data = [column.slice(1) for column in grid.columns]
        # the used range starts at sheet row start + 1; the header is its first row
        start = _first_used_row(self.path, "xlsx", sheet)
        return self._build(sheet, header, data, start + 2, excel=True)

    def _load_zip_member(self, member: str) -> _Loaded:
        try:
            with zipfile.ZipFile(self.path) as archive:
                info = archive.getinfo(member)
                if info.file_size > MAX_MEMBER_BYTES:
                    raise ExportRejected(
                        f"{self.display}, sheet {member}: {info.file_size} bytes unpacked, "
                        f"more than the {MAX_MEMBER_BYTES} read"
                    )
                data = archive.read(info)
        except (zipfile.BadZipFile, KeyError, OSError, RuntimeError) as exc:
            raise ExportRejected(
                f"{self.display}, sheet {member}: cannot be unpacked ({_first_line(exc)})"
            ) from None
        return self._load_csv(pa.BufferReader(data), member, head=data[: 1 << 16])

    def _load_csv(self, source: Any, sheet: str, head: bytes | None = None) -> _Loaded:
        from thio.ingest import _text_encoding

        if head is None:
            with open(source, "rb") as handle:
                head = handle.read(1 << 16)
        encoding = _text_encoding(head)
        if encoding is None:
            raise ExportRejected(f"{self.display}, sheet {sheet}: not a text file")
        lines = head.decode(encoding, errors="ignore").lstrip("\ufeff").splitlines()
        header = next(csv.reader(io.StringIO(lines[0] if lines else "")), [])
        header = [_header_text(cell) for cell in header]
        if not any(header):
            raise ExportRejected(
                f"{self.display}, sheet {sheet}: the first line has no column names"
            )
        names = [f"c{index}" for index in range(len(header))]
        try:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, encoding=encoding),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise ExportRejected(
                f"{self.display}, sheet {sheet}: cannot be read as CSV ({_first_line(exc)})"
            ) from None
        return self._build(sheet, header, list(table.columns), 2, excel=False)

    def _build(
        self, sheet: str, header: list[str], data: list[Any], first_row: int, *, excel: bool
    ) -> _Loaded:
        from thio.ingest import _clean

        columns: dict[str, pa.Array] = {}
        duplicates: set[str] = set()
        length = len(data[0]) if data else 0
        for name, column in zip(header, data, strict=True):
            key = name.lower()
            if not key:
                continue
            if key in columns:
                duplicates.add(key)
                continue
            # the cell rules of a canonical file (ingest), then plain text for the joins
            cleaned = _clean(column, excel=excel).combine_chunks()
            columns[key] = cleaned.cast(pa.string()) if length else pa.array([], pa.string())
        rows = np.arange(first_row, first_row + length, dtype=np.int64)
        loaded = _Loaded(sheet, [h for h in header if h], columns, duplicates, rows)
        if columns and length:
            # Excel leaves rows empty in every column below the data: not rows of the export
            empty = None
            for column in columns.values():
                mask = pc.is_null(column)
                empty = mask if empty is None else pc.and_(empty, mask)
            if pc.any(empty).as_py():
                keep = pc.invert(empty)
                loaded.columns = {k: v.filter(keep) for k, v in columns.items()}
                loaded.rows = rows[np.asarray(keep)]
        return loaded

    # -- columns ------------------------------------------------------------------------
    def column(self, table: Table, loaded: _Loaded, name: str, purpose: str, required: bool):
        """A column of a loaded table, or None when absent (rejected when ``required``)."""
        key = name.strip().lower()
        if key in loaded.duplicates:
            self._problem(table, loaded, name, f"appears twice in the header ({purpose})", True)
        if key in loaded.columns:
            return loaded.columns[key]
        self._problem(table, loaded, name, f"missing ({purpose})", required)
        return None

    def _problem(self, table: Table, loaded: _Loaded, name: str, why: str, required: bool):
        if self.strict and required:
            raise ExportRejected(
                f"{self.display}, sheet {_safe(loaded.sheet)}: column {name!r} {why}"
            )
        self.missing.append((table.name, name, why))

    # -- tables with their rows' fates ----------------------------------------------------
    def resolve(self, name: str) -> _Resolved | None:
        if name in self.resolved:
            return self.resolved[name]
        table = self.mapping.tables[name]
        parent = self.resolve(table.parent) if table.parent else None
        if table.parent and parent is None:
            return None
        if table.wide:
            assert parent is not None
            loaded, parent_pos = self._wide(table, parent.loaded)
        else:
            loaded = self.load(table)
            if loaded is None:
                where = f"sheet {table.sheet!r}"
                have = ", ".join(_safe(name) for name in self.sheet_names[:20])
                if self.strict:
                    raise ExportRejected(f"{self.display}: no {where} (table {name}); "
                                         f"the export has: {have}")  # fmt: skip
                self.missing.append((name, "", f"no {where} in the export"))
                return None
            parent_pos = None
            if parent is not None:
                parent_pos = self._link(table, loaded, parent)
        kept = np.ones(loaded.length, dtype=bool)
        if table.keep is not None:
            kept &= self._keep(table, loaded)
        if parent is not None and parent_pos is not None:
            # a row of a left-out parent is left out; an orphan (null) stays, for validation
            positions = parent_pos.fill_null(-1).to_numpy(zero_copy_only=False)
            has_parent = positions >= 0
            parent_kept = np.ones(len(positions), dtype=bool)
            parent_kept[has_parent] = parent.kept[positions[has_parent]]
            kept &= parent_kept
        resolved = _Resolved(table, loaded, kept, parent_pos)
        self.resolved[name] = resolved
        return resolved

    def _keep(self, table: Table, loaded: _Loaded) -> np.ndarray:
        keep = table.keep
        assert keep is not None
        column = self.column(table, loaded, keep.column, "the keep filter", True)
        if column is None:
            return np.ones(loaded.length, dtype=bool)
        values = pa.array([value.lower() for value in keep.values], pa.string())
        mask = pc.is_in(pc.utf8_lower(column), value_set=values)
        if keep.blank:
            mask = pc.or_(mask, pc.is_null(column))
        return np.asarray(mask.fill_null(False))

    def _link(self, table: Table, loaded: _Loaded, parent: _Resolved) -> pa.Array | None:
        key_name = parent.table.key
        assert key_name is not None and table.link is not None
        keys = self.column(parent.table, parent.loaded, key_name, f"the key of {table.name}", True)
        links = self.column(table, loaded, table.link, f"the link to {parent.table.name}", True)
        if keys is None or links is None:
            return pa.nulls(loaded.length, pa.int64())
        return pc.index_in(links, value_set=keys).cast(pa.int64())

    def _wide(self, table: Table, parent: _Loaded) -> tuple[_Loaded, pa.Array]:
        """A SurveyCTO repeat: the parent's columns <field>_<n> as rows, one per instance."""
        fields = {name.strip().lower() for name in self._referenced(table.name)}
        instances: dict[int, dict[str, pa.Array]] = {}
        for key, column in parent.columns.items():
            match = _WIDE_SUFFIX_RE.match(key)
            if match and match.group(1) in fields:
                instances.setdefault(int(match.group(2)), {})[match.group(1)] = column
        present = set().union(*[set(found) for found in instances.values()]) if instances else set()
        columns: dict[str, list[pa.Array]] = {name: [] for name in present}
        positions, numbers, rows = [], [], []
        base = np.arange(parent.length, dtype=np.int64)
        for number in sorted(instances):
            found = instances[number]
            # an instance that does not exist for a submission has every field blank
            used = None
            for column in found.values():
                valid = pc.is_valid(column)
                used = valid if used is None else pc.or_(used, valid)
            mask = np.asarray(used)
            for name in present:
                column = found.get(name)
                if column is None:
                    column = pa.nulls(parent.length, pa.string())
                columns[name].append(column.filter(mask))
            positions.append(base[mask])
            numbers.append(np.full(int(mask.sum()), number, dtype=np.int64))
            rows.append(parent.rows[mask])
        if not instances:
            empty = _Loaded(parent.sheet, [], {}, set(), np.zeros(0, np.int64))
            # no instance in any submission: nothing is missing, there is nothing to read
            empty.columns = {name: pa.array([], pa.string()) for name in fields}
            return empty, pa.array([], pa.int64())
        position = np.concatenate(positions)
        order = np.lexsort((np.concatenate(numbers), position))  # submission, then instance
        loaded = _Loaded(
            parent.sheet,
            sorted(present),
            {name: pa.concat_arrays(parts).take(order) for name, parts in columns.items()},
            set(),
            np.concatenate(rows)[order],
        )
        return loaded, pa.array(position[order])

    def _referenced(self, table_name: str) -> list[str]:
        names = []
        for part in self.mapping.parts:
            if part.table == table_name:
                names += [s.column for s in part.columns.values() if s.column]
                if part.melt:
                    names += [column for column, _ in part.melt.cells]
            table = self.mapping.tables.get(part.table)
            if table is not None and table.parent == table_name:
                names += [s.parent for s in part.columns.values() if s.parent]
        table = self.mapping.tables[table_name]
        if table.keep:
            names.append(table.keep.column)
        if table.key:
            names.append(table.key)
        if table.link:
            names.append(table.link)
        return names

    # -- contract sheets ------------------------------------------------------------------
    def part(self, part: Part, round_id: str) -> pa.Table | None:
        resolved = self.resolve(part.table)
        if resolved is None:
            return None
        table, loaded = resolved.table, resolved.loaded
        index = np.flatnonzero(resolved.kept)
        length = len(index)
        take = pa.array(index, pa.int64())
        sheet = SHEETS[part.sheet]
        columns: dict[str, pa.Array] = {}
        for name, source in part.columns.items():
            purpose = f"{part.sheet}.{name}"
            required = sheet.column(name).required
            if source.value is not None or source.run is not None:
                value = source.value if source.value is not None else round_id
                columns[name] = pa.array([value] * 1, pa.string()).take(
                    pa.array(np.zeros(length, np.int64))
                )
                continue
            if source.parent is not None:
                parent = self.resolved[table.parent]  # type: ignore[index]
                found = self.column(parent.table, parent.loaded, source.parent, purpose, required)
                if found is None:
                    continue
                assert resolved.parent_pos is not None
                values = found.take(resolved.parent_pos.take(take))
            else:
                assert source.column is not None
                found = self.column(table, loaded, source.column, purpose, required)
                if found is None:
                    continue
                values = found.take(take)
            if source.date_format:
                values = _iso_dates(values, source.date_format)
            if source.map:
                values = _replace(values, source.map)
            columns[name] = values
        frame = {"_sheet": [loaded.sheet], "_row": loaded.rows[index]}
        if part.melt is None:
            return _sheet_table(sheet, columns, length, frame)
        pieces = []
        for number, (cell, constants) in enumerate(part.melt.cells):
            found = self.column(table, loaded, cell, f"{part.sheet}.{part.melt.into}", True)
            if found is None:
                continue
            values = found.take(take)
            if part.melt.map:
                values = _replace(values, part.melt.map)
            # a blank cell is no row (a criterion not scored by assessor 2, a pair not asked)
            present = pc.is_valid(values)
            picked = {name: column.filter(present) for name, column in columns.items()}
            count = len(picked[next(iter(picked))]) if picked else int(pc.sum(present).as_py() or 0)
            picked[part.melt.into] = values.filter(present)
            for name, constant in constants.items():
                picked[name] = pa.array([constant], pa.string()).take(
                    pa.array(np.zeros(count, np.int64))
                )
            melted = _sheet_table(
                sheet, picked, count, {"_sheet": [loaded.sheet],
                                       "_row": loaded.rows[index][np.asarray(present)]}
            )  # fmt: skip
            order = np.flatnonzero(np.asarray(present)) * len(part.melt.cells) + number
            pieces.append((melted, order))
        if not pieces:
            return _sheet_table(sheet, {}, 0, {"_sheet": [loaded.sheet], "_row": loaded.rows[:0]})
        combined = pa.concat_tables([piece for piece, _ in pieces])
        # rows in export order: the export row, then the cells in mapping order
        order = np.argsort(np.concatenate([o for _, o in pieces]), kind="stable")
        return combined.take(pa.array(order))


def _sheet_table(sheet: Any, columns: dict[str, pa.Array], length: int, frame: dict) -> pa.Table:
    """Every contract column as text (null where unmapped), then _sheet and _row."""
    arrays = {}
    for name in sheet.column_names:
        arrays[name] = columns.get(name, pa.nulls(length, pa.string()))
    arrays["_sheet"] = pa.array(frame["_sheet"] * 1, pa.string()).take(
        pa.array(np.zeros(length, np.int64))
    )
    arrays["_row"] = pa.array(np.asarray(frame["_row"], dtype=np.int64))
    return pa.table(arrays)


def _replace(values: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """Values found among the map's keys replaced; the others kept as they are."""
    keys = pa.array(list(mapping), pa.string())
    position = pc.index_in(values, value_set=keys)
    replaced = pa.array(list(mapping.values()), pa.string()).take(position)
    return pc.if_else(pc.is_null(position), values, replaced)


def _iso_dates(values: pa.Array, date_format: str) -> pa.Array:
    """Dates in ``date_format`` rewritten as ISO; other text kept (validation judges it)."""
    parsed = pc.strptime(values, format=date_format, unit="s", error_is_null=True)
    iso = pc.strftime(parsed, format="%Y-%m-%d")
    return pc.if_else(pc.is_null(iso), values, iso)


def read_export(mapping: Mapping, path: Path, display: str, round_id: str) -> MappedExport:
    """Read one export through ``mapping`` into the contract sheets it maps.

    Raises :class:`ExportRejected` (one line naming the file, the sheet and the column) when
    the export is not of the mapping's format or lacks a sheet or a column the mapping needs
    (an optional contract column whose export column is absent is left empty).
    """
    export = _Export(mapping, Path(path), display, strict=True)
    sheets: dict[str, list[pa.Table]] = {}
    found: dict[str, set[str]] = {}
    for part in mapping.parts:
        table = export.part(part, round_id)
        assert table is not None  # strict: a missing table was rejected
        sheets.setdefault(part.sheet, []).append(table)
        found.setdefault(part.sheet, set()).update(
            name for name in part.mapped_columns()
            if name not in {column for t, column, _ in export.missing if t == part.table}
        )  # fmt: skip
    used = {export.sheet_for(table) for table in mapping.tables.values()}
    notes = []
    for resolved in export.resolved.values():
        left_out = int((~resolved.kept).sum())
        if left_out and resolved.table.keep is not None:
            keep = resolved.table.keep
            kept = ", ".join(keep.values) + (" or blank" if keep.blank else "")
            rows = "row" if left_out == 1 else "rows"
            notes.append(
                f"{display}, sheet {resolved.loaded.sheet}: {left_out} {rows} left out "
                f"({keep.column} not {kept}), with their repeat rows"
            )
    return MappedExport(
        sheets={name: pa.concat_tables(parts) for name, parts in sheets.items()},
        columns_found={
            name: [c for c in SHEETS[name].column_names if c in found[name]] for name in sheets
        },
        unused_sheets=[name for name in export.sheet_names if name not in used],
        notes=notes,
    )


def read_for_ingest(
    path: Path, display: str, mapping: Mapping, round_id: str
) -> tuple[dict[str, Any], list[str], list[str]]:
    """What ingest needs of one export: its contract sheets (ingest's sheet data), the
    export's sheets no table reads, and notes; a rejection as ingest's ``FileRejected``."""
    from thio.ingest import FileRejected, _SheetData

    try:
        export = read_export(mapping, path, display, round_id)
    except ExportRejected as exc:
        raise FileRejected(str(exc)) from None
    found = {
        name: _SheetData(table, export.columns_found[name], [])
        for name, table in export.sheets.items()
    }
    return found, export.unused_sheets, export.notes


# ---------------------------------------------------------------- mapping check


@dataclass
class CheckLine:
    """One line of ``thio mapping check``."""

    sheet: str
    table: str
    column: str
    status: str  # matched | missing
    required: bool
    source: str

    def __str__(self) -> str:
        where = f"{self.sheet}.{self.column} [{self.table}]"
        if self.status == "matched":
            return f"{where}: matched ({self.source})"
        need = "required" if self.required else "optional"
        return f"{where}: missing ({need}): {self.source}"


@dataclass
class CheckReport:
    """What ``thio mapping check`` prints: per contract column, and export columns unused."""

    lines: list[CheckLine]
    unused: dict[str, list[str]]  # export sheet -> its columns no part reads
    problems: list[str]  # the export could not be read
    notes: list[str] = field(default_factory=list)  # e.g. a table's sheet not in the export

    @property
    def ok(self) -> bool:
        """Every required column matched (and the export was readable)."""
        return not self.problems and not any(
            line.required and line.status != "matched" for line in self.lines
        )

    def text_lines(self) -> list[str]:
        out = [str(line) for line in self.lines]
        for sheet, columns in self.unused.items():
            if columns:
                out.append(f"unused in {sheet}: {', '.join(columns)}")
        out += [f"note: {note}" for note in self.notes]
        out += [f"problem: {problem}" for problem in self.problems]
        missing = sum(1 for line in self.lines if line.required and line.status != "matched")
        if self.ok:
            out.append("every required column is matched")
        else:
            out.append(f"{missing} required columns missing" if missing else "export unreadable")
        return out


def check_export(mapping: Mapping, path: Path, display: str | None = None) -> CheckReport:
    """Match ``mapping`` against an export without reading it into the round."""
    display = display or Path(path).name
    try:
        export = _Export(mapping, Path(path), display, strict=False)
    except ExportRejected as exc:
        return CheckReport([], {}, [str(exc)])
    lines: list[CheckLine] = []
    used: dict[str, set[str]] = {}
    for part in mapping.parts:
        sheet = SHEETS[part.sheet]
        try:
            resolved = export.resolve(part.table)
        except ExportRejected as exc:
            return CheckReport(lines, {}, [str(exc)])
        table = mapping.tables[part.table]

        def has(owner: _Resolved | None, name: str) -> bool:
            return owner is not None and name.strip().lower() in owner.loaded.columns

        def note(owner: _Resolved | None, name: str) -> None:
            if owner is not None:
                used.setdefault(owner.loaded.sheet, set()).add(name.strip().lower())

        parent = export.resolved.get(table.parent) if table.parent else None
        for column in sheet.columns:
            source = part.columns.get(column.name)
            melt = part.melt
            if source is not None:
                owner = parent if source.parent else resolved
                name = source.parent or source.column
                if name is None:
                    status, text = "matched", source.describe()
                else:
                    note(owner, name)
                    ok = has(owner, name)
                    status = "matched" if ok else "missing"
                    text = source.describe() if ok else f"no column {name!r} in the export"
            elif melt is not None and column.name == melt.into:
                cells = [cell for cell, _ in melt.cells]
                for cell in cells:
                    note(resolved, cell)
                absent = [cell for cell in cells if not has(resolved, cell)]
                status = "missing" if absent else "matched"
                text = (f"melted from {len(cells)} columns" if not absent else
                        f"{len(absent)} of {len(cells)} melted columns not in the export: "
                        f"{', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''}")  # fmt: skip
            elif melt is not None and column.name in melt.constant_columns:
                status, text = "matched", "constant per melted column"
            else:
                status, text = "missing", "not mapped"
            lines.append(CheckLine(part.sheet, part.table, column.name, status,
                                   column.required, text))  # fmt: skip
    for resolved in export.resolved.values():
        table = resolved.table
        for name in (table.key, table.link, table.keep.column if table.keep else None):
            if name:
                used.setdefault(resolved.loaded.sheet, set()).add(name.lower())
        if table.wide:
            # the parent's <field>_<n> columns are this table's fields
            fields = set(resolved.loaded.columns)
            parent = export.resolved[table.parent]  # type: ignore[index]
            for key in parent.loaded.columns:
                match = _WIDE_SUFFIX_RE.match(key)
                if (
                    match
                    and match.group(1) in fields
                    and match.group(1) in used.get(resolved.loaded.sheet, set())
                ):
                    used.setdefault(parent.loaded.sheet, set()).add(key)
    unused: dict[str, list[str]] = {}
    for resolved in export.resolved.values():
        if resolved.table.wide:
            continue
        loaded = resolved.loaded
        taken = used.get(loaded.sheet, set())
        unused[loaded.sheet] = [h for h in loaded.headers if h.lower() not in taken]
    # a table whose sheet the export lacks: its columns are listed missing above; say why
    absent = [f"table {table}: {why}" for table, column, why in export.missing if not column]
    return CheckReport(lines, unused, [], list(dict.fromkeys(absent)))


def _safe(name: str) -> str:
    """A name from the export for a one-line message: control characters shown as ``?``."""
    return "".join(char if char.isprintable() else "?" for char in name)


def _header_text(value: Any) -> str:
    return "" if value is None else str(value).strip().lstrip("\ufeff").strip()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = " ".join(text[0].split()) if text else type(exc).__name__
    return line if len(line) <= 120 else line[:117] + "..."
