"""The candidate pairs of K3 by partitions, waiting on disk: every pass's pairs (codes over
everyone) with who found them, in buckets by a hash of the pair. Each pair lies in one bucket,
so a bucket alone gives its distinct pairs, each pair's first finder and its share of the
training samples."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dp4kit.dedup.blocking import PASSES, distinct
from dp4kit.dedup.model import SAMPLES, mix, smallest, smallest_of_distinct

PAIR = np.dtype([("code", "<i8"), ("pass", "i1"), ("task", "<i4")])  # a spilled pair
PASS_INDEX = {name: i for i, name in enumerate(PASSES)}


class PairSpill:
    """Every pass's pairs (codes over everyone), who found them, spilled to disk in buckets
    by hash of the pair: each pair lies in one bucket, so a bucket alone gives its distinct
    pairs and each pair's first finder. Each process appends to files of its own."""

    def __init__(self, folder: Path, buckets: int) -> None:
        self.folder, self.count = folder, buckets

    def add(self, codes: np.ndarray, pass_name: str, task: int) -> None:
        records = np.empty(len(codes), PAIR)
        records["code"], records["pass"], records["task"] = codes, PASS_INDEX[pass_name], task
        bucket = (mix(codes) % np.uint64(self.count)).astype(np.int64)
        order = np.argsort(bucket, kind="stable")
        ends = np.cumsum(np.bincount(bucket, minlength=self.count))
        for b, part in enumerate(np.split(records[order], ends[:-1])):
            if len(part):
                with (self.folder / f"pairs-{b}-{os.getpid()}.bin").open("ab") as out:
                    part.tofile(out)

    def buckets(self) -> Iterator[np.ndarray]:
        for b in range(self.count):
            paths = sorted(self.folder.glob(f"pairs-{b}-*.bin"))
            yield np.concatenate([np.empty(0, PAIR), *(np.fromfile(p, PAIR) for p in paths)])
            for path in paths:
                path.unlink()


@dataclass
class Distinct:
    """What the spilled pairs give, bucket by bucket: the distinct pairs counted, the
    training samples, and each pair's first finder (a file of codes per task)."""

    compared: int
    swapped_pairs: int  # distinct pairs of the date swap pass (two keys can find one pair)
    samples: dict[str, np.ndarray]


def distinct_pairs(spill: PairSpill, folder: Path, tasks: int) -> Distinct:
    owned = [folder / f"owned-{t}.bin" for t in range(tasks)]
    compared = swapped = 0
    drawn: dict[str, list[np.ndarray]] = {name: [] for name in SAMPLES}
    wanted = {name: np.isin(np.arange(len(PASSES)), [PASS_INDEX[p] for p in passes or PASSES])
              for name, passes in SAMPLES.items()}  # fmt: skip
    for records in spill.buckets():
        code, task = by_pair_then_finder(records["code"], records["task"], tasks)
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
    return Distinct(compared, swapped, samples)


def by_pair_then_finder(code: np.ndarray, task: np.ndarray, tasks: int,
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
