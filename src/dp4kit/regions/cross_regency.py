"""The findings no regency can make alone: people on two regencies' DP4 lists.

Every part of every run is scanned once for three 64-bit numbers per voter (the NIK, a hash of
the normalised name, birth date and sex, and where the row is). They are partitioned twice,
by a hash of the NIK and by the person hash, so that every NIK, and every person, is whole in
one partition; each partition is then classified on its own, within the memory budget. The
partitions only change where the work happens: the findings are the same for any number.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dp4kit.dedup.blocking import member
from dp4kit.dedup.normalise import normalise_names
from dp4kit.errors import InputFileError
from dp4kit.regions.spill import Spill, partition_of

# A cross-regency finding as listed in duplicates.parquet
FINDING_TABLE = ["kind", "group_id", "action", "reason", "score", "nik", "nkk", "nama",
                 "tanggal_lahir", "tempat_lahir", "kode_desa", "alamat", "sumber_file",
                 "sumber_baris", "kode_kabkota", "kabkota", "kabkota_lain"]  # fmt: skip
PERSON = ["nik", "nama", "tanggal_lahir", "jenis_kelamin"]
# Where a row is, as one integer: run (15 bits), part (16 bits), row in the part (32 bits)
RUN_SHIFT, PART_SHIFT = 48, 32
SCANNED = {"nik": np.dtype(np.int64), "key": np.dtype(np.uint64), "at": np.dtype(np.int64)}
EXCLUDED = 0xFFFF  # the part number of a run's excluded.parquet in an address
# How a row was found: a NIK on two lists; a NIK on a list and on another run's excluded list
# (for a reason other than an inactive record: a move the old regency recorded is no conflict);
# one person under two NIKs
MATCHES = np.array(["nik", "excluded", "person"])
NO_CONFLICT = "TIDAK_AKTIF"
# One partition's peak while it is classified, per voter in it (measured: see docs/scale.md)
BYTES_PER_VOTER = 100


class Engine(Protocol):
    """Where combine's work runs: here (`LocalEngine`) or on Spark (`spark.SparkEngine`).
    Both run the same functions (`scan_part`, `same_nik_rows`, `same_person_rows`, K3's
    partition tasks): only where they run differs, never what they find."""

    def found(self, jobs: list, partitions: int, spill: Path | None,
              persons: bool) -> tuple[list, list]:  # fmt: skip
        """The rows found by NIK and by person, a list per partition (`found_here`)."""

    def k3_tasks(self, folder: Path) -> Callable[[], AbstractContextManager] | None:
        """What opens a runner of K3's partition tasks (`link_partitioned(remote=…)`),
        its scratch files in `folder`; None: here, in worker processes."""


class LocalEngine:
    """The local engine: the scan on all cores, the partitions one after another, K3's
    partition tasks in worker processes."""

    def found(self, jobs: list, partitions: int, spill: Path | None,
              persons: bool) -> tuple[list, list]:  # fmt: skip
        return found_here(jobs, partitions, spill, persons)

    def k3_tasks(self, folder: Path) -> None:
        return None


def cross_regency(runs: list, partitions: int = 1, spill: Path | None = None,
                  engine: Engine | None = None, persons: bool = True,
                  ) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """The DP4 rows on more than one run's list, classified. By NIK: K1 (one person: the
    first run's row kept, the others removed) or K2 (several people: all held). With
    `persons`, by person under different NIKs too: K3 (the same normalised name, birth date
    and sex in two regencies: listed for review, never taken off a list); without, K3's
    model decides those (`cross_k3.across_runs`). A NIK on one run's list and on another
    run's excluded list (TNI there, say) is K1 or K2 for review: it stays on the list.
    `runs`: `combine.Run`s; `spill`: a folder for the partitions when there is more than
    one; `engine`: where the scan and the partitions run (`LocalEngine`, the default, or
    `spark.SparkEngine`). Returns the findings and the sorted addresses
    of the listed rows found by NIK."""
    jobs = [(r, p, run.folder / rel) for r, run in enumerate(runs)
            for p, rel in enumerate([*run.parts, "excluded.parquet"])]  # fmt: skip
    jobs = [(r, p if p < len(runs[r].parts) else EXCLUDED, path) for r, p, path in jobs]
    if len(runs) >= 1 << (63 - RUN_SHIFT) or max(len(r.parts) for r in runs) >= EXCLUDED:
        raise InputFileError("combine takes at most 32,767 runs of 65,535 kecamatan each")
    same_nik, same_person = (engine or LocalEngine()).found(jobs, partitions, spill, persons)
    found = _findings_frame(rows_at(runs, _picked(same_nik + same_person)))
    by_nik = np.concatenate([np.empty(0, np.int64), *(at[_listed(at)] for at, _, _ in same_nik)])
    return found, np.sort(by_nik)


def rows_at(runs: list, picked: pd.DataFrame) -> pd.DataFrame:
    """The rows `picked` (run, part, row: in scan order) read in full, with picked's columns."""
    frames = []
    for (r, p), group in picked.groupby(["run", "part"]):
        run = runs[r]
        rel = run.parts[p] if p != EXCLUDED else "excluded.parquet"
        table = pq.read_table(run.folder / rel).take(pa.array(group["row"].to_numpy()))
        frame = table.to_pandas(types_mapper=pd.ArrowDtype)
        for column in group.columns:
            frame[column] = group[column].to_numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def found_here(jobs: list, partitions: int, spill: Path | None,
                persons: bool = True) -> tuple[list, list]:  # fmt: skip
    """The local engine: every part scanned (on all cores), the scan spilled into partitions
    by NIK and by person, each partition classified in turn. `persons`: False, by NIK only
    (no person keys: K3's model finds the people under two NIKs)."""
    by_nik = Spill(partitions, spill and spill / "nik", SCANNED)
    by_person = by_nik if partitions == 1 or not persons else Spill(partitions, spill / "person",
                                                                    SCANNED)  # fmt: skip
    window = 2 * (os.cpu_count() or 1)  # parts in memory at once
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # Arrow reads and compute release the GIL
        for start in range(0, len(jobs), window):
            for nik, key, at in pool.map(partial(scan_part, persons=persons),
                                         jobs[start : start + window]):  # fmt: skip
                by_nik.add(partition_of(nik, partitions), nik=nik, key=key, at=at)
                if by_person is not by_nik:
                    by_person.add(partition_of(key, partitions), nik=nik, key=key, at=at)
    same_nik = [same_nik_rows(by_nik.read(p)) for p in range(partitions)]
    if not persons:
        return same_nik, []
    nik_at = np.sort(np.concatenate([at[match == 0] for at, _, match in same_nik]))
    return same_nik, [same_person_rows(by_person.read(p), nik_at) for p in range(partitions)]


