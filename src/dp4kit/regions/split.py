"""`dp4kit split`: one province- or nation-wide export into one Parquet part per kab/kota,
streamed in record batches, so that each part is exported on its own and the runs combined.

A part keeps its rows' text as read, with each row's source file and row: the rejected and
duplicates files of a part's export point into the original export, as a direct export's do.
Rows whose kab/kota is missing or not in the region master, and broken rows (kept as their
text), go to `lainnya.parquet`, whose export rejects them. Every row read is in one part; the
manifest (split.json) proves it. Memory is bounded by a read block and the write buffers.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dp4kit.columns import SOURCE_FILE, SOURCE_ROW
from dp4kit.errors import InputFileError
from dp4kit.io.csv_reader import read_head, sniff_text
from dp4kit.io.csv_stream import BLOCK, StartAgain, stream_csv
from dp4kit.io.given_files import checked, input_holds
from dp4kit.io.profiles import kabkota_codes, mapped_columns, resolve_profile
from dp4kit.io.readers import read_table
from dp4kit.io.sources import (
    BROKEN_TEXT,
    CARRIED_FILE,
    SourceInfo,
    file_sha256,
    unique_headers,
)
from dp4kit.outputs.files import written_folder
from dp4kit.reference import master

SPLIT_MANIFEST = "split.json"
OTHER = "lainnya"  # the part for rows without a known kab/kota, and broken rows
BUFFER_BYTES = 1 << 26  # rows waiting to be written, over all parts
STREAMED = {".csv", ".tsv", ".txt"}


@dataclass
class Part:
    name: str  # kode_kabkota, or OTHER
    kabkota: str
    rows: int = 0
    broken_rows: int = 0
    sha256: str = ""

    @property
    def file(self) -> str:
        return f"{self.name}.parquet"


@dataclass
class SplitResult:
    out_dir: Path
    sources: list[SourceInfo]
    parts: list[Part]
    rows_read: int
    manifest: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 every row has a kab/kota part; 1 some are in lainnya (to be rejected)."""
        return int(any(p.name == OTHER for p in self.parts))


