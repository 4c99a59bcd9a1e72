"""The decisions a partitioned export (`partitioned.py`) makes over the whole input,
from its kab/kota parts: the NIKs that repeat (NIK_GANDA; D, K1 and K2 on those rows only, by
`exact_duplicates` as export runs it) and K3 by partitions over every part's people merged
into input order; then each part's share of them. A row is known by its place in the input
(its file's number << 40 | its source row), so the whole input's order, on which the keep
rule and group numbers depend, is kept across parts."""

from __future__ import annotations

import math
import os
import pickle
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit import columns as C
from dp4kit.canonical import arrow_of
from dp4kit.config import Settings
from dp4kit.dedup.blocking import member
from dp4kit.dedup.clusters import K3Groups, k3_groups
from dp4kit.dedup.exact import ExactResult, exact_duplicates, raw_row_hash
from dp4kit.dedup.features import given_counter, take_sorted
from dp4kit.dedup.k3 import K3Options, K3Summary, find_k3
from dp4kit.dedup.k3_partitions import MAX_PARTITIONS
from dp4kit.dedup.k3_runner import Remote
from dp4kit.dp4 import Decided, person_table
from dp4kit.io.given_files import read_decisions, read_k3_model
from dp4kit.io.profiles import read_canonical
from dp4kit.regions.spill import BASELINE, Spill, merge_sorted, partition_of
from dp4kit.report import ValidationReport
from dp4kit.rules import nik as N
from dp4kit.stages import StageTimer, give_back_memory
from dp4kit.validation import validate_canonical

ROW_BITS = 40  # a row's place in the input: file number << 40 | source row
NIK_BYTES = 200  # per well-formed NIK when the NIKs that repeat are found (its spill columns)
K3_BYTES = 1300  # per person K3 compares at once (measured: 0.8 GB at 683,000 people, 4.4 GB
# at 3.4 million)
K3_FIXED = 95  # per person of the input that K3 by partitions keeps whatever the partitions
# (measured: its driver's anonymous memory while blocking 7.5M people, 90 B; 130 before a
# group's tasks were made by one stable sort)
K3_WORKER = 1 << 29  # a K3 worker process: its interpreter, libraries and results
MIN_PARTITION = 1 << 29  # the least memory a K3 partition is given
PEOPLE_BATCH = 65_536  # rows per batch of a people file (the merge holds one of each part's)
SPILL = {"nik": np.int64, "key": np.int64, "valid": np.int8, "name": np.uint64,
         "day": np.int64, "active": np.int8, "at": np.int64, "filled": np.int64}  # fmt: skip
PART_SHIFT = 32  # where a row is: its part's number << 32 | its place in the part


@dataclass
class Found:
    """The decisions over the whole input, by row key (sorted): the exact tiers' rows and the
    K3 groups' rows, and the NIKs that repeat."""

    repeated: np.ndarray  # NIKs (int64) on more than one row: NIK_GANDA
    exact_keys: np.ndarray
    exact: ExactResult
    k3_keys: np.ndarray
    k3: K3Groups  # over k3_keys
    summary: K3Summary


def _keys(table: pd.DataFrame, files: pa.Array) -> np.ndarray:
    """Each row's place in the input: its file's number << 40 | its source row."""
    number = pc.index_in(arrow_of(table[C.SOURCE_FILE]), value_set=files).to_numpy(
        zero_copy_only=False
    )
    if np.isnan(number.astype(float)).any():
        raise AssertionError("a part's row names a file that was not split")
    row = table[C.SOURCE_ROW].to_numpy(dtype=np.int64)
    return (number.astype(np.int64) << ROW_BITS) | row


