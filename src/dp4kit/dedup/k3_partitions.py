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

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.dedup.blocking import PASSES, block, dates_of, distinct, name_head, places
from dp4kit.dedup.features import (
    FIELD_COLUMNS,
    GIVEN_COUNT,
    fields_of,
    last_word,
    take_sorted,
    with_given_counts,
    word_pair,
)
from dp4kit.dedup.k3_runner import Remote, Runner
from dp4kit.dedup.linkage import KEPT_APART, K3Pairs, no_pairs, score_pairs
from dp4kit.dedup.model import (
    MIN_TRAIN,
    Model,
    common_names,
    default_model,
    mix,
    pair_levels,
    train,
    training_pairs,
)
from dp4kit.dedup.pair_spill import PairSpill, distinct_pairs
from dp4kit.errors import WRITE_ERRORS, OutputError, UsageError, write_failure
from dp4kit.stages import give_back_memory

# each group of passes, and the value of a person its partitions are made on (every key of
# the group holds that value, so people with one key are in one partition)
GROUPS = {
    "tanggal": ("tanggal_lahir", "tanggal_kata", "tanggal_desa", "tanggal_tertukar"),
    # one full name has one last word: name + year, and the name frequencies, come here too
    "nama_akhir": (
        "nama_tahun",
        "nama_akhir_bulan",
        "nama_hari_bulan",
        "nama_akhir_inisial_kecamatan",
    ),
    "nkk": ("nkk",),
    "ibu": ("ibu_tahun",),
    "alamat": ("alamat_tahun",),
    "nama_depan": ("nama_depan_kecamatan",),
    "nama_terbalik": ("nama_terbalik",),
    # names near in spelling begin (end) with the same letters: partitioned by them
    "nama_awal": ("nama_mirip_awal",),
    "nama_ujung": ("nama_mirip_akhir",),
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
    return dates_of(*(pc.fill_null(fn(born), 0).to_numpy(zero_copy_only=False).astype(np.int64)
                      for fn in (pc.year, pc.month, pc.day)))  # fmt: skip


SLICE = 1_000_000  # people whose partitions are hashed at once
MAX_PARTITIONS = 1024  # beyond this, partitions save no memory (the floor is training's)
MAX_BUCKETS = 128  # files the pairs are spilled to (per process)


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
    derive = {"nama_akhir": last_word, "nama_terbalik": word_pair,
              "nama_awal": partial(name_head, backwards=False),
              "nama_ujung": partial(name_head, backwards=True)}[group]  # fmt: skip
    return [_text_part(derive(table["nama_norm"]), partitions)]


@dataclass
class _Task:
    """One partition of one group: its people (positions, ascending) and which of them own
    each pass's key here."""

    group: str
    positions: np.ndarray
    owned: dict[str, np.ndarray]


def _tasks(group: str, parts: list[np.ndarray], partitions: int) -> Iterator[_Task]:
    """Every partition of the group with people (`parts`: the group's `_parts`), one stable
    sort of the people by partition (not a pass over everyone per partition). A person
    whose swapped date is in another partition is in that one too."""
    n = len(parts[0])
    again = np.flatnonzero((parts[1] >= 0) & (parts[1] != parts[0])) if len(parts) > 1 else []
    part = np.concatenate([parts[0], parts[1][again]]) if len(parts) > 1 else parts[0]
    order = np.argsort(part, kind="stable")  # by partition (-1: none first), then person
    ends = np.cumsum(np.bincount(part.astype(np.int64) + 1, minlength=partitions + 1))
    del part
    for p in range(partitions):
        positions = order[ends[p] : ends[p + 1]]
        if len(positions) == 0:
            continue
        positions = positions.copy()  # not a view keeping every partition's order alive
        late = positions >= n  # here by their swapped date: their place, in order
        if late.any():
            positions[late] = again[positions[late] - n]
            positions.sort()
        owned = {}
        if group == "tanggal":  # here through their date, their swapped date, or both
            own_date, own_swapped = (x[positions] == p for x in parts)
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
    "nama_awal": (),
    "nama_ujung": (),
}


