"""Checks of an input workbook's container before a parser opens it, and a scan of a sheet's
XML for what the cell reader (fastexcel) does not report.

A workbook is either a zip package (``.xlsx``, ``.xlsm``, ``.ods``) or an OLE2 compound file
(legacy ``.xls``, or an encrypted Office file). Before fastexcel/calamine parse anything:

* zip: the directory must be readable (else "corrupt or truncated"); it may list at most
  ``max_zip_members`` parts, whose declared uncompressed sizes together stay within
  ``max_uncompressed_bytes``, and no part of ``min_ratio_check_bytes`` or more may be
  compressed more than ``max_compression_ratio`` to 1 (the ``ingest_limits`` of the
  methodology file). Every XML part's prolog is read (never the part as a whole) and a part
  that declares a DOCTYPE -- the only place XML entities can be declared, so the way to an
  entity-expansion bomb or an external entity -- is refused. A part that inflates beyond its
  declared size or fails its CRC is caught by :mod:`zipfile` when a sheet is scanned;
* OLE2: an ``EncryptedPackage`` directory entry is a password-protected Office file,
  refused with a line that says so; any other OLE2 file goes to the reader as a legacy
  ``.xls`` workbook.

:func:`scan_sheet_xml` streams one worksheet part of an ``.xlsx`` (4 MiB at a time, with the
bytes of a row never split across two reads) and returns the cells fastexcel reads as empty
although they are not: error cells (``t="e"``; fastexcel gives null), formulas without a
cached value (a workbook written by a library, never calculated; fastexcel gives null) and
the merged ranges; asked to (``formulas``), also every formula cell that has a cached value,
for a workbook whose cached values cannot be trusted: one that declares
``<calcPr fullCalcOnLoad="1"/>`` (:func:`recalculated_on_load`) asks the program that opens
it to calculate every formula again, which is what a library writes when it never calculated
them (xlsxwriter caches 0 for every formula), so a cached value there is a placeholder.
Regular expressions run only on the 4 MiB pieces that hold a formula or an error cell, and
match only the cells at fault, so a sheet without them costs one decompression and a few
byte searches. :func:`phantom_leap_day_cells` finds the cells holding Excel's serial day 60,
1900-02-29, a day that never existed (Excel counts 1900 as a leap year, as Lotus 1-2-3 did),
which the cell reader renders as 1900-02-28.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from thio.methodology import IngestLimits

_OLE2_ENTRY_SIZE = 128
_ENCRYPTED_NAMES = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
_OLE2_SCAN_CHUNK = 1 << 22
_XML_PROLOG_BYTES = 1 << 16
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_SCAN_CHUNK = 1 << 22
_MAX_CARRY = 1 << 26  # a row longer than this is scanned in pieces (a cell may be missed)
_MAX_FOUND = 100_000  # cells at fault listed per sheet; a sheet with more is refused

_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"

_REF_RE = re.compile(rb'\br="([A-Z]{1,3})(\d{1,7})"')
# a formula cell whose formula is not followed by a non-empty cached value <v>
_NO_VALUE_RE = re.compile(
    rb"<(?:\w+:)?c\b([^>]*)>\s*<(?:\w+:)?f\b(?:[^>]*/>|[^>]*>([^<]*)</(?:\w+:)?f>)"
    rb"(?!\s*<(?:\w+:)?v\b[^>]*>[^<])"
)
# an error cell (t="e") and its cached value, e.g. #DIV/0!
_ERROR_RE = re.compile(
    rb'<(?:\w+:)?c\b([^>]*\bt="e"[^>]*)>(?:(?!</(?:\w+:)?c>).)*?'
    rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>",
    re.DOTALL,
)
# any formula cell (with or without a cached value): the formula's text, when the cell has it
# (a shared formula's other cells only point at it: <f t="shared" si="0"/>)
_FORMULA_CELL_RE = re.compile(
    rb"<(?:\w+:)?c\b([^>]*)>\s*<(?:\w+:)?f\b(?:[^>]*/>|[^>]*>([^<]*)</(?:\w+:)?f>)"
)
_CACHED_VALUE_RE = re.compile(rb"\s*<(?:\w+:)?v\b[^>]*>[^<]")
# Excel's serial day 60 (any time of that day) as a number cell's value
_DAY_60_RE = re.compile(
    rb"<(?:\w+:)?c\b([^>]*)>(?:(?!</(?:\w+:)?c>).)*?<(?:\w+:)?v>60(?:\.\d*)?</(?:\w+:)?v>",
    re.DOTALL,
)
_TEXT_TYPE_RE = re.compile(rb'\bt="(?:s|str|inlineStr|e|b)"')
_CALC_PR_RE = re.compile(rb"<(?:\w+:)?calcPr\b[^>]*>")
_FULL_CALC_RE = re.compile(rb'\bfullCalcOnLoad\s*=\s*["\'](?:1|true)["\']')
_MERGE_RE = re.compile(
    rb'<(?:\w+:)?mergeCell\b[^>]*\bref="([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})"'
)
_XML_ENTITIES = {b"&lt;": b"<", b"&gt;": b">", b"&quot;": b'"', b"&apos;": b"'", b"&amp;": b"&"}
_ENTITY_RE = re.compile(rb"&(?:lt|gt|quot|apos|amp);")


class FileRejected(Exception):
    """An input file that cannot be used as a whole; the message is the one line to show."""


@dataclass
class SheetScan:
    """What :func:`scan_sheet_xml` found, in 0-based sheet coordinates (row, column)."""

    errors: list[tuple[int, int, str]] = field(default_factory=list)  # the error text
    no_value: list[tuple[int, int, str]] = field(default_factory=list)  # the formula
    # formula cells with a cached value (only when scanned for them): the formula, or ""
    formulas: list[tuple[int, int, str]] = field(default_factory=list)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1

    def __bool__(self) -> bool:
        return bool(self.errors or self.no_value or self.formulas or self.merges)


def safe_name(name: str) -> str:
    """A name from the input for a one-line message: control characters shown as ``?``."""
    return "".join(char if char.isprintable() else "?" for char in name)


# ---------------------------------------------------------------- zip packages


def check_zip(path: Path, display: str, limits: IngestLimits) -> None:
    """Refuse a zip package that is corrupt, too big once unpacked, or holds a DOCTYPE."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise FileRejected(
            f"{display}: cannot be read as a workbook (corrupt or truncated zip: {_reason(exc)})"
        ) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_members:
            raise FileRejected(
                f"{display}: refused: the workbook has {len(infos):,} parts, above the limit "
                f"of {limits.max_zip_members:,} (ingest_limits.max_zip_members)"
            )
        total = sum(info.file_size for info in infos)
        if total > limits.max_uncompressed_bytes:
            raise FileRejected(
                f"{display}: refused: the workbook would unpack to {total:,} bytes, above the "
                f"limit of {limits.max_uncompressed_bytes:,} "
                "(ingest_limits.max_uncompressed_bytes; a decompression bomb?)"
            )
        for info in infos:
            if info.file_size < limits.min_ratio_check_bytes:
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_compression_ratio:
                raise FileRejected(
                    f"{display}: refused: part {_part(info)} is compressed {ratio:,.0f} to 1, "
                    f"above the limit of {limits.max_compression_ratio:g} to 1 "
                    "(ingest_limits.max_compression_ratio; a decompression bomb?)"
                )
        for info in infos:
            if info.filename.lower().endswith(_XML_SUFFIXES) and not info.is_dir():
                try:
                    with archive.open(info) as stream:
                        declares = declares_dtd(stream.read(_XML_PROLOG_BYTES))
                except Exception as exc:  # zipfile's, zlib's, an unknown compression ...
                    raise FileRejected(
                        f"{display}: cannot be read as a workbook (part {_part(info)}: "
                        f"{_reason(exc)})"
                    ) from None
                if declares:
                    raise FileRejected(
                        f"{display}: refused: part {_part(info)} declares a DOCTYPE "
                        "(XML entities are not accepted in a workbook: an entity bomb or an "
                        "external entity?)"
                    )