def _nik_numbers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Where the NIK is well-formed, and those NIKs as 64-bit numbers."""
    ok = np.asarray(N.well_formed(values), dtype=bool)
    digits = pc.filter(values, pa.array(ok))
    return ok, pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class PartTask:
    """The first pass on one kab/kota part (`read_part`): what a thread or a Spark task needs."""

    number: int
    part: Path  # the split part (removed once read)
    work: Path  # the export's work folder
    settings: Settings
    files: pa.Array  # the inputs' paths, in input order
    nik_partitions: int


def read_part(task: PartTask) -> None:
    """Read and check a part; its NIKs into its spill (`nik_spill`), its compared people into
    people-NNNNN.arrow, its rows and report kept (`keep`: read-NNNNN.pickle) for the second
    pass; the split part removed. Files only: it may run in another process."""
    settings = task.settings
    data = read_canonical([task.part], settings.profile, settings.election_date, None, None)
    report = validate_canonical(data, settings.election_date, settings.schema)
    spill = nik_spill(task.work, task.number, task.nik_partitions)
    first_pass(data, report, task.files, spill, task.work / f"people-{task.number:05d}.arrow",
               task.number)  # fmt: skip
    keep((data, report), kept_path(task.work, task.number))  # read back, not read again
    task.part.unlink()


def nik_spill(work: Path, number: int, partitions: int) -> Spill:
    """Part `number`'s NIKs with a few numbers, by a hash of the NIK, on disk."""
    return Spill(partitions, work / "nik" / f"{number:05d}", SPILL, on_disk=True)


def kept_path(work: Path, number: int) -> Path:
    return work / f"read-{number:05d}.pickle"


def first_pass(data, report: ValidationReport, files: pa.Array, spill: Spill,
                people_file: Path, part: int) -> None:  # fmt: skip
    """A part's NIKs into the spill (with where each row is: `part`, its place), and its
    valid rows' compared people into a file."""
    table = data.table
    keys = _keys(table, files)
    valid = ~report.error_mask
    valid_pos = np.flatnonzero(valid)
    people = person_table(table, valid_pos)
    _write_arrow(people.append_column("__key", pa.array(keys[valid_pos])), people_file)
    name = np.zeros(len(table), np.uint64)
    day = np.zeros(len(table), np.int64)
    active = np.zeros(len(table), np.int8)
    filled = np.zeros(len(table), np.int64)
    if len(valid_pos):
        name[valid_pos] = _hashed(people["nama_norm"])
        days = pc.cast(people["tanggal_lahir"], pa.int32()).to_numpy(zero_copy_only=False)
        day[valid_pos] = np.nan_to_num(days, nan=0).astype(np.int64)
        active[valid_pos] = people["status_aktif"].to_numpy(zero_copy_only=False).astype(bool)
        filled[valid_pos] = table.notna().sum(axis=1).to_numpy()[valid_pos]
    ok, nik = _nik_numbers(arrow_of(table["nik"]))
    columns = {
        "nik": nik,
        "key": keys[ok],
        "valid": valid[ok],
        "name": name[ok],
        "day": day[ok],
        "active": active[ok],
        "at": (part << PART_SHIFT) | np.flatnonzero(ok),
        "filled": filled[ok],
    }
    spill.add(partition_of(nik, spill.partitions), **columns)


def _hashed(values: pa.ChunkedArray) -> np.ndarray:
    """`pd.util.hash_array` of text values (the same numbers), hashing each distinct value
    once."""
    encoded = pc.dictionary_encode(values, null_encoding="encode").combine_chunks()
    hashes = pd.util.hash_array(encoded.dictionary.to_numpy(zero_copy_only=False).astype(object))
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return hashes[codes]


def _write_arrow(table: pa.Table, path: Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=PEOPLE_BATCH)


def k3_partitions(people: int, budget: int, jobs: int = 1) -> int | None:
    """K3's partitions for this many people within the budget: None (all at once: the same
    result, faster) when they fit, else as many as keep `jobs` partitions' people (K3_BYTES
    each; with more than one job, beside a worker process each) in what the per-person arrays
    (K3_FIXED each) leave, at least 512 MiB a partition."""
    room = budget - BASELINE - people * K3_FIXED
    if people * K3_BYTES <= room:
        return None
    each = (room - jobs * K3_WORKER) // jobs if jobs > 1 else room
    return min(MAX_PARTITIONS, max(2, math.ceil(people * K3_BYTES / max(each, MIN_PARTITION))))