def _blocked_on(table: pa.Table, task: _Task) -> pa.Table:
    """The task's people with only what its passes block on (the other columns empty: not
    encoded)."""
    needed = ("nama_norm", "tanggal_lahir", *KEY_COLUMNS[task.group])
    taken = take_sorted(table.select([c for c in table.column_names if c in needed]),
                        task.positions)  # fmt: skip
    n = len(task.positions)
    columns = [taken[c] if c in needed else pa.nulls(n, table[c].type)
               for c in table.column_names]  # fmt: skip
    return pa.table(columns, names=table.column_names)


def link_partitioned(table: pa.Table, partitions: int, model: Model | None = None,
                     threshold: float = 0.5, work: Path | None = None, jobs: int = 1,
                     apart: np.ndarray | None = None, mapped: Path | None = None,
                     remote: Remote | None = None) -> K3Pairs:  # fmt: skip
    """`link(table, model, threshold)`, computed one partition of people at a time (the
    same pairs, probabilities, reasons, model and figures), `jobs` partitions at once. The
    pairs wait on disk in the folder `work` (made, and removed at the end; default: a
    temporary folder of the system's). `apart`: a number per person (a regency's run, say):
    blocking and training see every pair, as they do within one input, but only pairs of
    people of different numbers are scored and counted as compared. `mapped`: the
    Arrow file `table` is memory-mapped from, for the workers to map too (not written
    again). `remote`: runs the partition tasks elsewhere instead (Spark: `on_mapped` on
    each), a wave at a time; the work folder must be readable there at the same path."""
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise UsageError(f"K3 partitions: {partitions} is not between 1 and {MAX_PARTITIONS}")
    if table.num_rows < 2:
        return no_pairs(model)
    if GIVEN_COUNT not in table.column_names:  # the whole's counts, in every partition
        table, mapped = with_given_counts(table), None
    folder = Path(work or tempfile.mkdtemp(prefix="dp4kit-k3-"))
    try:
        if work is not None:
            shutil.rmtree(folder, ignore_errors=True)  # what a killed run of this pid left
            folder.mkdir(mode=0o700, parents=True)
        return _link(table, partitions, model, threshold, folder, jobs, apart, mapped, remote)
    except WRITE_ERRORS as exc:  # the spill: a full disk, a folder not writable
        raise OutputError(f"{folder}: cannot write K3's pairs: {write_failure(exc)}") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _link(table: pa.Table, partitions: int, model: Model | None, threshold: float,
          folder: Path, jobs: int, apart: np.ndarray | None, mapped: Path | None,
          remote: Remote | None) -> K3Pairs:  # fmt: skip
    n = table.num_rows
    spill = PairSpill(folder, min(partitions, MAX_BUCKETS))
    figures = {name: {"pairs": 0, "large_blocks": 0, "pairs_not_compared": 0} for name in PASSES}
    tf = {"nama": np.full(n, np.nan), "nama_ibu": np.full(n, np.nan)}
    named, tasks = [], 0
    with Runner(table, folder, jobs, mapped, remote) as run:
        for group in GROUPS:  # one group's partitions in flight at a time
            batch = list(_tasks(group, _parts(table, group, partitions), partitions))
            for task, (stats, frequency, common) in zip(batch, run(
                    _block_task, [(task, tasks + i, n, spill) for i, task in
                                  enumerate(batch)]), strict=True):  # fmt: skip
                for name, values in stats.items():
                    for k, v in values.items():
                        figures[name][k] += v
                if frequency is not None:
                    tf[frequency[0]][task.positions] = frequency[1]
                    named.extend(common)
            tasks += len(batch)
        del batch  # the last group's positions (8 bytes a person)
        pairs = distinct_pairs(spill, folder, tasks)
        figures["tanggal_tertukar"]["pairs"] = pairs.swapped_pairs
        source = "file"
        if model is None:
            source = "input" if n >= MIN_TRAIN else "packaged"
            common = common_names(np.array([c for _, c in named], dtype=np.int64),
                                  np.array([name for name, _ in named], dtype=object))  # fmt: skip
            if n >= MIN_TRAIN:
                steps = training_pairs(n, pairs.samples)
                model = train(n, _gathered_levels(table), pairs.compared, steps, common)
            else:
                model = default_model()
        compared = [pairs.compared]
        give_back_memory()  # the buckets' and training's: the scores' room
        scored = run(_score_task, _owned(folder, tasks, n, tf, model, threshold, apart,
                                         compared))  # fmt: skip
    figures = {name: figures[name] for name in FIGURES_ORDER}
    strings = sum(s[4] for s in scored)
    apart = {k: sum(s[6][k] for s in scored) for k in KEPT_APART}
    scored = [s for s in scored if len(s[0])]
    if not scored:
        empty = np.empty(0, np.int64)
        return K3Pairs(empty, empty, np.empty(0), {}, np.empty(0, object), model, figures,
                       compared[-1], source, strings, None, apart)  # fmt: skip
    code = np.concatenate([s[0] for s in scored])
    order = np.argsort(code, kind="stable")
    code = code[order]
    probability = np.concatenate([s[1] for s in scored])[order]
    reason = np.concatenate([s[3] for s in scored])[order]
    weights = {k: np.concatenate([s[2][k] for s in scored])[order] for k in scored[0][2]}
    sibling = np.concatenate([s[5] for s in scored])[order]
    return K3Pairs(code // n, code % n, probability, weights, reason, model, figures,
                   compared[-1], source, strings, sibling, apart)  # fmt: skip