def declares_dtd(head: bytes) -> bool:
    """Whether an XML document's prolog (its first bytes) declares a DOCTYPE.

    The prolog is the XML declaration, comments, processing instructions and white space
    before the root element; a DOCTYPE can only be there. A prolog that does not end within
    ``head`` counts as declaring one (nothing is let through unread).
    """
    text = _utf8(head)
    position = 0
    length = len(text)
    while True:
        while position < length and text[position] in b" \t\r\n":
            position += 1
        if position >= length:
            return len(head) >= _XML_PROLOG_BYTES  # only white space: unsure if cut
        if text.startswith(b"<?", position):
            end = text.find(b"?>", position + 2)
            if end < 0:
                return True
            position = end + 2
        elif text.startswith(b"<!--", position):
            end = text.find(b"-->", position + 4)
            if end < 0:
                return True
            position = end + 3
        else:
            # "<!DOCTYPE" (in any case) or any other markup declaration; else the root element
            return text.startswith(b"<!", position)


def _utf8(head: bytes) -> bytes:
    """The bytes as UTF-8 (an XML part may be UTF-16, with or without a byte-order mark)."""
    if head.startswith(codecs.BOM_UTF8):
        return head[3:]
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[2:].decode(encoding, errors="ignore").encode()
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="ignore").encode()
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="ignore").encode()
    return head


