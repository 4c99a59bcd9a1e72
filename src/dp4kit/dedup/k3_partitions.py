"""K3 one partition at a time: the pairs, model, scores and figures of `link` over everyone,
with the people of only one partition compared at a time.

A blocking pass pairs people who share its key, so each group of passes runs on people
hash-partitioned by a value that every key of the group contains (the birth date for the date
passes, the name for name + year, the KK, …). Every block then lies whole in one partition and
gives the pairs it gives over everyone: the orders inside a large block compare names, dates
and words as values, ties broken by position, which a partition keeps. What is taken over
everyone is exact and small: the distinct pairs (a pair found in several partitions is scored
once, in the first), the name frequencies (counted in the partitions by name), the random pairs
for u and the training samples (by position, and by hash of the pair), the common names.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.dedup.blocking import PASSES, block, distinct
from dp4kit.dedup.features import fields_of
from dp4kit.dedup.linkage import K3Pairs, no_pairs, score_pairs
from dp4kit.dedup.model import (
    MIN_TRAIN,
    SAMPLES,
    Model,
    common_names,
    default_model,
    mix,
    pair_levels,
    smallest,
    smallest_of_distinct,
    train,
    training_pairs,
)

# each group of passes, and the value of a person its partitions are made on (every key of
# the group holds that value, so people with one key are in one partition)
GROUPS = {
    "tanggal": ("tanggal_lahir", "tanggal_kata", "tanggal_desa", "tanggal_tertukar"),
    # one full name has one last word: name + year, and the name frequencies, come here too
    "nama_akhir": ("nama_tahun", "nama_akhir_bulan", "nama_akhir_inisial_kecamatan"),
    "nkk": ("nkk",),
    "ibu": ("ibu_tahun",),
    "alamat": ("alamat_tahun",),
    "nama_depan": ("nama_depan_kecamatan",),
    "nama_terbalik": ("nama_terbalik",),
}
DATE_PASSES = ("tanggal_lahir", "tanggal_kata", "tanggal_desa")
# the order of the passes' figures in `link` (the date swap last)
FIGURES_ORDER = (*(p for p in PASSES if p != "tanggal_tertukar"), "tanggal_tertukar")


def _text_part(values: pa.ChunkedArray | pa.Array, partitions: int) -> np.ndarray:
    """Each value's partition by hash (-1 where missing), hashed once per distinct value."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    hashed = pd.util.hash_array(encoded.dictionary.to_numpy(zero_copy_only=False))
    part = np.append((hashed % np.uint64(partitions)).astype(np.int64), -1)
    return part[pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)]


def _int_part(values: np.ndarray, partitions: int) -> np.ndarray:
    return np.where(values >= 0, (mix(values) % np.uint64(partitions)).astype(np.int64), -1)


