"""Readers: CSV/TSV, Excel and Parquet into one all-text Arrow table with source file and row.

Everything is read as text so identifiers never become numbers and one bad value never hides
other errors; parsing into types is the profiles' job. Row numbers are 1-based with the header
as row 1, as a spreadsheet shows them (Parquet has no header: its first record is row 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import re
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.columns import SOURCE_FILE, SOURCE_ROW
from dp4kit.errors import InputFileError

log = logging.getLogger(__name__)

NULL_VALUES = ["", "-", "NULL", "null", "Null"]
DELIMITERS = [",", ";", "|", "\t"]
SNIFF_BYTES = 1 << 16
MAX_HEADER_BYTES = 1 << 24
KNOWN_HEADER_WORDS = {"NIK", "NO_KK", "NAMA_LGKP", "NKK", "NAMA"}


@dataclass
class SourceInfo:
    """What was read from one input file: for reports and the manifest."""

    path: str
    kind: str
    sha256: str
    rows: int = 0  # records read, broken ones included
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


@dataclass
class RawInput:
    """All inputs as one text table, plus rows that could not be split into fields."""

    table: pa.Table  # text columns + sumber_file + sumber_baris
    sources: list[SourceInfo]
    broken_rows: pa.Table  # sumber_file, sumber_baris, teks: rows with the wrong field count


ReadResult = tuple[pa.Table, pa.Array, pa.Table, SourceInfo]  # text, row numbers, broken rows, info
BROKEN_SCHEMA = pa.schema(
    [(SOURCE_FILE, pa.string()), (SOURCE_ROW, pa.int64()), ("teks", pa.string())]
)


def file_sha256(path: Path) -> str:
    """sha256 of a file, or of the sorted member hashes for a folder."""
    if path.is_dir():
        members = sorted(p for p in path.rglob("*") if p.is_file())
        joined = "".join(f"{m.relative_to(path)}:{file_sha256(m)}\n" for m in members)
        return hashlib.sha256(joined.encode()).hexdigest()
    return _fingerprint(path)[0]


def read_small_text(path: Path, what: str, limit: int, error=InputFileError) -> str:
    """A small text input (an exclusion list, a mapping file) as text, refused with one line
    when it is not a file, larger than `limit` bytes, or not UTF-8."""
    path = Path(path)
    try:
        if not path.exists():
            raise error(f"{path}: cannot read the {what}: no such file")
        if not path.is_file():
            raise error(f"{path}: the {what} is not a file")
        size = path.stat().st_size
        if size > limit:
            raise error(f"{path}: the {what} has {size:,} bytes, more than the {limit:,} "
                        "it may have; is this the right file?")  # fmt: skip
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or f"not UTF-8 text ({exc.reason})"
        raise error(f"{path}: cannot read the {what}: {reason}") from exc


def _fingerprint(path: Path) -> tuple[str, bool]:
    """sha256 of a file and whether it holds a NUL byte, in one read."""
    h, nul = hashlib.sha256(), False
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            nul = nul or b"\x00" in chunk
    return h.hexdigest(), nul


def _with_source(table: pa.Table, source: str, rows: pa.Array) -> pa.Table:
    table = table.append_column(SOURCE_FILE, pa.array([source] * len(table), pa.string()))
    return table.append_column(SOURCE_ROW, rows)


def clean_text(table: pa.Table) -> pa.Table:
    """Trim surrounding spaces (Oracle pads numbers) and turn blanks and `-` into nulls."""
    cols = []
    for col in table.columns:
        col = pc.utf8_trim_whitespace(col)
        cols.append(pc.if_else(pc.is_in(col, pa.array(NULL_VALUES)), None, col))
    return pa.table(cols, names=table.column_names)


def _drop_blank_records(table: pa.Table, rows: pa.Array) -> tuple[pa.Table, pa.Array]:
    if table.num_columns == 0 or table.num_rows == 0:
        return table, rows
    blank = pc.is_null(table.column(0))
    for col in table.columns[1:]:
        blank = pc.and_(blank, pc.is_null(col))
    if not pc.any(blank).as_py():
        return table, rows
    keep = pc.invert(blank)
    return table.filter(keep), pc.filter(rows, keep)


def _unique_headers(names: list[str], source: str) -> list[str]:
    cleaned = [n.strip().lstrip("\ufeff").strip() for n in names]
    seen = set()
    for n in cleaned:
        if n and n.upper() in seen:
            raise InputFileError(f"{source}: column '{n}' appears twice in the header")
        seen.add(n.upper())
    return [n or f"KOLOM_{i + 1}" for i, n in enumerate(cleaned)]


def _read_head(path: Path) -> bytes:
    """The first bytes of a text file: at least SNIFF_BYTES and the whole header line
    (a header can be longer than the sniff window), up to MAX_HEADER_BYTES."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
        while b"\n" not in head and len(head) < MAX_HEADER_BYTES:
            more = f.read(SNIFF_BYTES)
            if not more:
                break
            head += more
        return head + f.read(SNIFF_BYTES) if b"\n" in head[-SNIFF_BYTES:] else head


