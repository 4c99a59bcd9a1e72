"""Formatted Excel sheets with xlsxwriter: identifiers always as text, same content same bytes."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

EXCEL_MAX_ROWS = 1_048_576
FIXED_TIME = dt.datetime(2000, 1, 1)
MIN_PRINT_SCALE = 70  # percent: below this, printed text is too small to read
A4_POINTS = (595, 842)  # portrait width, height
MARGIN_INCHES = 0.4  # left and right


def new_workbook(path: Path, title: str | None = None, constant_memory: bool = False):
    """An xlsxwriter workbook that writes every text as text (no numbers, formulas or links
    made of it) with fixed document properties, so the same content gives the same bytes."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": constant_memory, "strings_to_numbers": False,
         "strings_to_formulas": False, "strings_to_urls": False},
    )  # fmt: skip
    wb.set_properties(
        {"created": FIXED_TIME, "author": "dp4kit"} | ({"title": title} if title else {})
    )
    return wb


def print_scale(widths: Sequence[float], landscape: bool = True) -> int:
    """The print scale (percent) at which columns of these widths (Excel's character units)
    fit one A4 page wide, but never below MIN_PRINT_SCALE: a wider sheet prints on more
    pages across rather than in unreadable type."""
    # Calibri 11: 7 px a character at 96 dpi, and a tenth more as LibreOffice lays it out
    points = sum(w * 7 + 5 for w in widths) * 0.75 * 1.1
    room = A4_POINTS[landscape] - 72 * 2 * MARGIN_INCHES
    return int(max(MIN_PRINT_SCALE, min(100, room * 100 // max(points, 1))))


def print_setup(ws, widths: Sequence[float] | None, header_rows: tuple[int, int] | None,
                landscape: bool = True) -> None:  # fmt: skip
    """A4, the header rows repeated on every page, pages numbered within the sheet (`Halaman
    2 dari 5` counts this sheet's pages, not the workbook's), the sheet's name in the footer.
    With `widths`, the scale that fits one page wide with a readable minimum; without, fit to
    the page's width (a sheet of narrow number columns)."""
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    if widths is None:
        ws.fit_to_pages(1, 0)
    else:
        ws.set_print_scale(print_scale(widths, landscape))
    if header_rows is not None:
        ws.repeat_rows(*header_rows)
    ws.set_margins(left=MARGIN_INCHES, right=MARGIN_INCHES, top=0.6, bottom=0.6)
    ws.set_start_page(1)
    ws.set_footer("&L&8dp4kit&C&8Halaman &P&R&8&A")


def row_height(texts: Sequence, widths: Sequence[float]) -> float:
    """The height (points) of a row whose texts wrap in columns of these widths: Excel and
    LibreOffice do not grow a row for wrapped text they did not lay out themselves."""
    lines = [len(textwrap.wrap(t, max(1, int(w)))) for t, w in zip(texts, widths, strict=True)
             if isinstance(t, str)]  # fmt: skip
    return 15.0 * max([1, *lines])


def sheet_name(name: str, used: set[str]) -> str:
    """Excel sheet names: ≤ 31 characters, none of []:*?/\\, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", " ", name or "TANPA NAMA").strip()[:31] or "TANPA NAMA"
    candidate, k = base, 2
    while candidate.upper() in used:
        suffix = f" ({k})"
        candidate, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(candidate.upper())
    return candidate


Sheet = tuple[str, list[list], list[str], "pa.Table | list[list]"]  # name, titles, header, body


def write_xlsx_sheets(
    path: Path,
    sheets: Sequence[Sheet],
    max_rows: int = EXCEL_MAX_ROWS,
    widths: dict[str, int] | None = None,
    print_ready: bool = False,
) -> None:
    """Write sheets of (name, title rows, header, body) to a new workbook (`add_sheets`)."""
    wb = new_workbook(path, constant_memory=True)
    add_sheets(wb, sheets, max_rows, widths, print_ready)
    wb.close()


def add_sheets(
    wb,
    sheets: Sequence[Sheet],
    max_rows: int = EXCEL_MAX_ROWS,
    widths: dict[str, int] | None = None,
    print_ready: bool = False,
    wrap: Sequence[str] = (),
    choices: dict[str, list[str]] | None = None,
) -> None:
    """Add sheets of (name, title rows, header, body). Every text cell is written as text
    (a value starting with `=` stays text: no formula injection; NIKs never become numbers).
    A body longer than the sheet limit continues on `name (2)`, `name (3)`, … `widths` fixes
    column widths by header; `print_ready` sets A4 landscape at a readable scale, header
    repeated (`print_setup`); columns named in `wrap` wrap their text; a column named in
    `choices` gets a drop-down of those values."""
    fixed, choices = widths or {}, choices or {}
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                          "valign": "top"})  # fmt: skip
    wrapping = wb.add_format({"text_wrap": True, "valign": "top"})
    top_aligned = wb.add_format({"valign": "top"})
    boxed = wb.add_format({"valign": "top", "border": 1})  # a box to write in on paper
    for name, titles, header, body in sheets:
        rows = body.to_pylist() if isinstance(body, pa.Table) else body
        if isinstance(body, pa.Table):
            rows = [list(r.values()) for r in rows]
        room = max_rows - len(titles) - 1
        chunks = [rows[i : i + room] for i in range(0, len(rows), room)] or [[]]
        wrapped = {j: fixed[h] for j, h in enumerate(header) if h in wrap}  # fixed widths
        plain = top_aligned if wrapped else None  # cells beside tall ones start at the top
        formats = [boxed if h in choices else wrapping if h in wrap else plain for h in header]
        for part, chunk in enumerate(chunks, 1):
            ws = wb.add_worksheet(name if part == 1 else f"{name} ({part})"[:31])
            for r, title in enumerate(titles):
                ws.write_row(r, 0, title, bold if r == 0 else None)
            top = len(titles)
            ws.set_row(top, row_height(header, [fixed.get(h, 99) for h in header]))
            ws.write_row(top, 0, header, head)
            widths = [max(8, len(h) + 2) for h in header]
            for i, row in enumerate(chunk, top + 1):
                if wrapped:
                    ws.set_row(i, row_height([row[j] for j in wrapped], wrapped.values()))
                for j, value in enumerate(row):
                    if value is None:
                        continue
                    if isinstance(value, str):
                        ws.write_string(i, j, value, formats[j])
                        if j < len(widths) and i < top + 200:
                            widths[j] = min(60, max(widths[j], len(value) + 2))
                    else:
                        ws.write(i, j, value, formats[j])
            widths = [fixed.get(h, w) for h, w in zip(header, widths, strict=True)]
            for j, w in enumerate(widths):
                ws.set_column(j, j, w)
            for j, h in enumerate(header):
                if h in choices and chunk:
                    ws.data_validation(top + 1, j, top + len(chunk), j, {
                        "validate": "list", "source": choices[h], "error_title": h,
                        "error_message": "Pilih salah satu: " + ", ".join(choices[h])})  # fmt: skip
            ws.freeze_panes(top + 1, 0)
            ws.autofilter(top, 0, top + len(chunk), max(0, len(header) - 1))
            if print_ready:
                print_setup(ws, widths, (top, top))