def _date_ints(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Birth date and swapped birth date as `blocking.dates` gives them (-1: none)."""
    born = table["tanggal_lahir"]
    y, m, d = (pc.fill_null(fn(born), 0).to_numpy(zero_copy_only=False).astype(np.int64)
               for fn in (pc.year, pc.month, pc.day))  # fmt: skip
    date = np.where(y > 0, y * 10000 + m * 100 + d, -1)
    swapped = np.where((y > 0) & (d <= 12) & (d != m), y * 10000 + d * 100 + m, -1)
    return date, swapped


def _last_word(names):
    return pc.replace_substring_regex(names, r"^.* ", "")


def _word_pair(names):
    """First and last word of a name, in word order: GEORGIA WHITE = WHITE GEORGIA."""
    first = pc.replace_substring_regex(names, r" .*$", "")
    last = _last_word(names)
    low = pc.if_else(pc.less_equal(first, last), first, last)
    high = pc.if_else(pc.less_equal(first, last), last, first)
    return pc.binary_join_element_wise(low, high, "|")


SLICE = 1_000_000  # people whose partitions are hashed at once


def _parts(table: pa.Table, group: str, partitions: int) -> list[np.ndarray]:
    """Per person, the partitions of the group they are in (-1: none): one array, or two for
    the date group (the date's and the swapped date's). Hashed a slice of people at a time."""
    small = np.int16 if partitions < 2**15 else np.int64
    slices = [_slice_parts(table.slice(start, SLICE), group, partitions)
              for start in range(0, max(table.num_rows, 1), SLICE)]  # fmt: skip
    return [np.concatenate([s[i] for s in slices]).astype(small) for i in range(len(slices[0]))]


def _slice_parts(table: pa.Table, group: str, partitions: int) -> list[np.ndarray]:
    column = {"nkk": "nkk", "ibu": "nama_ibu_norm",
              "alamat": "alamat_bersih", "nama_depan": "nama_inti"}  # fmt: skip
    if group == "tanggal":
        return [_int_part(v, partitions) for v in _date_ints(table)]
    if group in column:
        if column[group] not in table.column_names:
            return [np.full(table.num_rows, -1)]
        return [_text_part(table[column[group]], partitions)]
    derive = _last_word if group == "nama_akhir" else _word_pair
    return [_text_part(derive(table["nama_norm"]), partitions)]


@dataclass
class _Task:
    """One partition of one group: its people (positions, ascending) and which of them own
    each pass's key here."""

    group: str
    positions: np.ndarray
    owned: dict[str, np.ndarray]


def _tasks(group: str, parts: list[np.ndarray], partitions: int) -> Iterator[_Task]:
    """Every partition of the group with people (`parts`: the group's `_parts`)."""
    for p in range(partitions):
        inside = [part == p for part in parts]
        positions = np.flatnonzero(np.logical_or.reduce(inside))
        if len(positions) == 0:
            continue
        owned = {}
        if group == "tanggal":  # here through their date, their swapped date, or both
            own_date, own_swapped = (x[positions] for x in inside)
            owned = {name: own_date for name in DATE_PASSES}
            owned["tanggal_tertukar"] = np.concatenate([own_date, own_swapped])
        yield _Task(group, positions, owned)


# the columns a group's keys hold, beside the name and birth date every pass orders by
KEY_COLUMNS = {
    "tanggal": ("jenis_kelamin", "nama_inti", "kode_desa"),
    "nama_akhir": ("nama_inti", "kode_desa"),
    "nkk": ("nkk",),
    "ibu": ("nama_ibu_norm",),
    "alamat": ("alamat_bersih",),
    "nama_depan": ("nama_inti", "kode_desa"),
    "nama_terbalik": (),
}


def _blocked_on(table: pa.Table, task: _Task) -> pa.Table:
    """The task's people with only what its passes block on (the other columns empty: not
    encoded)."""
    needed = ("nama_norm", "tanggal_lahir", *KEY_COLUMNS[task.group])
    rows = pa.array(task.positions)
    columns = [table[c].take(rows) if c in needed else pa.nulls(len(rows), table[c].type)
               for c in table.column_names]  # fmt: skip
    return pa.table(columns, names=table.column_names)


PAIR = np.dtype([("code", "<i8"), ("pass", "i1"), ("task", "<i4")])  # a spilled pair
PASS_INDEX = {name: i for i, name in enumerate(PASSES)}


class _PairSpill:
    """Every pass's pairs (codes over everyone), who found them, spilled to disk in buckets
    by hash of the pair: each pair lies in one bucket, so a bucket alone gives its distinct
    pairs and each pair's first finder."""

    def __init__(self, folder: Path, buckets: int) -> None:
        self.paths = [folder / f"pairs-{b}.bin" for b in range(buckets)]
        for path in self.paths:
            path.touch()

    def add(self, codes: np.ndarray, pass_name: str, task: int) -> None:
        records = np.empty(len(codes), PAIR)
        records["code"], records["pass"], records["task"] = codes, PASS_INDEX[pass_name], task
        bucket = (mix(codes) % np.uint64(len(self.paths))).astype(np.int64)
        order = np.argsort(bucket, kind="stable")
        ends = np.cumsum(np.bincount(bucket, minlength=len(self.paths)))
        for path, part in zip(self.paths, np.split(records[order], ends[:-1]), strict=True):
            if len(part):
                with path.open("ab") as out:
                    part.tofile(out)

    def buckets(self) -> Iterator[np.ndarray]:
        for path in self.paths:
            yield np.fromfile(path, PAIR)
            path.unlink()


@dataclass
class _Distinct:
    """What the spilled pairs give, bucket by bucket: the distinct pairs counted, the
    training samples, and each pair's first finder (a file of codes per task)."""

    compared: int
    swapped_pairs: int  # distinct pairs of the date swap pass (two keys can find one pair)
    samples: dict[str, np.ndarray]


def _distinct_pairs(spill: _PairSpill, folder: Path, tasks: int) -> _Distinct:
    owned = [folder / f"owned-{t}.bin" for t in range(tasks)]
    compared = swapped = 0
    drawn: dict[str, list[np.ndarray]] = {name: [] for name in SAMPLES}
    wanted = {name: np.isin(np.arange(len(PASSES)), [PASS_INDEX[p] for p in passes or PASSES])
              for name, passes in SAMPLES.items()}  # fmt: skip
    for records in spill.buckets():
        code, task = _by_pair_then_finder(records["code"], records["task"], tasks)
        first = np.r_[True, code[1:] != code[:-1]] if len(code) else np.empty(0, bool)
        for name, passes in wanted.items():
            drawn[name].append(_distinct_of(records, passes))
        swapped += len(_distinct_of(records, PASS_INDEX["tanggal_tertukar"], sample=False))
        code, task = code[first], task[first]
        compared += len(code)
        by_task = np.argsort(task, kind="stable")  # small integers: a radix sort
        ends = np.cumsum(np.bincount(task, minlength=tasks))
        for path, part in zip(owned, np.split(code[by_task], ends[:-1]), strict=True):
            if len(part):
                with path.open("ab") as out:
                    part.tofile(out)
    samples = {name: smallest(np.concatenate([*parts, np.empty(0, np.int64)]))
               for name, parts in drawn.items()}  # fmt: skip
    return _Distinct(compared, swapped, samples)


def _by_pair_then_finder(code: np.ndarray, task: np.ndarray, tasks: int,
                         ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The records sorted by pair, then by the task that found it: one sort of one integer
    where both fit in 64 bits."""
    if len(code) and int(code.max()) < np.iinfo(np.int64).max // max(tasks, 1) - 1:
        key = np.sort(code * tasks + task)
        return key // tasks, (key % tasks).astype(np.int32)
    order = np.lexsort((task, code))
    return code[order], task[order]


def _distinct_of(records: np.ndarray, passes, sample: bool = True) -> np.ndarray:
    """The distinct pairs of the records of some passes (a mask over pass numbers, or one
    pass number); with `sample`, only their training sample (`smallest`)."""
    mask = passes[records["pass"]] if isinstance(passes, np.ndarray) else records["pass"] == passes
    codes = distinct(records["code"][mask])
    return smallest_of_distinct(codes) if sample else codes


def link_partitioned(table: pa.Table, partitions: int, model: Model | None = None,
                     threshold: float = 0.5, work: Path | None = None) -> K3Pairs:  # fmt: skip
    """`link(table, model, threshold)`, computed one partition of people at a time (the
    same pairs, probabilities, reasons, model and figures). The pairs wait on disk, in a
    temporary folder in `work` (default: the system's)."""
    n = table.num_rows
    if n < 2:
        return no_pairs(model)
    with tempfile.TemporaryDirectory(prefix="dp4kit-k3-", dir=work) as folder:
        return _link(table, partitions, model, threshold, Path(folder))


def _link(table: pa.Table, partitions: int, model: Model | None, threshold: float,
          folder: Path) -> K3Pairs:  # fmt: skip
    n = table.num_rows
    spill = _PairSpill(folder, partitions)
    figures = {name: {"pairs": 0, "large_blocks": 0, "pairs_not_compared": 0} for name in PASSES}
    tf = {"nama": np.full(n, np.nan), "nama_ibu": np.full(n, np.nan)}
    named, tasks = [], 0
    for group in GROUPS:  # one group's partitions in memory at a time
        for task in _tasks(group, _parts(table, group, partitions), partitions):
            f = fields_of(_blocked_on(table, task))
            _, _, stats, codes = block(f, GROUPS[task.group], task.owned)
            pos = task.positions
            for name, local in codes.items():
                spill.add(pos[local // f.n] * n + pos[local % f.n], name, tasks)
                for k, v in stats[name].items():
                    figures[name][k] += v
            tasks += 1
            # all people of a name (of a mother's name) are here: its frequency
            for of, key, out in (("nama_akhir", "nama_norm", "nama"), ("ibu", "ibu", "nama_ibu")):
                if task.group == of:
                    counts = np.bincount(f.codes[key] + 1, minlength=len(f.vocab[key]))
                    tf[out][pos] = np.where(f.codes[key] >= 0, counts[f.codes[key] + 1] / n,
                                            np.nan)  # fmt: skip
                    if out == "nama":
                        named.append(common_names(counts[1:], f.vocab[key][:-1]))
    pairs = _distinct_pairs(spill, folder, tasks)
    figures["tanggal_tertukar"]["pairs"] = pairs.swapped_pairs
    source = "file"
    if model is None:
        source = "input" if n >= MIN_TRAIN else "packaged"
        merged = [row for rows in named for row in rows]
        common = common_names(np.array([c for _, c in merged], dtype=np.int64),
                              np.array([name for name, _ in merged], dtype=object))  # fmt: skip
        if n >= MIN_TRAIN:
            steps = training_pairs(n, pairs.samples)
            model = train(n, _gathered_levels(table), pairs.compared, steps,
                          common)  # fmt: skip
        else:
            model = default_model()
    scored, strings = [], 0
    local = np.zeros(n, np.int64)  # a person's place among the people gathered
    for t in range(tasks):  # each pair once, with the people it needs
        path = folder / f"owned-{t}.bin"
        if not path.exists():
            continue
        codes = np.sort(np.fromfile(path, np.int64))
        path.unlink()
        a, b = codes // n, codes % n
        people = distinct(np.concatenate([a, b]))
        f = fields_of(table.take(pa.array(people)))
        local_tf = {k: v[people] for k, v in tf.items()}
        local[people] = np.arange(len(people))
        left, right, probability, weights, reason, compared = score_pairs(
            model, f, local[a], local[b], local_tf, threshold, n)  # fmt: skip
        strings += compared
        scored.append((people[left] * n + people[right], probability, weights, reason))
    figures = {name: figures[name] for name in FIGURES_ORDER}
    if not scored:
        empty = np.empty(0, np.int64)
        return K3Pairs(empty, empty, np.empty(0), {}, np.empty(0, object), model, figures,
                       pairs.compared, source, strings)  # fmt: skip
    code = np.concatenate([s[0] for s in scored])
    order = np.argsort(code, kind="stable")
    code = code[order]
    probability = np.concatenate([s[1] for s in scored])[order]
    reason = np.concatenate([s[3] for s in scored])[order]
    weights = {k: np.concatenate([s[2][k] for s in scored])[order] for k in scored[0][2]}
    return K3Pairs(code // n, code % n, probability, weights, reason, model, figures,
                   pairs.compared, source, strings)  # fmt: skip


def _gathered_levels(table: pa.Table):
    """`pair_levels` for pairs of people anywhere in `table`, gathering only their people (at
    most 800,000: the random pairs for u)."""

    def levels_of(a: np.ndarray, b: np.ndarray, twins_out: bool = True) -> dict:
        people = distinct(np.concatenate([a, b]))
        f = fields_of(table.take(pa.array(people)))
        return pair_levels(f, np.searchsorted(people, a), np.searchsorted(people, b), twins_out)

    return levels_of