def _sniff_text(head: bytes, source: str) -> tuple[str, str, list[str]]:
    """Encoding, delimiter and header of a delimited text file, from its first bytes."""
    if not head.strip():
        raise InputFileError(f"{source}: the file is empty")
    if head.count(b"\x00") > len(head) // 100:  # UTF-16, a database dump, an image…
        raise InputFileError(
            f"{source}: not a text file (binary data); expected CSV (UTF-8), xlsx or Parquet"
        )
    if head.startswith(b"PK\x03\x04"):
        raise InputFileError(
            f"{source}: looks like a zip/xlsx file but the name does not end in .xlsx"
        )
    try:
        text = head.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a multi-byte character cut by the sniff window
            text, encoding = head[: exc.start].decode("utf-8"), "utf-8"
        else:
            text, encoding = head.decode("cp1252", errors="replace"), "cp1252"
    text = text.lstrip("\ufeff")
    header_line = text.splitlines()[0] if text.splitlines() else ""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    delimiter = max(counts, key=counts.get)
    if counts[delimiter] == 0:
        raise InputFileError(
            f"{source}: cannot find a delimiter (, ; | or tab) in the header line; "
            "is this a SIAK export?"
        )
    header = next(csv.reader([header_line.replace("\x00", "")], delimiter=delimiter))
    return encoding, delimiter, header


LONE_BYTE = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, after surrogateescape
NON_ASCII = re.compile("[\u0080-\udc7f\udd00-\U0010ffff]")  # real non-ASCII characters


