"""The CSV reader in record batches: the same text, row numbers, broken rows and encoding
choice as `read_csv`, with memory bounded by one block however large the file is.

A file is read as UTF-8 while a thread fingerprints it. When it proves not to be UTF-8 (or
to hold NUL bytes, or a line longer than a block), StartAgain hands the caller what a pass
over the bytes found, and the next read uses it: UTF-8 with the odd cp1252 line, transcoded
line by line as the file streams; cp1252; latin-1, as `read_csv` chooses. Row numbers follow
from the broken rows' line numbers, which the parser reports before it hands out the batch
that follows them.
"""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from dp4kit.columns import SOURCE_FILE, SOURCE_ROW
from dp4kit.errors import InputFileError
from dp4kit.io.csv_reader import (
    NON_ASCII,
    cp1252_lines,
    csv_options,
    mixed_warning,
    nul_rows,
    read_head,
    sniff_text,
)
from dp4kit.io.sources import (
    BROKEN_SCHEMA,
    SourceInfo,
    clean_text,
    drop_blank_records,
    fingerprint,
    unique_headers,
)

BLOCK = 1 << 22  # 4 MiB of text per batch (the reader reads a few ahead)
MIXED = "utf-8+cp1252"


class StartAgain(Exception):
    """What this read assumed proved wrong (a line longer than the block, a file that is not
    UTF-8 after all, NUL bytes): the caller starts the file again with these hints."""

    def __init__(self, path: Path, block_size: int, scanned: _Bytes | None):
        super().__init__(str(path))
        self.path, self.block_size, self.scanned = path, block_size, scanned


@dataclass
class CsvBatch:
    table: pa.Table  # text columns, as read_csv returns them
    rows: pa.Array  # their source row numbers
    broken: pa.Table  # broken rows up to the last of `rows` (BROKEN_SCHEMA)


@dataclass
class _Bytes:
    sha256: str
    has_nul: bool
    utf8: bool  # the whole file is valid UTF-8
    utf8_beyond_ascii: bool  # it holds at least one valid non-ASCII UTF-8 character
    cp1252: bool  # it decodes as cp1252


def _scan(path: Path) -> _Bytes:
    """A pass over the bytes: the fingerprint and what the encoding choice needs (a second
    pass, for cp1252, only when the file is neither UTF-8 nor mixed)."""
    digest, nul = hashlib.sha256(), False
    utf8 = codecs.getincrementaldecoder("utf-8")()
    valid, beyond = True, False
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
            nul = nul or b"\x00" in chunk
            if valid:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
            if not valid and not beyond:
                text = chunk.decode("utf-8", errors="surrogateescape")
                beyond = NON_ASCII.search(text) is not None
    if valid:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    cp_ok = True
    if not valid and not beyond:
        cp = codecs.getincrementaldecoder("cp1252")()
        with path.open("rb") as f:
            try:
                while chunk := f.read(1 << 22):
                    cp.decode(chunk)
            except UnicodeDecodeError:
                cp_ok = False
    return _Bytes(digest.hexdigest(), nul, valid, beyond, cp_ok)


class _MixedLines(io.RawIOBase):
    """A UTF-8 file with some cp1252 lines, as UTF-8: each line holding a byte that is not
    UTF-8 is decoded as cp1252 (as `read_csv` does for the whole file); records its lines."""

    def __init__(self, path: Path):
        self._file = path.open("rb")
        self._pending = b""  # the end of a chunk after its last newline
        self._out = b""
        self.lines: list[int] = []
        self._line = 1

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        chunk = self._file.read(1 << 22)
        if not chunk and not self._pending:
            return False
        data = self._pending + chunk
        cut = data.rfind(b"\n") + 1 if chunk else len(data)
        if cut == 0:  # no newline yet: read on
            self._pending = data
            return True
        self._pending, data = data[cut:], data[:cut]
        text = data.decode("utf-8", errors="surrogateescape")
        fixed, lines, self._line = cp1252_lines(text, self._line)
        self.lines += lines
        self._out += fixed.encode("utf-8")
        return True

    def readinto(self, buffer) -> int:
        while not self._out:
            if not self._fill():
                return 0
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        self._out = self._out[size:]
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


def _numbers(count: int, start: int, bad: np.ndarray) -> np.ndarray:
    """The first `count` row numbers from `start` on that are not broken rows."""
    ahead = bad[bad >= start]
    candidates = np.arange(start, start + count + len(ahead), dtype=np.int64)
    return candidates[~np.isin(candidates, ahead)][:count]


