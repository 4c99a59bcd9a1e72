"""Formatted Excel sheets with xlsxwriter: identifiers always as text, same content same bytes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

EXCEL_MAX_ROWS = 1_048_576
FIXED_TIME = dt.datetime(2000, 1, 1)


def sheet_name(name: str, used: set[str]) -> str:
    """Excel sheet names: ≤ 31 characters, none of []:*?/\\, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", " ", name or "TANPA NAMA").strip()[:31] or "TANPA NAMA"
    candidate, k = base, 2
    while candidate.upper() in used:
        suffix = f" ({k})"
        candidate, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(candidate.upper())
    return candidate


def write_xlsx_sheets(
    path: Path,
    sheets: Sequence[tuple[str, list[list], list[str], pa.Table | list[list]]],
    max_rows: int = EXCEL_MAX_ROWS,
    widths: dict[str, int] | None = None,
    print_ready: bool = False,
) -> None:
    """Write sheets of (name, title rows, header, body). Every text cell is written as text
    (a value starting with `=` stays text: no formula injection; NIKs never become numbers).
    A body longer than the sheet limit continues on `name (2)`, `name (3)`, … `widths` fixes
    column widths by header; `print_ready` sets A4 landscape, one page wide, header repeated.
    The file has fixed document properties, so the same content gives the same bytes."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
         "strings_to_urls": False},
    )  # fmt: skip
    wb.set_properties({"created": FIXED_TIME, "author": "dp4kit"})
    fixed = widths or {}
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    for name, titles, header, body in sheets:
        rows = body.to_pylist() if isinstance(body, pa.Table) else body
        if isinstance(body, pa.Table):
            rows = [list(r.values()) for r in rows]
        room = max_rows - len(titles) - 1
        chunks = [rows[i : i + room] for i in range(0, len(rows), room)] or [[]]
        for part, chunk in enumerate(chunks, 1):
            ws = wb.add_worksheet(name if part == 1 else f"{name} ({part})"[:31])
            for r, title in enumerate(titles):
                ws.write_row(r, 0, title, bold if r == 0 else None)
            top = len(titles)
            ws.write_row(top, 0, header, head)
            widths = [max(8, len(h) + 2) for h in header]
            for i, row in enumerate(chunk, top + 1):
                for j, value in enumerate(row):
                    if value is None:
                        continue
                    if isinstance(value, str):
                        ws.write_string(i, j, value)
                        if j < len(widths) and i < top + 200:
                            widths[j] = min(60, max(widths[j], len(value) + 2))
                    else:
                        ws.write(i, j, value)
            for j, w in enumerate(widths):
                ws.set_column(j, j, fixed.get(header[j], w))
            ws.freeze_panes(top + 1, 0)
            ws.autofilter(top, 0, top + len(chunk), max(0, len(header) - 1))
            if print_ready:
                ws.set_paper(9)  # A4
                ws.set_landscape()
                ws.fit_to_pages(1, 0)
                ws.repeat_rows(top)
                ws.set_footer("&CHalaman &P dari &N")
    wb.close()
