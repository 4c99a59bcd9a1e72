"""CSV/TSV reader: encoding and delimiter sniffed, every field as text, rows with the wrong
field count or a NUL byte kept aside as broken rows (with their source row)."""

from __future__ import annotations

import csv
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.columns import SOURCE_FILE, SOURCE_ROW
from dp4kit.errors import InputFileError
from dp4kit.io.sources import (
    BROKEN_SCHEMA,
    NULL_VALUES,
    ReadResult,
    SourceInfo,
    clean_text,
    drop_blank_records,
    fingerprint,
    unique_headers,
)

log = logging.getLogger(__name__)

DELIMITERS = [",", ";", "|", "\t"]
SNIFF_BYTES = 1 << 16
MAX_HEADER_BYTES = 1 << 24
KNOWN_HEADER_WORDS = {"NIK", "NO_KK", "NAMA_LGKP", "NKK", "NAMA"}


def read_head(path: Path) -> bytes:
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


def sniff_text(head: bytes, source: str) -> tuple[str, str, list[str]]:
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
    fixed, lines, _ = cp1252_lines(text, 1, first.start())
    return pa.py_buffer(fixed.encode("utf-8")), lines


def cp1252_lines(text: str, line_no: int, start: int = 0) -> tuple[str, list[int], int]:
    """Text read with surrogateescape, each line holding a byte that is not UTF-8 decoded
    as cp1252 instead; also the numbers of those lines (counting from `line_no`, the number
    of the text's first line) and the number of the line after the text's last newline.
    `start`: where the first bad byte is (only the few lines with bad bytes are visited)."""
    pieces, lines, last = [], [], 0
    for found in LONE_BYTE.finditer(text, start):
        if found.start() < last:
            continue
        begin = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.start())
        end = len(text) if end < 0 else end
        line_no += text.count("\n", last, begin)
        raw = text[begin:end].encode("utf-8", "surrogateescape")
        pieces += [text[last:begin], raw.decode("cp1252", errors="replace")]
        lines.append(line_no)
        last = end
    pieces.append(text[last:])
    return "".join(pieces), lines, line_no + text.count("\n", last)


def nul_rows(table: pa.Table, rows: pa.Array, source: str, delimiter: str):
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


def csv_options(names: list[str], delimiter: str, encoding: str, block_size: int,
                threads: bool, on_invalid):  # fmt: skip
    """pyarrow's read, parse and convert options: every field text, nulls as SIAK spells
    them, rows with the wrong field count handed to `on_invalid`."""
    import pyarrow.csv as pv

    read = pv.ReadOptions(encoding=encoding, column_names=names, skip_rows=1,
                          use_threads=threads, block_size=block_size)  # fmt: skip
    parse = pv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                            ignore_empty_lines=False)  # fmt: skip
    convert = pv.ConvertOptions(column_types={n: pa.string() for n in names},
                                null_values=NULL_VALUES, strings_can_be_null=True,
                                quoted_strings_can_be_null=True)  # fmt: skip
    return read, parse, convert


def mixed_warning(lines: list[int]) -> str:
    shown = ", ".join(map(str, lines[:10])) + (", …" if len(lines) > 10 else "")
    return (f"{len(lines)} line(s) not valid UTF-8 (line {shown}): read as cp1252; "
            "check the names on them")  # fmt: skip


def read_csv(path: Path) -> ReadResult:
    """Read a delimited text file (delimiter and encoding detected) as text columns."""
    import pyarrow.csv as pv

    source = str(path)
    # the fingerprint is computed beside the parse (hashlib releases the GIL)
    hashing = ThreadPoolExecutor(1).submit(fingerprint, path)
    info = SourceInfo(path=source, kind="csv", sha256="")
    encoding, delimiter, header = sniff_text(read_head(path), source)
    names = unique_headers(header, source)
    info.delimiter = delimiter
    block_size = 1 << 24
    data: Path | pa.Buffer = path

    def attempt(enc: str, threads: bool) -> tuple[pa.Table, list]:
        bad: list = []

        def on_invalid(row) -> str:
            bad.append((row.number, row.text))
            return "skip"

        read, parse, convert = csv_options(names, delimiter, enc, block_size, threads, on_invalid)
        source_data = data if isinstance(data, Path) else pa.BufferReader(data)
        table = pv.read_csv(source_data, read_options=read, parse_options=parse,
                            convert_options=convert)  # fmt: skip
        return table, bad

    def per_row() -> bool:
        """Switch to per-line decoding if the file mixes UTF-8 and cp1252 lines."""
        nonlocal data
        decoded, lines = _decode_per_row(path)
        if decoded is None:
            return False
        data = decoded
        info.warnings.append(mixed_warning(lines))
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
        table, rows, with_nul = nul_rows(table, rows, source, delimiter)
        if with_nul.num_rows:
            broken = pa.concat_tables([broken, with_nul]).sort_by(SOURCE_ROW)
    table, rows = drop_blank_records(clean_text(table), rows)
    info.rows = table.num_rows + broken.num_rows
    return table, rows, broken, info