def _decode_per_row(path: Path) -> tuple[pa.Buffer | None, list[int]]:
    """A file that is UTF-8 except some lines (one name typed on a Windows PC): those lines
    decoded as cp1252, the rest as UTF-8; returns the file as UTF-8 and the line numbers.
    A file with no valid UTF-8 character beyond ASCII is cp1252 as a whole: (None, [])."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    first = LONE_BYTE.search(text)
    if first is None or NON_ASCII.search(text) is None:
        return None, []
    pieces, lines, last, line_no = [], [], 0, 1
    for found in LONE_BYTE.finditer(text, first.start()):  # only the few lines with bad bytes
        if found.start() < last:
            continue
        start = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.start())
        end = len(text) if end < 0 else end
        line_no += text.count("\n", last, start)
        raw = text[start:end].encode("utf-8", "surrogateescape")
        pieces += [text[last:start], raw.decode("cp1252", errors="replace")]
        lines.append(line_no)
        last = end
    pieces.append(text[last:])
    return pa.py_buffer("".join(pieces).encode("utf-8")), lines


def _nul_rows(table: pa.Table, rows: pa.Array, source: str, delimiter: str):
    """Rows holding a NUL byte are broken rows (BARIS_RUSAK), wherever they stand."""
    if table.num_rows == 0 or table.num_columns == 0:
        return table, rows, BROKEN_SCHEMA.empty_table()
    has_nul = None
    for col in table.columns:
        found = pc.fill_null(pc.match_substring(col, "\x00"), False)
        has_nul = found if has_nul is None else pc.or_(has_nul, found)
    if not pc.any(has_nul).as_py():
        return table, rows, BROKEN_SCHEMA.empty_table()
    bad = table.filter(has_nul)
    cells = [pc.replace_substring(pc.fill_null(c, ""), "\x00", "\\x00") for c in bad.columns]
    text = pc.binary_join_element_wise(*cells, delimiter)
    broken = pa.table(
        {
            SOURCE_FILE: pa.array([source] * bad.num_rows, pa.string()),
            SOURCE_ROW: pc.filter(rows, has_nul),
            "teks": text,
        },
        schema=BROKEN_SCHEMA,
    )
    keep = pc.invert(has_nul)
    return table.filter(keep), pc.filter(rows, keep), broken


def read_csv(path: Path) -> ReadResult:
    """Read a delimited text file (delimiter and encoding detected) as text columns."""
    import pyarrow.csv as pv

    source = str(path)
    # the fingerprint is computed beside the parse (hashlib releases the GIL)
    hashing = ThreadPoolExecutor(1).submit(_fingerprint, path)
    info = SourceInfo(path=source, kind="csv", sha256="")
    encoding, delimiter, header = _sniff_text(_read_head(path), source)
    names = _unique_headers(header, source)
    info.delimiter = delimiter
    block_size = 1 << 24
    data: Path | pa.Buffer = path

    def attempt(enc: str, threads: bool) -> tuple[pa.Table, list]:
        bad: list = []

        def on_invalid(row) -> str:
            bad.append((row.number, row.text))
            return "skip"

        table = pv.read_csv(
            data if isinstance(data, Path) else pa.BufferReader(data),
            read_options=pv.ReadOptions(
                encoding=enc,
                column_names=names,
                skip_rows=1,
                use_threads=threads,
                block_size=block_size,
            ),  # fmt: skip
            parse_options=pv.ParseOptions(
                delimiter=delimiter, invalid_row_handler=on_invalid, ignore_empty_lines=False
            ),
            convert_options=pv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=NULL_VALUES,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),  # fmt: skip
        )
        return table, bad

    def per_row() -> bool:
        """Switch to per-line decoding if the file mixes UTF-8 and cp1252 lines."""
        nonlocal data
        decoded, lines = _decode_per_row(path)
        if decoded is None:
            return False
        data = decoded
        shown = ", ".join(map(str, lines[:10])) + (", …" if len(lines) > 10 else "")
        info.warnings.append(
            f"{len(lines)} line(s) not valid UTF-8 (line {shown}): read as cp1252; "
            "check the names on them"
        )
        log.info("%s: %d line(s) not valid UTF-8, read as cp1252", source, len(lines))
        return True

    encodings = ["utf-8", "cp1252", "latin-1"]
    if encoding != "utf-8" and not per_row():
        encodings = encodings[1:]
    size = path.stat().st_size
    while True:
        enc = encodings[0]
        try:
            table, bad = attempt(enc, threads=True)
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            message = str(exc)
            if "straddl" in message and block_size < size + 1:  # one line longer than a block
                block_size = min(block_size * 4, size + 1)
                continue
            if "UTF8" in message or "decode" in message.lower():
                if isinstance(data, Path) and enc == "utf-8" and per_row():
                    continue
                if len(encodings) > 1 and isinstance(data, Path):
                    encodings.pop(0)
                    continue
            first_line = message.splitlines()[0]
            raise InputFileError(f"{source}: cannot parse as CSV: {first_line}") from exc
    if enc != "utf-8":
        info.warnings.append(f"not valid UTF-8: read as {enc}; check names with accents")
        log.info("%s: not valid UTF-8, read as %s", source, enc)
    info.encoding = enc if isinstance(data, Path) else "utf-8+cp1252"

    info.sha256, has_nul = hashing.result()
    if bad:  # only a serial read knows the line numbers of broken rows
        table, bad = attempt(enc, threads=False)
        bad_lines = sorted(n for n, _ in bad)
        all_lines = pa.array(range(2, table.num_rows + len(bad) + 2), pa.int64())
        rows = pc.filter(all_lines, pc.invert(pc.is_in(all_lines, pa.array(bad_lines, pa.int64()))))
        broken = pa.table(
            {
                SOURCE_FILE: [source] * len(bad),
                SOURCE_ROW: [n for n, _ in bad],
                "teks": [t for _, t in bad],
            },
            schema=BROKEN_SCHEMA,
        )
    else:
        rows = pa.array(range(2, table.num_rows + 2), pa.int64())
        broken = BROKEN_SCHEMA.empty_table()
    if has_nul:
        table, rows, with_nul = _nul_rows(table, rows, source, delimiter)
        if with_nul.num_rows:
            broken = pa.concat_tables([broken, with_nul]).sort_by(SOURCE_ROW)
    table, rows = _drop_blank_records(clean_text(table), rows)
    info.rows = table.num_rows + broken.num_rows
    return table, rows, broken, info


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
    header = _unique_headers([str(c) if c not in (None, "") else "" for c in rows[h]], source)
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
    table, row_numbers = _drop_blank_records(clean_text(table), row_numbers)
    info.rows = table.num_rows + broken.num_rows
    return table, row_numbers, broken, info


def _read_parquet_folder(path: Path, partitioning) -> pa.Table:
    """All files of a Parquet folder under one schema: the union of their columns (a column
    one file lacks is empty for that file only). Files whose column types conflict are
    refused, naming the column."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
    schemas = [pq.read_schema(f) for f in files]
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
        raise InputFileError(
            f"{path}: its Parquet files disagree on a column's type "
            f"({str(exc).splitlines()[0]}); export them with one schema"
        ) from exc
    discovered = ds.dataset(path, format="parquet", partitioning=partitioning)
    keys = discovered.partitioning.schema if discovered.partitioning is not None else None
    names = set(unified.names)
    extra = [f for f in (keys or []) if f.name not in names]
    schema = pa.schema([*unified, *extra])
    return ds.dataset(path, schema=schema, format="parquet", partitioning=partitioning).to_table()


