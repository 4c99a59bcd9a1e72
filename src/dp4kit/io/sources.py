"""What every reader shares: the read result types, source facts (checksum, rows), and the
text clean-up all readers apply (SIAK's null spellings, blank records, duplicate headers)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.columns import SOURCE_FILE, SOURCE_ROW
from dp4kit.errors import InputFileError
from dp4kit.stages import in_threads

NULL_VALUES = ["", "-", "NULL", "null", "Null"]


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
    return fingerprint(path)[0]


def fingerprint(path: Path) -> tuple[str, bool]:
    """sha256 of a file and whether it holds a NUL byte, in one read."""
    h, nul = hashlib.sha256(), False
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            nul = nul or b"\x00" in chunk
    return h.hexdigest(), nul


def with_source(table: pa.Table, source: str, rows: pa.Array) -> pa.Table:
    """The text columns, then each row's source file and row (a part written by `split`
    carries its own source file). An input's own columns of those names are kept, renamed
    `…_masukan`."""
    own = (SOURCE_FILE, SOURCE_ROW)
    table = table.rename_columns([f"{n}_masukan" if n in own else n for n in table.column_names])
    if CARRIED_FILE in table.column_names:
        files = table[CARRIED_FILE]
        table = table.drop_columns([CARRIED_FILE])
    else:
        files = pa.array([source] * len(table), pa.string())
    return table.append_column(SOURCE_FILE, files).append_column(SOURCE_ROW, rows)


BROKEN_TEXT = "teks_baris_rusak"  # a broken row's text, in a part written by `split`
CARRIED_FILE = "__sumber_file"  # a part's source files, between its reader and with_source


def carried_provenance(table: pa.Table, rows: pa.Array) -> tuple[pa.Table, pa.Array, pa.Table]:
    """A part written by `split` names each row's source file and row (and holds the
    source's broken rows as their text): those replace the part's own row numbers, so every
    later report points into the original export."""
    names = table.column_names
    if SOURCE_FILE not in names or SOURCE_ROW not in names:
        return table, rows, BROKEN_SCHEMA.empty_table()
    rows = pc.cast(table[SOURCE_ROW], pa.int64())
    table = table.drop_columns([SOURCE_ROW])
    table = table.rename_columns([CARRIED_FILE if n == SOURCE_FILE else n
                                  for n in table.column_names])  # fmt: skip
    if BROKEN_TEXT not in names:
        return table, rows, BROKEN_SCHEMA.empty_table()
    text = table[BROKEN_TEXT]
    is_broken = pc.is_valid(text)
    broken = pa.table({SOURCE_FILE: table[CARRIED_FILE].filter(is_broken),
                       SOURCE_ROW: rows.filter(is_broken), "teks": text.filter(is_broken)},
                      schema=BROKEN_SCHEMA)  # fmt: skip
    keep = pc.invert(is_broken)
    return table.drop_columns([BROKEN_TEXT]).filter(keep), rows.filter(keep), broken


def clean_text(table: pa.Table) -> pa.Table:
    """Trim surrounding spaces (Oracle pads numbers) and turn blanks and `-` into nulls."""

    def clean(col: pa.ChunkedArray) -> pa.ChunkedArray:
        col = pc.utf8_trim_whitespace(col)
        return pc.if_else(pc.is_in(col, pa.array(NULL_VALUES)), None, col)

    return pa.table(in_threads(clean, table.columns, table.num_rows), names=table.column_names)


def drop_blank_records(table: pa.Table, rows: pa.Array) -> tuple[pa.Table, pa.Array]:
    if table.num_columns == 0 or table.num_rows == 0:
        return table, rows
    blank = pc.is_null(table.column(0))
    for col in table.columns[1:]:
        blank = pc.and_(blank, pc.is_null(col))
    if not pc.any(blank).as_py():
        return table, rows
    keep = pc.invert(blank)
    return table.filter(keep), pc.filter(rows, keep)


def unique_headers(names: list[str], source: str) -> list[str]:
    cleaned = [n.strip().lstrip("\ufeff").strip() for n in names]
    seen = set()
    for n in cleaned:
        if n and n.upper() in seen:
            raise InputFileError(f"{source}: column '{n}' appears twice in the header")
        seen.add(n.upper())
    return [n or f"KOLOM_{i + 1}" for i, n in enumerate(cleaned)]
