"""Files written a part at a time with exactly the bytes of writing them whole: dp4.csv and
excluded.parquet (`export_files.ExportWriter`)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dp4kit.outputs.parquet import AUDIT_ROW_GROUP
from dp4kit.outputs.privacy import neutralise_formulas


class CsvAppender:
    """dp4.csv (one header, UTF-8, every value quoted so NIK/NKK stay text in any reader, and
    a value a spreadsheet would run as a formula prefixed with `'`), from tables added in
    list order."""

    def __init__(self, path: Path):
        self.path, self.writer, self.empty = path, None, None
        self.options = pacsv.WriteOptions(quoting_style="all_valid")

    def add(self, table: pa.Table) -> None:
        """A table of rows; an empty one only counts if no other comes (its types may be
        unknown: a column of no values)."""
        if table.num_rows == 0:
            self.empty = table if self.empty is None else self.empty
            return
        table = neutralise_formulas(table)
        if self.writer is None:
            self.writer = pacsv.CSVWriter(str(self.path), table.schema, write_options=self.options)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is None and self.empty is not None:
            self.writer = pacsv.CSVWriter(str(self.path), self.empty.schema,
                                          write_options=self.options)  # fmt: skip
        if self.writer is not None:
            self.writer.close()


class ParquetAppender:
    """A Parquet file as `write_audit` writes it (zstd, row groups of AUDIT_ROW_GROUP rows),
    from tables added in order: rows wait until a whole row group is there."""

    def __init__(self, path: Path):
        self.path, self.writer, self.empty = path, None, None
        self.waiting: list[pa.Table] = []
        self.rows = 0
        self.wrote = False  # a whole row group; an empty file still has one empty group

    def add(self, table: pa.Table) -> None:
        """A table of rows; an empty one only counts if no other comes."""
        if table.num_rows == 0:
            self.empty = table if self.empty is None else self.empty
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(str(self.path), table.schema, compression="zstd")
        self.waiting.append(table)
        self.rows += table.num_rows
        if self.rows >= AUDIT_ROW_GROUP:
            whole = pa.concat_tables(self.waiting)
            full = (whole.num_rows // AUDIT_ROW_GROUP) * AUDIT_ROW_GROUP
            # contiguous, as a slice of the whole table is: Parquet's pages follow the chunks
            self.writer.write_table(whole.slice(0, full).combine_chunks(),
                                    row_group_size=AUDIT_ROW_GROUP)  # fmt: skip
            self.wrote = True
            self.waiting, self.rows = [whole.slice(full)], whole.num_rows - full

    def close(self) -> None:
        if self.writer is None and self.empty is not None:
            self.writer = pq.ParquetWriter(str(self.path), self.empty.schema, compression="zstd")
            self.waiting = [self.empty]
        if self.writer is None:
            return
        rest = pa.concat_tables(self.waiting)
        if rest.num_rows or not self.wrote:
            self.writer.write_table(rest.combine_chunks(), row_group_size=AUDIT_ROW_GROUP)
        self.writer.close()