def split(paths: Sequence[Path], out_dir: Path, profile: str = "auto", sheet: str | None = None,
          group_readable: bool = False, on_batch: Callable[[int], None] | None = None,
          ) -> SplitResult:  # fmt: skip
    """Write one Parquet part per kab/kota of the inputs' rows into out_dir, and split.json."""
    from dp4kit import __version__

    paths = [Path(p) for p in paths]
    if not paths:
        raise InputFileError("no input files given")
    opened = [_open(p, sheet) for p in paths]
    headers = [header for header, _ in opened]
    names = _union(headers)
    prof = resolve_profile(profile, names)
    for path, header in zip(paths, headers, strict=True):
        mapped_columns(header, prof, str(path))
    hints: dict[Path, tuple] = {}
    with written_folder(Path(out_dir), "split", SPLIT_MANIFEST, group_readable) as tmp:
        while True:
            try:
                parts, sources = _write_parts(paths, opened, names, prof, tmp, hints, on_batch)
                break
            except StartAgain as again:  # a read's assumption proved wrong: start again
                hints[again.path] = (again.block_size, again.scanned)
                for entry in tmp.iterdir():
                    entry.unlink() if entry.is_file() else shutil.rmtree(entry)
        rows_read = sum(s.rows for s in sources)
        in_parts = sum(p.rows + p.broken_rows for p in parts)
        manifest = {
            "dp4kit_version": __version__,
            "profile": prof.name,
            "inputs": [s.to_dict() for s in sources],
            "parts": [
                {
                    "file": p.file,
                    "kode_kabkota": p.name if p.name != OTHER else None,
                    "kabkota": p.kabkota,
                    "rows": p.rows,
                    "broken_rows": p.broken_rows,
                    "sha256": p.sha256,
                }
                for p in parts
            ],  # fmt: skip
            "accounting": {
                "rows_read": rows_read,
                "rows_in_parts": in_parts,
                "balanced": rows_read == in_parts,
            },  # fmt: skip
        }
        if rows_read != in_parts:
            from dp4kit.errors import AccountingError

            raise AccountingError(f"split: {rows_read:,} rows read but {in_parts:,} in the "
                                  "parts: nothing written")  # fmt: skip
        (tmp / SPLIT_MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return SplitResult(Path(out_dir), sources, parts, rows_read, manifest)


def _open(path: Path, sheet: str | None) -> tuple[list[str], tuple | None]:
    """An input's header, and what was read: a CSV is only sniffed (its first line), other
    inputs are read whole (an xlsx sheet holds at most 1,048,576 rows)."""
    checked(path, input_holds(path))
    if path.is_file() and path.suffix.lower() in STREAMED:
        return unique_headers(sniff_text(read_head(path), str(path))[2], str(path)), None
    try:
        read = read_table(path, sheet)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    # a part of an earlier split names each row's source file: not a column of the input
    return [n for n in read[0].column_names if n != CARRIED_FILE], read


def _union(headers: list[list[str]]) -> list[str]:
    """Every input's columns once (matched case-insensitively, first spelling kept)."""
    seen: dict[str, str] = {}
    for header in headers:
        for name in header:
            seen.setdefault(name.upper(), name)
    return list(seen.values())


def _batches(path: Path, read: tuple | None, hints: tuple,
             ) -> tuple[SourceInfo, Iterator[tuple[pa.Table, pa.Array, pa.Table]]]:  # fmt: skip
    """An input as (text, row numbers, broken rows) batches: a CSV streamed, others whole."""
    if read is None:
        info, batches = stream_csv(path, *hints)
        return info, ((b.table, b.rows, b.broken) for b in batches)
    table, rows, broken, info = read
    return info, iter([(table, rows, broken)])


class _Writers:
    """One ParquetWriter per part, fed from buffers that are written out, largest first,
    whenever all of them together pass BUFFER_BYTES."""

    def __init__(self, folder: Path, schema: pa.Schema):
        self.folder, self.schema = folder, schema
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.waiting: dict[str, list[pa.Table]] = {}
        self.parts: dict[str, Part] = {}
        self.size = 0

    def add(self, name: str, table: pa.Table, broken: int = 0) -> None:
        part = self.parts.setdefault(name, Part(name, _kabkota_name(name)))
        part.rows += table.num_rows - broken
        part.broken_rows += broken
        self.waiting.setdefault(name, []).append(table)
        self.size += table.nbytes
        while self.size > BUFFER_BYTES:
            largest = max(self.waiting, key=lambda k: sum(t.nbytes for t in self.waiting[k]))
            self._flush(largest)

    def _flush(self, name: str) -> None:
        tables = self.waiting.pop(name, [])
        if not tables:
            return
        if name not in self.writers:
            self.writers[name] = pq.ParquetWriter(self.folder / f"{name}.parquet", self.schema)
        table = pa.concat_tables(tables)
        self.writers[name].write_table(table, row_group_size=1 << 17)
        self.size -= sum(t.nbytes for t in tables)

    def close(self) -> list[Part]:
        for name in list(self.waiting):
            self._flush(name)
        for writer in self.writers.values():
            writer.close()
        for part in self.parts.values():
            part.sha256 = file_sha256(self.folder / part.file)
        return sorted(self.parts.values(), key=lambda p: (p.name == OTHER, p.name))


def _kabkota_name(code: str) -> str:
    if code == OTHER:
        return "(kab/kota tidak dikenal, dan baris rusak)"
    return master()["kabkota"].name_of(pa.array([code])).to_pylist()[0] or ""


def _write_parts(paths, opened, names, prof, folder: Path, hints: dict, on_batch,
                 ) -> tuple[list[Part], list[SourceInfo]]:  # fmt: skip
    schema = pa.schema([(n, pa.string()) for n in names] + [(SOURCE_FILE, pa.string()),
                       (SOURCE_ROW, pa.int64()), (BROKEN_TEXT, pa.string())])  # fmt: skip
    writers = _Writers(folder, schema)
    known = master()["kabkota"]
    sources = []
    try:
        for path, (_, read) in zip(paths, opened, strict=True):
            info, batches = _batches(path, read, hints.get(path, (BLOCK, None)))
            read_any = False
            for table, rows, broken in batches:
                read_any = read_any or table.num_rows > 0 or broken.num_rows > 0
                if table.num_rows:
                    source = mapped_columns(table.column_names, prof, str(path))
                    codes = kabkota_codes(table, source)
                    codes = pc.if_else(known.contains(codes), codes, OTHER)
                    _route(writers, _aligned(table, rows, info.path, schema), codes)
                if broken.num_rows:
                    writers.add(OTHER, _broken_rows(broken, schema), broken.num_rows)
                if on_batch:
                    on_batch(table.num_rows + broken.num_rows)
            if not read_any:
                raise InputFileError(f"{path}: the file has a header but no data rows")
            sources.append(info)
        return writers.close(), sources
    except BaseException:
        for writer in writers.writers.values():
            writer.close()
        raise


def _aligned(table: pa.Table, rows: pa.Array, path: str, schema: pa.Schema) -> pa.Table:
    """A batch in the parts' schema: every column (missing ones empty), source, no text."""
    n = table.num_rows
    by_upper = {c.upper(): c for c in table.column_names}
    columns = []
    for name in schema.names[:-3]:
        found = by_upper.get(name.upper())
        columns.append(table[found] if found else pa.nulls(n, pa.string()))
    files = table[CARRIED_FILE] if CARRIED_FILE in table.column_names else pa.array([path] * n)
    columns += [files.cast(pa.string()), rows, pa.nulls(n, pa.string())]
    return pa.table(columns, schema=schema)


def _broken_rows(broken: pa.Table, schema: pa.Schema) -> pa.Table:
    n = broken.num_rows
    columns = [pa.nulls(n, pa.string()) for _ in schema.names[:-3]]
    columns += [broken[SOURCE_FILE], broken[SOURCE_ROW], broken["teks"]]
    return pa.table(columns, schema=schema)


def _route(writers: _Writers, table: pa.Table, codes: pa.Array) -> None:
    """Each row to its part, keeping the rows' order within a part (a stable sort)."""
    kinds = pc.unique(codes)
    if len(kinds) == 1:  # an export sorted by region: the whole batch is one part
        writers.add(kinds[0].as_py(), table)
        return
    order = pc.sort_indices(codes)
    table, codes = table.take(order), pc.take(codes, order)
    runs = pc.run_end_encode(codes)
    start = 0
    for end, name in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
        writers.add(name, table.slice(start, end - start))
        start = end