def _block_task(people: pa.Table, task: _Task, index: int, n: int, spill: PairSpill) -> tuple:
    """One partition's blocking: its pairs spilled, its figures, and in the partitions by name
    (by mother's name) the frequency of each person's name and the common names."""
    f = fields_of(_blocked_on(people, task))
    _, _, stats, codes = block(f, GROUPS[task.group], task.owned)
    pos = task.positions
    for name, local in codes.items():
        spill.add(pos[local // f.n] * n + pos[local % f.n], name, index)
    frequency, common = None, []
    # all people of a name (of a mother's name) are here: its frequency
    for of, key, out in (("nama_akhir", "nama_norm", "nama"), ("ibu", "ibu", "nama_ibu")):
        if task.group == of:
            counts = np.bincount(f.codes[key] + 1, minlength=len(f.vocab[key]))
            frequency = (out, np.where(f.codes[key] >= 0, counts[f.codes[key] + 1] / n, np.nan))
            if out == "nama":
                common = common_names(counts[1:], f.vocab[key][:-1])
    return stats, frequency, common


def _owned(folder: Path, tasks: int, n: int, tf: dict[str, np.ndarray], model: Model,
           threshold: float, apart: np.ndarray | None, compared: list[int],
           ) -> Iterator[tuple]:  # fmt: skip
    """Per task with pairs to score: the pairs (only those of people of different `apart`
    numbers, when given; their count is appended to `compared` at the end), their people and
    those people's frequencies."""
    count = 0
    for t in range(tasks):
        path = folder / f"owned-{t}.bin"
        if path.exists():
            codes = np.sort(np.fromfile(path, np.int64))
            path.unlink()
            if apart is not None:
                codes = codes[apart[codes // n] != apart[codes % n]]
            count += len(codes)
            if len(codes):
                people = distinct(np.concatenate([codes // n, codes % n]))
                yield codes, people, {k: v[people] for k, v in tf.items()}, n, model, threshold
    if apart is not None:
        compared.append(count)


def _score_task(table: pa.Table, codes: np.ndarray, people: np.ndarray, tf: dict,
                n: int, model: Model, threshold: float) -> tuple:  # fmt: skip
    """Score one task's pairs, with only their people gathered."""
    f, a, b = _gathered(table, codes // n, codes % n, people)
    left, right, probability, weights, reason, strings, sibling, apart = score_pairs(
        model, f, a, b, tf, threshold, n)  # fmt: skip
    return (people[left] * n + people[right], probability, weights, reason, strings, sibling,
            apart)  # fmt: skip


def _gathered_levels(table: pa.Table):
    """`pair_levels` for pairs of people anywhere in `table`, gathering only their people (at
    most 800,000: the random pairs for u)."""

    def levels_of(a: np.ndarray, b: np.ndarray, twins_out: bool = True) -> dict:
        return pair_levels(*_gathered(table, a, b), twins_out)

    return levels_of


def _gathered(table: pa.Table, a: np.ndarray, b: np.ndarray, people: np.ndarray | None = None,
              ) -> tuple:  # fmt: skip
    """The `Fields` of the people of the pairs (a, b) (positions in `table`; `people`: those
    positions, distinct and sorted, when known), and the pairs as places in it."""
    people = distinct(np.concatenate([a, b])) if people is None else people
    read = [c for c in FIELD_COLUMNS if c in table.column_names]  # not the others
    f = fields_of(take_sorted(table.select(read), people))
    return f, places(a, people), places(b, people)
