"""Excel reader (python-calamine): every cell as text as the sheet shows it, Excel-rounded
NIKs kept as they are (the rules report them), oversized sheets refused before reading."""

from __future__ import annotations

import datetime as dt
import logging
import re
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.columns import SOURCE_FILE, SOURCE_ROW
from dp4kit.errors import InputFileError
from dp4kit.io.csv_reader import KNOWN_HEADER_WORDS
from dp4kit.io.sources import (
    BROKEN_SCHEMA,
    ReadResult,
    SourceInfo,
    clean_text,
    drop_blank_records,
    file_sha256,
    unique_headers,
)

log = logging.getLogger(__name__)


def _cell_text(value) -> str | None:
    """Text of a spreadsheet cell. 16-digit numbers keep their digits but show they were
    numbers (`3204110609970001.0`): Excel holds only 15 significant digits, so the NIK rule
    reports them instead of accepting a possibly rounded identifier."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _find_header(rows: list[list]) -> int:
    """Index of the header row: the first of the top rows naming a known SIAK/canonical column."""
    for i, row in enumerate(rows[:30]):
        words = {str(c).strip().upper() for c in row if c not in (None, "")}
        if words & KNOWN_HEADER_WORDS:
            return i
    for i, row in enumerate(rows):
        if any(c not in (None, "") for c in row):
            return i
    return 0


MAX_SHEET_CELLS = 200_000_000  # the reader holds the sheet's whole rectangle in memory
CELL_REF = re.compile(rb'<c r="([A-Z]{2,})\d')  # columns past Z (A to Z need no look)
ROW_REF = re.compile(rb'<row r="(\d+)"')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _sheet_part(archive: zipfile.ZipFile, name: str) -> str | None:
    """The zip member holding the worksheet called `name` (workbook.xml and its rels)."""
    import xml.etree.ElementTree as ET

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    try:
        book = ET.fromstring(archive.read("xl/workbook.xml"))
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError):
        return None
    ids = {s.get("name"): s.get(rel) for s in book.iter(f"{main}sheets") for s in s}
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    target = targets.get(ids.get(name), "")
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}" if target else None


def check_sheet_size(path: Path, name: str) -> None:
    """Refuse a sheet whose used area is too large to hold (one stray cell at XFD1048576 makes
    a 7 KB file span 17 billion cells), reading the cell positions from the sheet's XML as a
    stream before the reader allocates the rectangle."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _sheet_part(archive, name)
            if member is None or member not in archive.namelist():
                return
            height, width, tail = 0, 26, b""
            with archive.open(member) as stream:
                while chunk := stream.read(1 << 22):
                    data = tail + chunk
                    rows = ROW_REF.findall(data[-(1 << 16) :]) or ROW_REF.findall(data)
                    if rows:
                        height = max(height, int(rows[-1]))
                    for letters in set(CELL_REF.findall(data)):
                        width = max(width, _column_number(letters))
                    tail = data[-64:]
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # the reader reports a damaged file itself
    if height * width > MAX_SHEET_CELLS:
        raise InputFileError(
            f"{path}: sheet '{name}' spans {height:,} rows and {width:,} columns, too "
            "large to read; delete stray cells far from the data or save the sheet as CSV"
        )


def read_xlsx(path: Path, sheet: str | None = None) -> ReadResult:
    """Read the first (or named) sheet of a workbook; title rows above the header are skipped."""
    from python_calamine import CalamineWorkbook

    source = str(path)
    info = SourceInfo(path=source, kind="xlsx", sha256=file_sha256(path))
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        names = workbook.sheet_names
        if sheet is not None and sheet not in names:
            raise InputFileError(f"{source}: no sheet '{sheet}' (sheets: {', '.join(names)})")
        if not names:
            raise InputFileError(f"{source}: the workbook has no sheets")
        check_sheet_size(path, sheet or names[0])
        ws = workbook.get_sheet_by_name(sheet or names[0])
        rows = ws.to_python(skip_empty_area=False)
    except InputFileError:
        raise
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise InputFileError(
            f"{source}: cannot read as an Excel workbook ({type(exc).__name__})"
        ) from exc
    info.sheet = sheet or names[0]
    if not rows or not any(c not in (None, "") for row in rows for c in row):
        raise InputFileError(f"{source}: sheet '{info.sheet}' is empty")
    h = _find_header(rows)
    header = unique_headers([str(c) if c not in (None, "") else "" for c in rows[h]], source)
    body = rows[h + 1 :]
    width = len(header)
    columns = {
        name: pa.array([_cell_text(r[j]) if j < len(r) else None for r in body], pa.string())
        for j, name in enumerate(header)
    }
    table = pa.table(columns) if columns else pa.table({})
    extra = [i for i, r in enumerate(body) if any(c not in (None, "") for c in r[width:])]
    row_numbers = pa.array(range(h + 2, h + 2 + len(body)), pa.int64())
    broken = pa.table(
        {
            SOURCE_FILE: [source] * len(extra),
            SOURCE_ROW: [h + 2 + i for i in extra],
            "teks": [" | ".join("" if c is None else str(c) for c in body[i]) for i in extra],
        },
        schema=BROKEN_SCHEMA,
    )
    if extra:
        keep = pc.invert(pc.is_in(row_numbers, broken[SOURCE_ROW]))
        table, row_numbers = table.filter(keep), pc.filter(row_numbers, keep)
    table, row_numbers = drop_blank_records(clean_text(table), row_numbers)
    info.rows = table.num_rows + broken.num_rows
    return table, row_numbers, broken, info
