"""`dp4kit diff OLD NEW`: what changed on the DP4 between two runs (e.g. two semesters).

Voters are matched on NIK. Added: on the new list only; removed: on the old list only (with
the reason found in the new run's audit files); changed: on both, with a different address
(desa, alamat, RT, RW), name, marital status or other personal data. Counts per kecamatan
(the new one for added and changed voters, the old one for removed voters).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from dp4kit.errors import InputFileError
from dp4kit.io.given_files import RUN_FOLDER, checked
from dp4kit.outputs.files import written_folder
from dp4kit.outputs.manifest import Manifest
from dp4kit.outputs.xlsx import write_xlsx_sheets

CHANGES = {
    "alamat": ("kode_desa", "alamat", "rt", "rw"),
    "nama": ("nama",),
    "status": ("status_kawin",),
    "data_lain": ("tanggal_lahir", "jenis_kelamin", "tempat_lahir", "disabilitas"),
}
COMPARED = tuple(c for cols in CHANGES.values() for c in cols)
PLACE = ("kode_kecamatan", "kecamatan", "kode_desa", "desa")
COLUMNS = ("nik", "nama", "kode_kabkota", *PLACE, "alamat", "rt", "rw", "status_kawin",
           "tanggal_lahir", "jenis_kelamin", "tempat_lahir", "disabilitas")  # fmt: skip
SUMMARY_COLUMNS = ("kode_kecamatan", "kecamatan", "pemilih_lama", "pemilih_baru", "ditambah",
                   "dihapus", "berubah", *(f"berubah_{k}" for k in CHANGES))  # fmt: skip
NOT_IN_NEW = "TIDAK ADA DI DATA BARU"


@dataclass
class DiffResult:
    old: Path
    new: Path
    summary: pd.DataFrame  # per kecamatan
    added: pd.DataFrame
    removed: pd.DataFrame
    changed: pd.DataFrame

    def to_dict(self) -> dict:
        totals = self.summary[list(SUMMARY_COLUMNS[2:])].sum()
        return {
            "old": str(self.old),
            "new": str(self.new),
            "totals": {k: int(v) for k, v in totals.items()},
            "removed_by_reason": {
                str(k): int(v)
                for k, v in self.removed["alasan"].value_counts().sort_index().items()
            },
            "per_kecamatan": [
                {k: (v if isinstance(v, str) else int(v)) for k, v in row.items()}
                for row in self.summary.to_dict("records")
            ],
        }


def run_folder(path: Path) -> Path:
    """An export folder, or a `dp4kit run` root (its `latest` run)."""
    path = checked(path, RUN_FOLDER)
    if not (path / "manifest.json").exists() and (path / "latest" / "manifest.json").exists():
        return (path / "latest").resolve()
    return path


def read_dp4(folder: Path) -> pd.DataFrame:
    if Manifest.read(folder).masked:
        raise InputFileError(f"{folder}: NIKs are masked in this run; diff needs unmasked runs")
    if not (folder / "dp4").is_dir() or not any((folder / "dp4").rglob("*.parquet")):
        return pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})
    part = ds.partitioning(
        pa.schema([("kode_kabkota", pa.string()), ("kode_kecamatan", pa.string())]), flavor="hive"
    )
    try:
        table = ds.dataset(folder / "dp4", format="parquet", partitioning=part).to_table(
            columns=list(COLUMNS)
        )
    except (OSError, pa.ArrowException) as exc:
        raise InputFileError(
            f"{folder}: cannot read its dp4/ files ({exc}); run dp4kit verify on it"
        ) from exc
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    return frame.drop_duplicates("nik").reset_index(drop=True)


def _reasons(folder: Path, niks: pd.Series) -> pd.Series:
    """Why a NIK is not on the new list: its exclusion reason, DUPLIKAT, or not in the data."""
    found = pd.Series(NOT_IN_NEW, index=niks.index, dtype="string")
    for name, reason in (("duplicates.parquet", "DUPLIKAT"), ("excluded.parquet", None)):
        path = folder / name
        if not path.exists() or not len(niks):
            continue
        columns = ["nik"] if reason else ["nik", "alasan"]
        audit = pq.read_table(path, columns=columns).to_pandas(types_mapper=pd.ArrowDtype)
        audit = audit.drop_duplicates("nik").set_index("nik")
        hit = niks.map(audit["alasan"] if reason is None else pd.Series(reason, audit.index))
        found = hit.astype("string").where(hit.notna(), found)
    return found


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    """True where the values differ (a missing value differs from a present one), in Arrow."""
    left, right = pa.array(a.array), pa.array(b.array)
    if left.type != right.type:
        left, right = left.cast(pa.string()), right.cast(pa.string())
    unequal = pc.fill_null(pc.not_equal(left, right), False)
    one_missing = pc.xor(pc.is_null(left), pc.is_null(right))
    return pc.or_(unequal, one_missing).to_numpy(zero_copy_only=False)


def diff_runs(old_dir: Path, new_dir: Path) -> DiffResult:
    old_dir, new_dir = run_folder(old_dir), run_folder(new_dir)
    old, new = read_dp4(old_dir), read_dp4(new_dir)
    in_new = pd.Index(new["nik"]).get_indexer(old["nik"])  # hash lookups, -1 = absent
    in_old = pd.Index(old["nik"]).get_indexer(new["nik"])
    added = new[in_old < 0]
    removed = old[in_new < 0].copy()
    removed.insert(1, "alasan", _reasons(new_dir, removed["nik"]).to_numpy())
    ii = np.flatnonzero(in_new >= 0)  # positions in old of voters on both lists
    jj = in_new[ii]  # their positions in new
    kinds = {k: np.zeros(len(ii), bool) for k in CHANGES}
    for kind, cols in CHANGES.items():
        for col in cols:
            kinds[kind] |= _differs(old[col].take(ii), new[col].take(jj))
    any_change = np.logical_or.reduce(list(kinds.values())) if len(ii) else np.zeros(0, bool)
    labels = np.full(len(ii), "", dtype=object)
    for kind, mask in kinds.items():
        labels = np.where(mask, np.where(labels == "", kind, labels + "," + kind), labels)
    old_rows = old.take(ii[any_change]).reset_index(drop=True)
    new_rows = new.take(jj[any_change]).reset_index(drop=True)
    changed = new_rows[["nik", "kode_kecamatan", "kecamatan"]].copy()
    changed["perubahan"] = labels[any_change]
    for col in COMPARED:
        changed[f"{col}_lama"] = old_rows[col]
        changed[f"{col}_baru"] = new_rows[col]
    flags = pd.DataFrame({f"berubah_{k}": v[any_change] for k, v in kinds.items()})
    flags["kode_kecamatan"] = changed["kode_kecamatan"].to_numpy()
    summary = _summary(old, new, added, removed, flags)
    order = ["kode_kecamatan", "nik"]
    return DiffResult(
        old_dir, new_dir, summary,
        added.sort_values(order).reset_index(drop=True),
        removed.sort_values(order).reset_index(drop=True),
        changed.sort_values(order).reset_index(drop=True),
    )  # fmt: skip


def _summary(old, new, added, removed, flags) -> pd.DataFrame:
    names = pd.concat([old[["kode_kecamatan", "kecamatan"]], new[["kode_kecamatan", "kecamatan"]]])
    names = names.astype("string").drop_duplicates("kode_kecamatan", keep="last")
    out = names.set_index("kode_kecamatan")
    out["pemilih_lama"] = old["kode_kecamatan"].astype("string").value_counts()
    out["pemilih_baru"] = new["kode_kecamatan"].astype("string").value_counts()
    out["ditambah"] = added["kode_kecamatan"].astype("string").value_counts()
    out["dihapus"] = removed["kode_kecamatan"].astype("string").value_counts()
    by_kec = flags.groupby(flags["kode_kecamatan"].astype("string"))
    out["berubah"] = by_kec.size()
    for kind in CHANGES:
        out[f"berubah_{kind}"] = by_kec[f"berubah_{kind}"].sum()
    counts = list(SUMMARY_COLUMNS[2:])
    out[counts] = out[counts].fillna(0).astype("int64")
    return out.reset_index().sort_values("kode_kecamatan").reset_index(drop=True)


def write_diff(result: DiffResult, out_dir: Path) -> list[str]:
    """ringkasan/ditambah/dihapus/berubah as Parquet, diff.xlsx and diff.json, atomically."""
    tables = {"ringkasan": result.summary, "ditambah": result.added,
              "dihapus": result.removed, "berubah": result.changed}  # fmt: skip
    # the lists name voters: files 0600, folders 0700
    with written_folder(Path(out_dir), "diff", "diff.json") as tmp:
        for name, frame in tables.items():
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                           tmp / f"{name}.parquet", compression="zstd")  # fmt: skip
        sheets = []
        for name, frame in tables.items():
            text = frame.astype("string")
            body = text.astype(object).where(text.notna(), None).to_numpy().tolist()
            if name == "ringkasan":
                body = [[v if i < 2 else int(v) for i, v in enumerate(r)] for r in body]
            sheets.append((name.capitalize(), [], list(frame.columns), body))
        write_xlsx_sheets(tmp / "diff.xlsx", sheets)
        (tmp / "diff.json").write_text(
            json.dumps(result.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    return [*(f"{n}.parquet" for n in tables), "diff.xlsx", "diff.json"]