def k3_jobs(people: int, budget: int, cores: int | None = None) -> int:
    """How many of K3's partitions run at once (worker processes, one per core or `cores`):
    as many as the budget holds at MIN_PARTITION each beside a worker each; 1 when K3 runs
    at once."""
    room = budget - BASELINE - people * K3_FIXED
    if people * K3_BYTES <= room:
        return 1
    fit = [j for j in range(2, (cores or os.cpu_count() or 1) + 1)
           if (room - j * K3_WORKER) // j >= MIN_PARTITION]  # fmt: skip
    return max(fit, default=1)


def keep(read: tuple, path: Path) -> None:
    """A part's canonical rows and report, as the first pass read and checked them (the
    decisions and the second pass read them back: not read and checked twice), zstd-framed:
    about 185 MB per million rows on disk instead of 640."""
    with pa.CompressedOutputStream(str(path), "zstd") as f:
        pickle.dump(read, f, protocol=pickle.HIGHEST_PROTOCOL)


def kept(path: Path) -> tuple:
    """What `keep` kept (a file of this run's own work folder)."""
    with pa.CompressedInputStream(str(path), "zstd") as f:
        return pickle.load(f)  # noqa: S301 - written by this run, in its own work folder


def row_hashes(at: np.ndarray, parts: list[Path]) -> np.ndarray:
    """The hash of each row's original text (`raw_row_hash`), for the rows `at` (where each
    is: PART_SHIFT) only, a kept part at a time."""
    hashes = np.zeros(len(at), np.uint64)
    part, place = at >> PART_SHIFT, at & ((1 << PART_SHIFT) - 1)
    for i in np.unique(part):
        rows = np.flatnonzero(part == i)
        data, _ = kept(parts[i])
        hashes[rows] = raw_row_hash(data.raw, place[rows]).to_numpy()
    return hashes


def decide(spills: list[Spill], people_files: list[Path], parts: list[Path], work: Path,
           settings: Settings, budget: int, stage: StageTimer,
           remote: Remote | None = None) -> Found:  # fmt: skip
    """The NIKs that repeat (every part's `spills`, a partition at a time) and the exact
    tiers on their rows (their text hashed from the kept `parts`: only theirs); K3 over
    everyone else (`remote`: its partition tasks there)."""
    by_partition = [_repeated_in([s.read(p) for s in spills])
                    for p in range(spills[0].partitions if spills else 0)]  # fmt: skip
    repeated, rows = [r for r, _ in by_partition], [d for _, d in by_partition]
    shutil.rmtree(work / "nik", ignore_errors=True)  # read: its disk is K3's
    dup = pd.concat(rows or [pd.DataFrame({c: np.zeros(0, t) for c, t in SPILL.items()})],
                    ignore_index=True).sort_values("key", kind="stable")  # fmt: skip
    del by_partition, rows  # in `dup`: not held twice while K3 runs
    person = pd.factorize(pd.MultiIndex.from_arrays([dup["name"], dup["day"]]))[0]
    exact = exact_duplicates(
        pd.Series(pd.factorize(dup["nik"])[0]).astype(float),
        pd.Series(person),
        pd.Series(row_hashes(dup["at"].to_numpy(), parts)),
        pd.Series(dup["active"].to_numpy().astype(bool)),
        pd.Series(dup["filled"].to_numpy()),
    )
    exact_keys = dup["key"].to_numpy().copy()
    del dup, person  # decided: not held while K3 runs
    stage("dedup_exact")
    gone = np.sort(exact_keys[(exact.action == "removed") | (exact.action == "held")])
    people_path = work / "people.arrow"
    # with the given names' counts over everyone K3 compares: its workers map this file
    merge_sorted(people_files, "__key", people_path, drop=gone,
                 extend=given_counter(_kept_names(p, gone) for p in people_files))  # fmt: skip
    for path in people_files:  # merged: their disk is K3's for its pairs
        path.unlink()
    with pa.memory_map(str(people_path)) as source:
        merged = pa.ipc.open_file(source).read_all()
    people = merged.drop_columns(["__key"])
    n = people.num_rows
    jobs = 1 if settings.k3_partitions else k3_jobs(n, budget, settings.jobs)
    options = K3Options(
        review=settings.k3_review,
        merge=settings.merge_fuzzy,
        model=read_k3_model(settings.k3_model) if settings.k3_model else None,
        decisions=read_decisions(settings.decisions) if settings.decisions else None,
        partitions=settings.k3_partitions or k3_partitions(n, budget, jobs),
        work=work / "k3",
        jobs=jobs,
        remote=remote,
        mapped=people_path,
    )
    give_back_memory()  # the kept parts read for the row hashes: K3's room
    found = find_k3(people, options)
    involved = np.unique(np.concatenate([found.left, found.right])).astype(np.int64)
    compact = replace(found, left=np.searchsorted(involved, found.left),
                      right=np.searchsorted(involved, found.right))  # fmt: skip
    groups = k3_groups(compact, np.arange(len(involved)), len(involved), options.merge)
    stage("dedup_fuzzy")
    keys = take_sorted(merged.select(["__key"]), involved)["__key"].to_numpy()  # theirs only
    return Found(np.concatenate(repeated), exact_keys, exact, keys, groups, found.summary)


def _kept_names(path: Path, gone: np.ndarray) -> pa.ChunkedArray:
    """The given names (`nama_inti`) of a people file's people, less those `gone` (sorted
    keys: removed or held by the exact tiers)."""
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all().select(["__key", "nama_inti"])
    return table["nama_inti"].filter(pa.array(~member(table["__key"].to_numpy(), gone)))


def _repeated_in(pieces: list[dict]) -> tuple[np.ndarray, pd.DataFrame]:
    """One NIK partition (every part's piece of it): the NIKs on more than one row, and the
    rows under a NIK repeated among valid rows. A function of its own, so that a partition's
    arrays are not held past it (at 50M rows, 2 GB while K3 ran)."""
    part = {c: np.concatenate([piece[c] for piece in pieces]) for c in SPILL}
    nik = part["nik"]
    values, counts = np.unique(nik, return_counts=True)
    valid = part["valid"] == 1
    v_values, v_counts = np.unique(nik[valid], return_counts=True)
    again = np.isin(nik, v_values[v_counts > 1]) & valid
    return values[counts > 1], pd.DataFrame({c: v[again] for c, v in part.items()})


def share(data, report: ValidationReport, files: pa.Array, found: Found) -> Decided:
    """The decisions for a part's valid rows, in its order."""
    keys = _keys(data.table, files)[~report.error_mask]

    def take(at_keys: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
        out = np.full(len(keys), fill, dtype=values.dtype if fill is not None else object)
        if len(at_keys):
            at = np.minimum(np.searchsorted(at_keys, keys), len(at_keys) - 1)
            hit = at_keys[at] == keys
            out[hit] = values[at[hit]]
        return out

    exact = ExactResult(
        *(
            take(found.exact_keys, v, None)
            for v in (found.exact.kind, found.exact.group, found.exact.action)
        )
    )
    g = found.k3
    groups = replace(
        g,
        group=take(found.k3_keys, g.group, None),
        action=take(found.k3_keys, g.action, None),
        score=take(found.k3_keys, g.score, np.nan),
        reason=take(found.k3_keys, g.reason, None),
        weights={k: take(found.k3_keys, v, np.nan) for k, v in g.weights.items()},
    )
    return Decided(exact, groups, found.summary)


def with_repeated(report: ValidationReport, data, repeated: np.ndarray) -> ValidationReport:
    """The part's report with NIK_GANDA counted over the whole input (a part sees its own)."""
    from dp4kit.report import with_rule_rows

    ok, nik = _nik_numbers(arrow_of(data.table["nik"]))
    ganda = np.zeros(len(data.table), dtype=bool)
    ganda[np.flatnonzero(ok)] = np.isin(nik, repeated)
    return with_rule_rows(report, "NIK_GANDA", ganda, data.table)
