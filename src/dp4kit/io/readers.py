"""Readers: CSV/TSV, Excel and Parquet into one all-text Arrow table with source file and row.

Everything is read as text so identifiers never become numbers and one bad value never hides
other errors; parsing into types is the profiles' job. Row numbers are 1-based with the header
as row 1, as a spreadsheet shows them (Parquet has no header: its first record is row 1).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.errors import InputFileError
from dp4kit.io.csv_reader import read_csv
from dp4kit.io.given_files import checked, input_holds
from dp4kit.io.sources import (
    RawInput,
    ReadResult,
    SourceInfo,
    carried_provenance,
    clean_text,
    drop_blank_records,
    file_sha256,
    unique_headers,
    with_source,
)
from dp4kit.io.xlsx_reader import read_xlsx

log = logging.getLogger(__name__)


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
    table = pa.table(cols, names=unique_headers(table.column_names, source))
    rows = pa.array(range(1, table.num_rows + 1), pa.int64())
    table, rows, broken = carried_provenance(table, rows)
    table, rows = drop_blank_records(clean_text(table), rows)
    info.rows = table.num_rows + broken.num_rows
    return table, rows, broken, info


READERS: dict[str, Callable[..., ReadResult]] = {
    ".csv": read_csv, ".tsv": read_csv, ".txt": read_csv,
    ".xlsx": read_xlsx, ".xlsm": read_xlsx,
    ".parquet": read_parquet, ".pq": read_parquet,
}  # fmt: skip


def read_table(path: Path, sheet: str | None = None) -> ReadResult:
    """Read one input, chosen by its suffix (a folder is read as a Parquet dataset)."""
    checked(path, input_holds(path))
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
        tables.append(with_source(table, info.path, rows))
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
