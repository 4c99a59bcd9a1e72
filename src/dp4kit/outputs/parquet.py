"""Parquet outputs: the DP4 (a file per kecamatan), the audit files and the aggregates. zstd,
no timestamps: the same tables give the same bytes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dp4kit.aggregate import Aggregates
from dp4kit.columns import ROLL_UPS
from dp4kit.dp4 import PERSON_COLUMNS, Dp4Tables
from dp4kit.outputs.manifest import OutputFile
from dp4kit.stages import in_threads

PEOPLE_FOLDER = "k3_people"
AUDIT_ROW_GROUP = 100_000  # rows: combine reads an audit file a row group at a time


def arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_audit(name: str, table: pa.Table, root: Path) -> OutputFile:
    """An audit file (rejected, duplicates, excluded) in row groups of AUDIT_ROW_GROUP rows."""
    # one chunk per column: Parquet's page breaks follow the chunks, so a table made of pieces
    # (a partitioned export's) is written with the bytes of one made whole
    pq.write_table(table.combine_chunks(), root / name, compression="zstd",
                   row_group_size=AUDIT_ROW_GROUP)  # fmt: skip
    return OutputFile(name, table.num_rows)


def part_path(kode_kecamatan: str) -> str:
    """A kecamatan's DP4 part: `dp4/32.04.11.parquet`. One folder of files, no hive keys: the
    region codes are text columns in every file, and pyarrow, polars, DuckDB and Spark read
    them as text (a key folder such as `kode_kabkota=32.10` is read as the number 32.1)."""
    return f"dp4/{kode_kecamatan}.parquet"


def part_kecamatan(path: str) -> str:
    """The kecamatan code of a DP4 part's path (`part_path` backwards)."""
    return Path(path).name.removesuffix(".parquet")


def write_dp4_parts(tables: Dp4Tables, root: Path) -> list[OutputFile]:
    """dp4/<kode kecamatan>.parquet, one per kecamatan of the DP4 (sorted by kab/kota and
    kecamatan), every column in every file; beside each, its voters as K3 compares them
    (`person_path`, row for row)."""
    dp4 = arrow(tables.dp4)
    people = person_table(dp4, tables.people)
    kec = dp4["kode_kecamatan"].to_numpy(zero_copy_only=False).astype(str)
    starts = np.flatnonzero(np.r_[True, kec[1:] != kec[:-1]]) if len(kec) else np.array([], int)
    ends = np.r_[starts[1:], len(kec)] if len(kec) else np.array([], int)
    if len(kec):
        (root / "dp4").mkdir(exist_ok=True)
        (root / PEOPLE_FOLDER).mkdir(exist_ok=True)
    files = [(path, table.slice(a, b - a)) for a, b in zip(starts, ends, strict=True)
             for path, table in ((part_path(kec[a]), dp4), (person_path(part_path(kec[a])),
                                                            people))]  # fmt: skip

    def write(path: str, table: pa.Table) -> OutputFile:
        pq.write_table(table, root / path, compression="zstd")
        return OutputFile(path, table.num_rows)

    # on every core: Parquet's encoding and zstd release the GIL
    return in_threads(lambda file: write(*file), files, dp4.num_rows)


def person_table(dp4: pa.Table, extra: pd.DataFrame | None) -> pa.Table:
    """The DP4's voters as K3 compares them (`PERSON_COLUMNS`): the DP4's columns and the
    `extra` ones it does not carry (the mother's name; empty where the export has none)."""
    have = arrow(extra) if extra is not None and len(extra.columns) else None
    columns = {}
    for name in PERSON_COLUMNS:
        if have is not None and name in have.column_names:
            columns[name] = have[name]
        elif name in dp4.column_names:
            columns[name] = dp4[name]
        else:
            columns[name] = pa.nulls(dp4.num_rows, pa.string())
    return pa.table(columns)


def person_path(part: str) -> str:
    """The person file of a DP4 part: `k3_people/32.04.11.parquet` for `dp4/32.04.11.parquet`
    (not for KPU: it is what `combine` compares across regencies)."""
    return f"{PEOPLE_FOLDER}/{Path(part).name}"


def write_aggregates(aggregates: Aggregates, root: Path, levels: Sequence[str]) -> list[OutputFile]:
    """dak2.parquet (per kecamatan), agregat_<level>.parquet for the chosen roll-ups and
    rincian_<topic>.parquet."""
    files = {"dak2.parquet": aggregates.dak2}
    files |= {f"agregat_{k}.parquet": aggregates.levels[k] for k in ROLL_UPS if k in levels}
    files |= {f"rincian_{k}.parquet": v for k, v in aggregates.breakdowns.items()}
    outputs = []
    for name, frame in files.items():
        table = arrow(frame).replace_schema_metadata({"semester": aggregates.semester})
        pq.write_table(table, root / name, compression="zstd")
        outputs.append(OutputFile(name, len(frame)))
    return outputs