def scan_part(job: tuple[int, int, Path],
              persons: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One part (or a run's excluded list, where an inactive record is no conflict): its NIKs
    as integers, its person keys (zeros without `persons`), and where each row is."""
    r, p, path = job
    if p == EXCLUDED:
        table = pq.read_table(path, columns=[*PERSON, "alasan"])
        rows = np.flatnonzero(pc.fill_null(pc.not_equal(table["alasan"], NO_CONFLICT), True))
        table = table.select(PERSON).take(pa.array(rows))
    else:
        table = pq.read_table(path, columns=PERSON)
        rows = np.arange(table.num_rows)
    at = (r << RUN_SHIFT) + (p << PART_SHIFT) + rows.astype(np.int64)
    keys = person_keys(table) if persons else np.zeros(table.num_rows, np.uint64)
    return pc.cast(table["nik"], pa.int64()).to_numpy(), keys, at


def _listed(at: np.ndarray) -> np.ndarray:
    """True where the row is on a list (a dp4 part), not on an excluded list."""
    return (at >> PART_SHIFT) & 0xFFFF != EXCLUDED


def same_nik_rows(scanned: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Where a NIK is on more than one list (match 0), or on a list and on another run's
    excluded list (match 1); with the rows' person keys."""
    at, nik = scanned["at"], scanned["nik"]
    twice = np.flatnonzero(_repeated(nik))
    groups = pd.DataFrame({"nik": nik[twice], "listed": _listed(at[twice]),
                           "run": at[twice] >> RUN_SHIFT})  # fmt: skip
    by_nik = groups.groupby("nik")
    lists = by_nik["listed"].transform("sum").to_numpy()
    runs = by_nik["run"].transform("nunique").to_numpy()
    listed = groups["listed"].to_numpy()
    on_lists = twice[listed & (lists > 1)]
    conflict = twice[(lists >= 1) & (lists < by_nik["listed"].transform("size").to_numpy())
                     & (runs > 1)]  # fmt: skip
    found = np.concatenate([on_lists, conflict])
    match = np.r_[np.zeros(len(on_lists), np.int8), np.ones(len(conflict), np.int8)]
    return at[found], scanned["key"][found], match


def same_person_rows(scanned: dict[str, np.ndarray], nik_at: np.ndarray) -> tuple[np.ndarray, ...]:
    """Where one person key is under several NIKs in several runs' lists (rows already found
    by NIK, and excluded lists, left out); match 2."""
    at = scanned["at"]
    rest = np.flatnonzero(~member(at, nik_at) & _listed(at))
    key = scanned["key"][rest]
    alike = rest[_repeated(key)]
    groups = pd.DataFrame({"key": scanned["key"][alike], "run": at[alike] >> RUN_SHIFT,
                           "nik": scanned["nik"][alike]})  # fmt: skip
    spread = groups.groupby("key")[["run", "nik"]].transform("nunique")
    alike = alike[((spread["run"] > 1) & (spread["nik"] > 1)).to_numpy()]
    return at[alike], scanned["key"][alike], np.full(len(alike), 2, np.int8)


def _picked(found: list[tuple[np.ndarray, ...]]) -> pd.DataFrame:
    """The rows found, in scan order (run, part, row; then how they matched)."""
    at, key, match = (np.concatenate([f[i] for f in found]) for i in range(3))
    order = np.lexsort((match, at))
    at, key, match = at[order], key[order], match[order]
    return pd.DataFrame({"run": (at >> RUN_SHIFT).astype(np.int64),
                         "part": ((at >> PART_SHIFT) & 0xFFFF).astype(np.int64),
                         "row": (at & 0xFFFFFFFF).astype(np.int64),
                         "match": MATCHES[match], "key": key})  # fmt: skip


def person_keys(table: pa.Table) -> np.ndarray:
    """A 64-bit hash of each row's normalised name, birth date and sex."""
    parts = [pc.cast(normalise_names(table["nama"]), pa.string()),
             pc.cast(table["tanggal_lahir"], pa.string()),
             pc.cast(table["jenis_kelamin"], pa.string())]  # fmt: skip
    text = pc.binary_join_element_wise(*[pc.fill_null(x, "") for x in parts], "|")
    return pd.util.hash_array(np.asarray(text.to_numpy(zero_copy_only=False), dtype=object))


def _repeated(values: np.ndarray) -> np.ndarray:
    """True where the value occurs more than once."""
    order = np.argsort(values, kind="stable")
    same = values[order][1:] == values[order][:-1]
    out = np.zeros(len(values), bool)
    out[order[1:][same]] = True
    out[order[:-1][same]] = True
    return out


def _findings_frame(found: pd.DataFrame) -> pd.DataFrame:
    columns = [*FINDING_TABLE, "run", "part", "row", "kode_kecamatan", "jenis_kelamin"]
    if found.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    order = found["match"].map({"nik": 0, "excluded": 1, "person": 2})
    # (the order of those rows only: an empty frame would take on every row of `order`)
    by_nik = found[order < 2].assign(order=order[order < 2]).sort_values(
        ["order", "nik", "run"], kind="stable")  # fmt: skip
    by_person = found[found["match"] == "person"].sort_values(["key", "run"], kind="stable")
    # (an empty part would make pandas take the 64-bit keys for floats, and lose digits)
    found = pd.concat([f for f in (by_nik, by_person) if len(f)], ignore_index=True)
    person = pd.Series(person_keys(pa.Table.from_pandas(found[PERSON], preserve_index=False)))
    how = found["match"].to_numpy()
    nik = found["nik"].astype(str).to_numpy()
    group = np.select([how == "nik", how == "excluded"], [nik, np.char.add("x", nik.astype(str))],
                      found["key"].astype(str).to_numpy())  # fmt: skip
    conflict = person.groupby(group, sort=False).transform("nunique").to_numpy() > 1
    first = ~pd.Series(group).duplicated(keep="first").to_numpy()
    kind = np.where(how == "person", "K3", np.where(conflict, "K2", "K1"))
    found["kind"] = kind
    found["score"] = np.nan  # the exact rules: no match probability
    found["action"] = np.where(how != "nik", "review", np.where(
        conflict, "held", np.where(first, "kept", "removed")))  # fmt: skip
    number = pd.Series(group).groupby(group, sort=False).ngroup().to_numpy() + 1
    serial = np.char.add("-", np.char.zfill(number.astype(str), 6))
    found["group_id"] = np.char.add(np.char.add("LINTAS-", kind.astype(str)), serial)
    label = (found["kode_kabkota"].astype(str) + " " + found["kabkota"].astype(str)).to_numpy()
    found["kabkota_lain"] = joined_labels(group, label, others=True)
    regencies = pd.Series(joined_labels(group, label, others=False))
    reason = found["alasan"] if "alasan" in found else pd.Series(pd.NA, index=found.index)
    where = pd.Series(np.where(reason.notna(), label + " (" + reason.astype(str) + ")", None))
    excluded_in = where.groupby(group, sort=False).transform("first").fillna("")
    found["reason"] = np.select(
        [how == "person", how == "excluded", kind == "K2"],
        ["nama, tanggal lahir dan jenis kelamin sama di " + regencies
         + "; NIK berbeda, perlu ditinjau",
         "NIK sama di " + regencies + "; dikecualikan di " + excluded_in + "; orang "
         + np.where(conflict, "berbeda", "sama") + ", perlu ditinjau",
         "NIK sama di " + regencies + "; orang berbeda, ditahan untuk keputusan"],
        "NIK sama di " + regencies + "; orang sama, "
        + np.where(first, "dipertahankan", "dihapus"),
    )  # fmt: skip
    return found[columns].reset_index(drop=True)


def joined_labels(key: np.ndarray, label: np.ndarray, others: bool) -> np.ndarray:
    """Per row, the labels of its key's rows (`others`: but its own) joined by ` | `, in row
    order (Arrow group_by and binary_join: no Python per group)."""
    row = np.arange(len(key))
    pairs = pd.DataFrame({"key": key, "row": row}).merge(
        pd.DataFrame({"key": key, "other": row}), on="key"
    )
    if others:
        pairs = pairs[pairs["row"] != pairs["other"]]
    pairs = pairs.sort_values(["row", "other"], kind="stable")
    table = pa.table({"row": pairs["row"].to_numpy(), "label": label[pairs["other"].to_numpy()]})
    grouped = table.group_by("row", use_threads=False).aggregate([("label", "list")])
    text = pc.binary_join(grouped["label_list"], " | ").to_numpy(zero_copy_only=False)
    out = np.full(len(key), "", dtype=object)
    out[grouped["row"].to_numpy()] = text
    return out
