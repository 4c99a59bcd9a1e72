"""Exact duplicate tiers on the NIK: D (same row twice), K1 (same NIK, same person), K2 (same
NIK, different person). Vectorized with pandas groupby; nothing is dropped silently."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit import columns as C
from dp4kit.dedup.fuzzy import value_codes


@dataclass
class ExactResult:
    """Per input position: kind (D/K1/K2/None), group id, action (kept/removed/held/None)."""

    kind: np.ndarray
    group: np.ndarray
    action: np.ndarray


def exact_duplicates(
    nik: pd.Series, person_key: pd.Series, row_hash: pd.Series, active: pd.Series, filled: pd.Series
) -> ExactResult:
    """Classify rows sharing a NIK. All inputs are aligned Series over the valid rows.

    - one person under the NIK (same normalised name and birth date): keep one row, chosen as
      the active one, then the most complete (most filled fields), then the first in the input;
      the others are `removed`, kind D when the row is identical to the kept one, else K1;
    - more than one person: an identity conflict (K2); every row is `held`, none is kept.
    """
    n = len(nik)
    kind = np.full(n, None, dtype=object)
    group = np.full(n, None, dtype=object)
    action = np.full(n, None, dtype=object)
    frame = pd.DataFrame(
        {
            "nik": nik.to_numpy(),
            "person": person_key.to_numpy(),
            "hash": row_hash.to_numpy(),
            "inactive": ~active.to_numpy(dtype=bool),
            "empty": -filled.to_numpy(),
            "pos": np.arange(n),
        }
    )
    dup = frame[frame.duplicated("nik", keep=False) & frame["nik"].notna()]
    if dup.empty:
        return ExactResult(kind, group, action)
    # Order of work: by NIK, and within a NIK the row to keep first.
    dup = dup.sort_values(["nik", "inactive", "empty", "pos"], kind="stable")
    by_nik = dup.groupby("nik", sort=False)
    number = by_nik.ngroup().to_numpy() + 1
    conflict = (by_nik["person"].transform("nunique") > 1).to_numpy()
    first = ~dup.duplicated("nik", keep="first").to_numpy()
    kept_hash = by_nik["hash"].transform("first").to_numpy()
    identical = dup["hash"].to_numpy() == kept_hash
    differs = (
        pd.Series(~identical, index=dup.index).groupby(dup["nik"], sort=False).transform("max")
    )
    group_kind = np.where(conflict, "K2", np.where(differs.to_numpy(), "K1", "D"))
    pos = dup["pos"].to_numpy()
    kind[pos] = np.where(conflict | first, group_kind, np.where(identical, "D", "K1"))
    action[pos] = np.where(conflict, "held", np.where(first, "kept", "removed"))
    group[pos] = np.char.add(
        np.char.add(group_kind.astype(str), "-"), np.char.zfill(number.astype(str), 6)
    )
    return ExactResult(kind, group, action)


def exact_tiers(
    table: pd.DataFrame, raw: pa.Table, people: pa.Table, valid_pos: np.ndarray
) -> ExactResult:
    """The exact tiers over the valid rows (`people`, at `valid_pos` of the canonical table):
    a person is the normalised name and birth date; rows are compared on their original text
    only where a NIK repeats."""
    n_valid = len(valid_pos)
    nik_codes = value_codes(people["nik"])
    days = pc.cast(people["tanggal_lahir"], pa.int32()).to_numpy(zero_copy_only=False)
    person_key = value_codes(people["nama_norm"]) * 1_000_000 + np.nan_to_num(days, nan=0).astype(
        np.int64
    )
    counts = np.bincount(nik_codes + 1, minlength=1)[nik_codes + 1]
    dup_nik = (counts > 1) & (nik_codes >= 0)
    row_hash = np.zeros(n_valid, dtype=np.uint64)
    filled = np.zeros(n_valid, dtype=np.int64)
    if dup_nik.any():
        dup_pos = valid_pos[dup_nik]
        row_hash[dup_nik] = raw_row_hash(raw, dup_pos).to_numpy()
        filled[dup_nik] = table.iloc[dup_pos].notna().sum(axis=1).to_numpy()
    active = people["status_aktif"].to_numpy(zero_copy_only=False).astype(bool)
    return exact_duplicates(
        pd.Series(np.where(nik_codes >= 0, nik_codes, np.nan)),
        pd.Series(person_key),
        pd.Series(row_hash),
        pd.Series(active),
        pd.Series(filled),
    )


def raw_row_hash(raw: pa.Table, positions: np.ndarray) -> pd.Series:
    """Hash of a row's original text (all source columns): equal hashes = the same row twice."""
    cols = [
        c
        for c in raw.column_names
        if c not in (C.SOURCE_FILE, C.SOURCE_ROW) and not c.startswith("__")
    ]
    subset = raw.select(cols).take(pa.array(positions)).to_pandas(types_mapper=pd.ArrowDtype)
    return pd.util.hash_pandas_object(subset.astype("string"), index=False).reset_index(drop=True)
