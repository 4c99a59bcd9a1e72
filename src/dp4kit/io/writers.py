"""Writers: atomic files and formatted Excel sheets (identifiers always as text)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa

EXCEL_MAX_ROWS = 1_048_576
FIXED_TIME = dt.datetime(2000, 1, 1)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds.
    The file is created 0600 (mkstemp): reports and job files may hold personal data."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sheet_name(name: str, used: set[str]) -> str:
    """Excel sheet names: ≤ 31 characters, none of []:*?/\\, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", " ", name or "TANPA NAMA").strip()[:31] or "TANPA NAMA"
    candidate, k = base, 2
    while candidate.upper() in used:
        suffix = f" ({k})"
        candidate, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(candidate.upper())
    return candidate


def work_folder(out_dir: Path) -> Path:
    """The hidden folder an output is written into before it is swapped in as out_dir."""
    return out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"


def replace_folder(tmp: Path, out_dir: Path, marker: str, what: str) -> None:
    """Swap a finished folder in; the previous one (if any) is removed only afterwards.
    An existing non-empty folder without `marker` is not ours: refuse to replace it."""
    from dp4kit.errors import OutputError

    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        if not (out_dir / marker).exists() and any(out_dir.iterdir()):
            raise OutputError(f"{out_dir}: exists and is not a dp4kit {what}; choose another --out")
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)$")


def clean_leftovers(folder: Path, name: str | None = None) -> list[str]:
    """Remove what killed runs left in `folder`: work folders (`.NAME.tmp-PID`, full of
    personal data) and previous outputs set aside (`.NAME.old-PID`) of processes that are
    gone. A previous output whose replacement never arrived is put back instead. Call it
    with the folder's lock held. `name` limits it to one output. Returns what it did."""
    from dp4kit.locking import pid_alive

    done = []
    if not folder.is_dir():
        return done
    for entry in sorted(folder.iterdir()):
        found = LEFTOVER.match(entry.name)
        if not found or (name is not None and found["name"] != name):
            continue
        pid = int(found["pid"])
        if pid == os.getpid() or pid_alive(pid):
            continue
        target = folder / found["name"]
        folder_kind = entry.is_dir() and not entry.is_symlink()
        if found["kind"] == "old" and folder_kind and not target.exists():
            entry.rename(target)
            done.append(f"restored {target.name} from an interrupted run")
            continue
        if folder_kind:
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        done.append(f"removed {entry.name} left by an interrupted run")
    return done


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