def stream_csv(path: Path, block_size: int = BLOCK, scanned: _Bytes | None = None,
               ) -> tuple[SourceInfo, Iterator[CsvBatch]]:  # fmt: skip
    """`read_csv` in batches: the info (complete once the batches are consumed) and the
    batches. A file whose first bytes are UTF-8 is read as UTF-8 while it is fingerprinted
    beside the parse; StartAgain (with the hints for the next read) is raised when that, or
    the block size, proves wrong."""
    import pyarrow.csv as pv

    path = Path(path)
    source = str(path)
    info = SourceInfo(path=source, kind="csv", sha256="")
    encoding, delimiter, header = sniff_text(read_head(path), source)
    names = unique_headers(header, source)
    info.delimiter = delimiter
    if scanned is None and encoding != "utf-8":
        scanned = _scan(path)
    hashing = None if scanned else ThreadPoolExecutor(1).submit(fingerprint, path)
    mixed = scanned is not None and not scanned.utf8 and scanned.utf8_beyond_ascii
    enc = "utf-8"
    if scanned is not None and not scanned.utf8 and not mixed:
        enc = "cp1252" if scanned.cp1252 else "latin-1"
    check_nul = scanned is not None and scanned.has_nul

    def batches() -> Iterator[CsvBatch]:
        bad: list[tuple[int, str]] = []

        def on_invalid(row) -> str:
            bad.append((row.number, row.text))
            return "skip"

        data = _MixedLines(path) if mixed else path.open("rb")
        read, parse, convert = csv_options(names, delimiter, enc, block_size, False, on_invalid)
        next_row, emitted = 2, 0
        try:
            try:
                reader = pv.open_csv(data, read_options=read, parse_options=parse,
                                     convert_options=convert)  # fmt: skip
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    # the broken rows not yet handed out (the earlier ones lie before)
                    numbers = np.array([n for n, _ in bad[emitted:]], dtype=np.int64)
                    rows = _numbers(table.num_rows, next_row, numbers)
                    next_row = int(rows[-1]) + 1 if len(rows) else next_row
                    upto = emitted + (len(numbers) if not len(rows)
                                      else int((numbers < next_row).sum()))  # fmt: skip
                    yield _batch(table, pa.array(rows, pa.int64()), bad[emitted:upto],
                                 check_nul, source, delimiter)  # fmt: skip
                    emitted = upto
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                message = str(exc)
                if "straddl" in message:
                    raise StartAgain(path, block_size * 4, scanned) from exc
                if scanned is None and ("UTF8" in message or "decode" in message.lower()):
                    raise StartAgain(path, block_size, _scan(path)) from exc
                first_line = message.splitlines()[0]
                raise InputFileError(f"{source}: cannot parse as CSV: {first_line}") from exc
            if emitted < len(bad):
                empty = pa.table({n: pa.array([], pa.string()) for n in names})
                yield _batch(empty, pa.array([], pa.int64()), bad[emitted:], False, source,
                             delimiter)  # fmt: skip
        finally:
            data.close()
        if hashing is not None:
            info.sha256, has_nul = hashing.result()
            if has_nul:  # rows with a NUL byte are broken rows: read again, looking for them
                raise StartAgain(path, block_size, _scan(path))
        else:
            info.sha256 = scanned.sha256
        if mixed:
            info.warnings.append(mixed_warning(data.lines))
        if enc != "utf-8":
            info.warnings.append(f"not valid UTF-8: read as {enc}; check names with accents")
        info.encoding = MIXED if mixed else enc

    return info, _counted(info, batches())


def _counted(info: SourceInfo, batches: Iterator[CsvBatch]) -> Iterator[CsvBatch]:
    for batch in batches:
        info.rows += batch.table.num_rows + batch.broken.num_rows
        yield batch


def _batch(table: pa.Table, rows: pa.Array, bad: list[tuple[int, str]], has_nul: bool,
           source: str, delimiter: str) -> CsvBatch:  # fmt: skip
    """One batch as read_csv treats the whole file: NUL rows set aside, text cleaned, blank
    records dropped."""
    broken = pa.table({
        SOURCE_FILE: pa.array([source] * len(bad), pa.string()),
        SOURCE_ROW: pa.array([n for n, _ in bad], pa.int64()),
        "teks": pa.array([t for _, t in bad], pa.string()),
    }, schema=BROKEN_SCHEMA)  # fmt: skip
    if has_nul:
        table, rows, with_nul = nul_rows(table, rows, source, delimiter)
        if with_nul.num_rows:
            broken = pa.concat_tables([broken, with_nul]).sort_by(SOURCE_ROW)
    table, rows = drop_blank_records(clean_text(table), rows)
    return CsvBatch(table, rows, broken)
