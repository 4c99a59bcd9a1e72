"""Work split by a hash so that each piece fits a memory budget: the budget (`--memory-limit`),
how many partitions it takes, and a spill area that keeps each partition's arrays on disk
until that partition is worked on. One partition means no disk at all: the arrays stay in
memory, and the result is the same whatever the number of partitions."""

from __future__ import annotations

import math
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dp4kit.errors import UsageError

UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# What does not shrink with partitions: the interpreter, Arrow's buffers, one Parquet part or
# row group, the findings (combine on 8 runs of 1M rows: 0.86 GB with 3 partitions)
BASELINE = 1 << 30
MEMORY_SHARE = 0.5  # the default budget: this share of the machine's memory


def parse_size(text: str) -> int:
    """'8G', '8GB', '512M', '1.5GiB' → bytes (binary units)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", str(text).upper())
    if not found:
        raise UsageError(f"--memory-limit: expected a size like 8G or 512M, got {text!r}")
    size = int(float(found[1]) * UNITS[found[2]])
    if size <= BASELINE:
        raise UsageError(f"--memory-limit: {text} is too small; dp4kit needs more than "
                         f"{BASELINE >> 30}G")  # fmt: skip
    return size


def machine_memory() -> int:
    """Physical memory in bytes (8 GiB when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def memory_budget(limit: str | int | None) -> int:
    """The budget in bytes: the given size, or a share of the machine's memory."""
    if limit is None:
        return int(machine_memory() * MEMORY_SHARE)
    return limit if isinstance(limit, int) else parse_size(limit)


def partition_count(rows: int, bytes_per_row: int, budget: int) -> int:
    """How many partitions keep one partition's work (`bytes_per_row` each) in the budget."""
    return max(1, math.ceil(rows * bytes_per_row / max(budget - BASELINE, 1)))


def partition_of(values: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each 64-bit value (a multiplicative hash: NIKs spread evenly)."""
    if partitions == 1:
        return np.zeros(len(values), np.int64)
    mixed = values.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return ((mixed >> np.uint64(32)) % np.uint64(partitions)).astype(np.int64)


class Spill:
    """Arrays of named columns, added in pieces and read back one partition at a time
    (kept in memory when there is one partition, else appended to files under `folder`;
    `on_disk`: in files whatever the partitions, for another process to read)."""

    def __init__(self, partitions: int, folder: Path | None, dtypes: dict[str, np.dtype],
                 on_disk: bool = False) -> None:  # fmt: skip
        self.partitions, self.folder, self.dtypes = partitions, folder, dtypes
        self.pieces: dict[str, list[np.ndarray]] = {c: [] for c in dtypes}
        self.lock = threading.Lock()  # a piece's columns added together, whoever adds
        self.in_memory = folder is None or (partitions == 1 and not on_disk)
        if not self.in_memory:
            folder.mkdir(parents=True, exist_ok=True)

    def add(self, partition: np.ndarray, **columns: np.ndarray) -> None:
        """Rows of named columns (their partition each); safe from several threads."""
        with self.lock:
            self._add(partition, columns)

    def _add(self, partition: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        if self.in_memory:
            for c, values in columns.items():
                self.pieces[c].append(values.astype(self.dtypes[c], copy=False))
            return
        order = np.argsort(partition, kind="stable")
        bounds = np.searchsorted(partition[order], np.arange(self.partitions + 1))
        for c, values in columns.items():
            ordered = values[order].astype(self.dtypes[c], copy=False)
            for p in np.flatnonzero(np.diff(bounds)):
                with open(self._file(p, c), "ab") as f:
                    ordered[bounds[p] : bounds[p + 1]].tofile(f)

    def read(self, p: int) -> dict[str, np.ndarray]:
        """One partition's columns, in the order they were added."""
        if self.in_memory:
            return {c: np.concatenate(v) if v else np.zeros(0, self.dtypes[c])
                    for c, v in self.pieces.items()}  # fmt: skip
        return {c: np.fromfile(f, self.dtypes[c]) if (f := self._file(p, c)).exists()
                else np.zeros(0, self.dtypes[c]) for c in self.dtypes}  # fmt: skip

    def _file(self, p: int, column: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{p:05d}.{column}"


@contextmanager
def spill_folder(needed: bool, parent: Path) -> Iterator[Path | None]:
    """A folder for the partitions (or Spark's local files) inside `parent` (an output's work
    folder, so a killed run's spill goes with it), removed afterwards; None if not `needed`."""
    if not needed:
        yield None
        return
    folder = Path(parent) / ".partitions"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def merge_sorted(paths: list[Path], key: str, out: Path, drop: np.ndarray,
                 batch: int = 500_000, extend: Callable | None = None,
                 ) -> None:  # fmt: skip
    """Arrow IPC files, each sorted by the int64 column `key`, merged into one file sorted by
    it, without the rows whose key is in `drop` (sorted): a batch of each file at a time
    (`extend`: a function adding columns to each merged table before it is written)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    readers = [pa.ipc.open_file(pa.memory_map(str(p))) for p in paths]
    schema = readers[0].schema
    next_batch = [0] * len(readers)
    pending: list[pa.Table | None] = [None] * len(readers)

    def refill(i: int) -> None:
        empty = pending[i] is None or pending[i].num_rows == 0
        while empty and next_batch[i] < readers[i].num_record_batches:
            pending[i] = pa.Table.from_batches([readers[i].get_batch(next_batch[i])], schema)
            next_batch[i] += 1
            empty = pending[i].num_rows == 0

    extend = extend or (lambda table: table)
    written = extend(schema.empty_table()).schema
    with pa.OSFile(str(out), "wb") as sink, pa.ipc.new_file(sink, written) as writer:
        while True:
            for i in range(len(readers)):
                refill(i)
            live = [t for t in pending if t is not None and t.num_rows]
            if not live:
                break
            # everything up to the smallest last key of a waiting batch is final
            bound = min(t[key][-1].as_py() for t in live)
            ready = []
            for i, t in enumerate(pending):
                if t is None or not t.num_rows:
                    continue
                n = int(np.searchsorted(t[key].to_numpy(), bound, side="right"))
                ready.append(t.slice(0, n))
                pending[i] = t.slice(n)
            merged = pa.concat_tables(ready)
            merged = merged.take(pc.sort_indices(merged[key]))
            keys = merged[key].to_numpy()
            if len(drop):
                at = np.minimum(np.searchsorted(drop, keys), len(drop) - 1)
                merged = merged.filter(pa.array(drop[at] != keys))
            for part in extend(merged).to_batches(max_chunksize=batch):
                writer.write_batch(part)