def _part(info: zipfile.ZipInfo) -> str:
    name = safe_name(info.filename)
    return name if len(name) <= 80 else name[:77] + "..."


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------- OLE2 compound files


def check_ole2(path: Path, display: str) -> None:
    """Refuse an encrypted (password-protected) Office file; a legacy .xls passes.

    An encrypted ``.xlsx`` is an OLE2 file with the streams ``EncryptionInfo`` and
    ``EncryptedPackage``; their names are in the directory, whose entries (128 bytes, the
    name first, in UTF-16) start at multiples of 128 bytes of the file.
    """
    tail = b""
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_OLE2_SCAN_CHUNK):
            data = tail + chunk
            base = offset - len(tail)
            for name in _ENCRYPTED_NAMES:
                start = data.find(name)
                while start >= 0:
                    if (base + start) % _OLE2_ENTRY_SIZE == 0:
                        raise FileRejected(
                            f"{display}: the workbook is password-protected (encrypted); "
                            "save it without a password and send it again"
                        )
                    start = data.find(name, start + 1)
            tail = data[-64:]
            offset += len(chunk)


# ---------------------------------------------------------------- sheet XML


def sheet_member(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip part of a worksheet, from the workbook and its relations (None: not found).

    Both parts have passed :func:`check_zip` (no DOCTYPE); ElementTree (expat) never
    fetches an external entity.
    """
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    rel_id = None
    for element in workbook.iter(f"{_MAIN_NS}sheet"):
        if element.get("name") == sheet_name:
            rel_id = element.get(f"{_REL_NS}id")
    target = None
    for element in relations.iter(f"{_PKG_REL_NS}Relationship"):
        if element.get("Id") == rel_id:
            target = element.get("Target")
    if not target:
        return None
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def recalculated_on_load(path: Path) -> bool:
    """Whether an .xlsx workbook declares ``fullCalcOnLoad`` (its cached formula values are
    placeholders to be calculated on opening). The workbook part has passed
    :func:`check_zip`; an unreadable one counts as not declaring it."""
    try:
        with zipfile.ZipFile(path) as archive:
            calc = _CALC_PR_RE.search(archive.read("xl/workbook.xml"))
    except (KeyError, zipfile.BadZipFile, OSError, ValueError):
        return False
    return calc is not None and _FULL_CALC_RE.search(calc.group(0)) is not None


def phantom_leap_day_cells(path: Path, sheet_name: str) -> list[tuple[int, int]]:
    """0-based sheet (row, column) of the number cells of an .xlsx sheet holding Excel's
    serial day 60 (1900-02-29). Only called for a sheet where a date column shows
    1900-02-28, so the whole part is read at once (such a sheet is a small one)."""
    found: list[tuple[int, int]] = []
    with zipfile.ZipFile(path) as archive:
        member = sheet_member(archive, sheet_name)
        if member is None or member not in archive.NameToInfo:
            return found
        data = archive.read(member)
    for match in _DAY_60_RE.finditer(data):
        if _TEXT_TYPE_RE.search(match.group(1)):
            continue
        place = _place(match.group(1))
        if place is not None:
            found.append(place)
    return found


def scan_sheet_xml(path: Path, sheet_name: str, formulas: bool = False) -> SheetScan:
    """Error cells, formulas without a cached value and merged ranges of an .xlsx sheet;
    with ``formulas``, also the formula cells that have a cached value.

    Raises :class:`FileRejected`'s cause (zipfile.BadZipFile, OSError, ...) to the caller
    when the part is corrupt; returns an empty scan when the sheet's part is not found.
    """
    scan = SheetScan()
    with zipfile.ZipFile(path) as archive:
        member = sheet_member(archive, sheet_name)
        if member is None or member not in archive.NameToInfo:
            return scan
        with archive.open(member) as stream:
            _scan_stream(stream, scan, formulas)
    return scan


def _scan_stream(stream: IO[bytes], scan: SheetScan, formulas: bool = False) -> None:
    carry = b""
    while True:
        chunk = stream.read(_SCAN_CHUNK)
        data = carry + chunk
        if chunk:
            cut = data.rfind(b"row>") + 4  # after a row's start or end tag: no cell split
            if cut < 4:
                cut = len(data) if len(data) > _MAX_CARRY else 0
        else:
            cut = len(data)
        piece, carry = data[:cut], data[cut:]
        if piece:
            _scan_piece(piece, scan, formulas)
        if not chunk:
            return


def _scan_piece(piece: bytes, scan: SheetScan, formulas: bool = False) -> None:
    # a cheap byte search first: most sheets have no formula at all
    if (b"<f" in piece or b":f" in piece) and _has_formula(piece):
        for match in (_FORMULA_CELL_RE if formulas else _NO_VALUE_RE).finditer(piece):
            place = _place(match.group(1))
            if place is None:
                continue
            formula = _unescape(match.group(2) or b"").decode("utf-8", "replace")
            if formulas and _CACHED_VALUE_RE.match(piece, match.end()):
                scan.formulas.append((*place, formula))
            else:
                scan.no_value.append((*place, formula))
    if b't="e"' in piece:
        for match in _ERROR_RE.finditer(piece):
            place = _place(match.group(1))
            if place is not None:
                scan.errors.append((*place, _unescape(match.group(2)).decode("utf-8", "replace")))
    if b"mergeCell" in piece:
        for match in _MERGE_RE.finditer(piece):
            first_col, first_row, last_col, last_row = match.groups()
            scan.merges.append(
                (int(first_row) - 1, column_index(first_col), int(last_row) - 1,
                 column_index(last_col))
            )  # fmt: skip
    if len(scan.errors) + len(scan.no_value) + len(scan.formulas) + len(scan.merges) > _MAX_FOUND:
        raise FileRejected(
            f"more than {_MAX_FOUND:,} error cells, uncalculated formulas or merged ranges"
        )


_FORMULA_TAG_RE = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formula(piece: bytes) -> bool:
    return _FORMULA_TAG_RE.search(piece) is not None


def _place(attributes: bytes) -> tuple[int, int] | None:
    """0-based (row, column) of a cell from its ``r`` attribute (None: no reference)."""
    match = _REF_RE.search(attributes)
    if match is None:
        return None
    return int(match.group(2)) - 1, column_index(match.group(1))


def column_index(letters: bytes | str) -> int:
    """0-based column number of a column's letters: A -> 0, Z -> 25, AA -> 26."""
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    number = 0
    for letter in letters:
        number = number * 26 + (ord(letter) - 64)
    return number - 1


def _unescape(text: bytes) -> bytes:
    return _ENTITY_RE.sub(lambda match: _XML_ENTITIES[match.group(0)], text)