def read_parquet(path: Path) -> ReadResult:
    """Read a Parquet file or folder (hive partitions included); every column cast to text."""
    import pyarrow.parquet as pq

    source = str(path)
    info = SourceInfo(path=source, kind="parquet", sha256=file_sha256(path))
    import pyarrow.dataset as ds

    # hive keys such as kode_kabkota=32.04 must stay text, not be inferred as numbers
    partitioning = ds.HivePartitioning.discover(infer_dictionary=True)
    try:
        read = _read_parquet_folder if path.is_dir() else lambda p, _: pq.read_table(p)
        table = read(path, partitioning)
    except (pa.ArrowException, OSError) as exc:
        raise InputFileError(
            f"{source}: cannot read as Parquet: {str(exc).splitlines()[0]}"
        ) from exc
    cols = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_floating(col.type):
            # a float identifier has already lost digits: keep the `.0` so the NIK rule says so
            col = pc.cast(col, pa.string())
        cols.append(col if pa.types.is_string(col.type) else pc.cast(col, pa.string()))
    table = pa.table(cols, names=_unique_headers(table.column_names, source))
    rows = pa.array(range(1, table.num_rows + 1), pa.int64())
    table, rows = _drop_blank_records(clean_text(table), rows)
    info.rows = table.num_rows
    return table, rows, BROKEN_SCHEMA.empty_table(), info


READERS: dict[str, Callable[..., ReadResult]] = {
    ".csv": read_csv, ".tsv": read_csv, ".txt": read_csv,
    ".xlsx": read_xlsx, ".xlsm": read_xlsx,
    ".parquet": read_parquet, ".pq": read_parquet,
}  # fmt: skip


def read_table(path: Path, sheet: str | None = None) -> ReadResult:
    """Read one input, chosen by its suffix (a folder is read as a Parquet dataset)."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file or folder")
    if path.is_dir():
        if not any(path.rglob("*.parquet")):
            raise InputFileError(f"{path}: a folder must hold Parquet files (*.parquet)")
        reader = read_parquet
    else:
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            raise InputFileError(
                f"{path}: unsupported file type '{path.suffix}' (supported: {', '.join(READERS)})"
            )
        if path.stat().st_size == 0:
            raise InputFileError(f"{path}: the file is empty")
    if reader is read_xlsx:
        return read_xlsx(path, sheet)
    return reader(path)


def read_inputs(paths: Sequence[Path], sheet: str | None = None) -> RawInput:
    """Read several inputs as one text table (columns matched by name, case-insensitively)."""
    tables, broken, sources = [], [], []
    for path in paths:
        try:
            table, rows, bad, info = read_table(Path(path), sheet)
        except OSError as exc:  # permission denied, a vanished file, an I/O error
            raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        if table.num_rows == 0 and bad.num_rows == 0:
            raise InputFileError(f"{path}: the file has a header but no data rows")
        tables.append(_with_source(table, info.path, rows))
        broken.append(bad)
        sources.append(info)
    tables = _align_case(tables)
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    return RawInput(table, sources, pa.concat_tables(broken))


def _align_case(tables: list[pa.Table]) -> list[pa.Table]:
    """Rename columns so `Nik` in one file and `NIK` in another become one column."""
    first: dict[str, str] = {}
    out = []
    for t in tables:
        names = [first.setdefault(n.upper(), n) for n in t.column_names]
        out.append(t.rename_columns(names))
    return out
