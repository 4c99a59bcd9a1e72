"""Writing a combined result (`dp4kit combine`): the runs' dp4 parts, their audit files as one,
and DAK2 with the roll-ups of the whole area, less the voters the cross-regency findings took
out. One Parquet part or row group in memory at a time."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dp4kit.aggregate import BREAKDOWNS, COUNTS, Aggregates, check_invariants
from dp4kit.errors import AccountingError, InputFileError
from dp4kit.outputs.manifest import OutputFile
from dp4kit.outputs.parquet import part_kecamatan

PEMILIH = {"L": "pemilih_laki_laki", "P": "pemilih_perempuan"}


def write_parts(folders: list[Path], parts: list[list[str | None]], out: pd.DataFrame,
                root: Path) -> list[OutputFile]:  # fmt: skip
    """The runs' dp4 parts (or the person files beside them, None where a run has none):
    copied as they are, or rewritten without the rows taken out."""
    outputs = []
    taken = out.groupby(["run", "part"])["row"].apply(list).to_dict() if len(out) else {}
    for r, folder in enumerate(folders):
        for p, rel in enumerate(parts[r]):
            if rel is None:
                continue
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            if (r, p) not in taken:
                shutil.copyfile(folder / rel, root / rel)
                rows = pq.read_metadata(root / rel).num_rows
            else:
                table = pq.read_table(folder / rel)
                keep = np.ones(table.num_rows, bool)
                keep[taken[(r, p)]] = False
                table = table.filter(pa.array(keep))
                pq.write_table(table, root / rel, compression="zstd")
                rows = table.num_rows
            outputs.append(OutputFile(rel, rows))
    return outputs


def union_file(folders: list[Path], name: str, root: Path,
               extra: pd.DataFrame | None = None) -> OutputFile:  # fmt: skip
    """One audit file from every run's (streamed a row group at a time, under the union of
    their columns), plus `extra` rows at the end."""
    if extra is not None:  # text columns as text, whatever pandas made of them
        extra = pa.Table.from_pandas(extra.astype({c: "string" for c in extra.columns
                                     if c not in ("tanggal_lahir", "sumber_baris", "score")}
                                    ).astype({"score": "double"}, errors="ignore"),
                                     preserve_index=False)  # fmt: skip
    files = [pq.ParquetFile(folder / name) for folder in folders]
    schemas = [f.schema_arrow for f in files] + ([extra.schema] if extra is not None else [])
    schema = pa.unify_schemas([s.remove_metadata() for s in schemas], promote_options="permissive")
    rows = 0
    with pq.ParquetWriter(root / name, schema, compression="zstd") as writer:
        for f in files:
            for i in range(f.num_row_groups):
                part = _conform(f.read_row_group(i), schema)
                writer.write_table(part)
                rows += part.num_rows
        if extra is not None and extra.num_rows:
            writer.write_table(_conform(extra, schema))
            rows += extra.num_rows
    return OutputFile(name, rows)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [
        table[f.name].cast(f.type) if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]  # fmt: skip
    return pa.Table.from_arrays(columns, schema=schema)


def _read_level(folders: list[Path], name: str) -> pd.DataFrame:
    frames = []
    for folder in folders:
        path = folder / name
        if not path.is_file():
            raise InputFileError(f"{folder}: has no {name}; combine needs every run's "
                                 "DAK2 with the desa and kabkota roll-ups")  # fmt: skip
        frames.append(pq.read_table(path).to_pandas(types_mapper=pd.ArrowDtype))
    return pd.concat(frames, ignore_index=True)


def combined_aggregates(folders: list[Path], out: pd.DataFrame, semester: str) -> Aggregates:
    """DAK2 and the roll-ups of the whole area: the runs' (regencies do not overlap), less the
    voters taken out by the findings; the province and nation levels summed from regencies."""
    levels = {}
    out = out.assign(kode_desa=out["kode_desa"].astype(str)) if len(out) else out
    for level, key, name in (("desa", "kode_desa", "agregat_desa.parquet"),
                             ("kecamatan", "kode_kecamatan", "dak2.parquet"),
                             ("kabkota", "kode_kabkota", "agregat_kabkota.parquet")):  # fmt: skip
        table = _read_level(folders, name)
        for sex, column in PEMILIH.items():
            gone = out[out["jenis_kelamin"].astype(str) == sex][key].astype(str).value_counts()
            minus = table[key].astype(str).map(gone).fillna(0).astype("int64").to_numpy()
            table[column] = table[column].astype("int64") - minus
        table["pemilih_jumlah"] = table["pemilih_laki_laki"] + table["pemilih_perempuan"]
        levels[level] = table
    counts = list(COUNTS)
    kab = levels["kabkota"]
    prov = kab.groupby(["kode_provinsi", "provinsi"], sort=True, as_index=False)[counts].sum()
    nation = pd.DataFrame([{"wilayah": "INDONESIA", **kab[counts].sum().to_dict()}])
    levels["provinsi"], levels["nasional"] = prov, nation
    for level, table in levels.items():
        table[counts] = table[counts].astype("int64")
        table["tanpa_penduduk"] = table["jumlah"] == 0
        levels[level] = table
    breakdowns = {}
    for topic in ("umur", *BREAKDOWNS):
        breakdowns[topic] = _read_level(folders, f"rincian_{topic}.parquet")
    result = Aggregates(semester, levels, breakdowns)
    check_invariants(result)
    return result


def check_voters(aggregates: Aggregates, outputs: list[OutputFile]) -> None:
    """The combined DAK2 voters per kecamatan equal the combined dp4/ rows."""
    parts = pd.Series({part_kecamatan(o.path): o.rows for o in outputs
                       if o.path.startswith("dp4/")}, dtype="int64")  # fmt: skip
    dak2 = aggregates.dak2.set_index(aggregates.dak2["kode_kecamatan"].astype(str))
    voters = dak2["pemilih_jumlah"].astype("int64")
    if not voters.equals(parts.reindex(voters.index, fill_value=0).astype("int64")):
        raise AccountingError("the combined DAK2 voters differ from the DP4 rows: nothing written")
