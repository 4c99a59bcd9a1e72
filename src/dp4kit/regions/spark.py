"""The Spark engine of `combine` (`--engine spark`, extra `dp4kit[spark]`): the local engine's
scan and partition functions (`cross_regency.py`) run as Spark tasks, with Spark doing the
shuffles, by NIK and then by person; and K3's partition tasks across runs
(`dedup/k3_partitions.py`: blocking passes by key hash, scoring) one Spark task each. Only
the rows and pairs found come back to the driver, so the result is the local engine's, file
for file. The run folders and the output's work folder must be readable at the same path by
every executor (a shared file system). `export --memory-limit --engine spark` runs its
calls (`spark_calls`: the first pass's parts, K3's partition tasks) here too."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa

from dp4kit.dedup.k3_runner import Remote, on_mapped
from dp4kit.errors import EngineError, UsageError
from dp4kit.regions.cross_regency import SCANNED, same_nik_rows, same_person_rows, scan_part

SCAN_SCHEMA = "nik long, key long, at long"  # Spark has no unsigned type: key as its bits
FOUND_SCHEMA = "at long, key long, match byte"


def spark_session(master: str, partitions: int, local_dir: Path | None = None,
                  app: str = "dp4kit combine"):  # fmt: skip
    """A Spark session on `master` (local[*], spark://…, yarn, k8s://…); the settings of
    spark-defaults.conf or spark-submit apply, these are only defaults. `local_dir`: Spark's
    scratch files (the scan, the shuffles: NIKs) there, so a killed run's go with its work
    folder (local masters; a cluster manager sets its executors' own)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("--engine spark needs pyspark: pip install 'dp4kit[spark]'") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    if local_dir is not None:
        builder = builder.config("spark.local.dir", str(local_dir))
    return (
        builder.appName(app)
        .master(master)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000000")
        .getOrCreate()
    )


@contextlib.contextmanager
def spark_failures(master: str):
    """A Spark or py4j error inside as one line, naming its type only (its logs say more; a
    task's error may quote the data)."""
    try:
        yield
    except Exception as exc:
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        raise EngineError(f"Spark ({master}) failed: {type(exc).__name__}; "
                          "see the Spark driver and executor logs") from None  # fmt: skip


@dataclass(frozen=True)
class SparkEngine:
    """combine on Spark (`cross_regency.Engine`): the scan and its partitions, and K3's
    partition tasks, as Spark tasks on `master`."""

    master: str

    def found(self, jobs: list, partitions: int, spill: Path | None,
              persons: bool) -> tuple[list, list]:  # fmt: skip
        return found_on_spark(jobs, partitions, self.master, spill, persons)

    def k3_tasks(self, folder: Path) -> Callable[[], contextlib.AbstractContextManager]:
        return partial(spark_tasks, self.master, folder)


def found_on_spark(jobs: list, partitions: int, master: str, local_dir: Path | None = None,
                   persons: bool = True) -> tuple[list, list]:  # fmt: skip
    """The rows on two lists by NIK and by person (`persons`; else by NIK only), as the local
    engine finds them. A Spark failure is one line."""
    with spark_failures(master):
        return _found_on_spark(jobs, partitions, master, local_dir, persons)


def _found_on_spark(jobs: list, partitions: int, master: str, local_dir: Path | None,
                    persons: bool) -> tuple[list, list]:  # fmt: skip
    spark = spark_session(master, partitions, local_dir)  # says so when pyspark is missing
    from pyspark import StorageLevel

    spark.sparkContext.setLogLevel("ERROR")
    tasks = [(r, p, str(path)) for r, p, path in jobs]
    scanned = (
        spark.createDataFrame(tasks, "r int, p int, path string")
        .repartition(max(1, min(len(tasks), spark.sparkContext.defaultParallelism * 4)))
        .mapInArrow(partial(_scan_task, persons=persons), SCAN_SCHEMA)
        .persist(StorageLevel.DISK_ONLY)  # scanned once, shuffled twice
    )
    try:
        same_nik = _found(scanned.repartition(partitions, "nik").mapInArrow(
            _same_nik_task, FOUND_SCHEMA).toArrow())  # fmt: skip
        if not persons:
            return same_nik, []
        at, _, match = same_nik[0]
        nik_at = spark.sparkContext.broadcast(np.sort(at[match == 0]))

        def same_person_task(batches):
            return _same_person_task(batches, nik_at.value)

        same_person = _found(scanned.repartition(partitions, "key").mapInArrow(
            same_person_task, FOUND_SCHEMA).toArrow())  # fmt: skip
    finally:
        scanned.unpersist()
        spark.stop()  # its scratch files live in the work folder, removed after this
    return same_nik, same_person


Calls = Callable[[Callable, list[tuple]], list]  # a function over arguments, results in order


@contextlib.contextmanager
def spark_calls(master: str, local_dir: Path | None = None,
                app: str = "dp4kit") -> Iterator[Calls]:  # fmt: skip
    """`function(*arguments)` as Spark tasks, one each, results in order, on a session open
    for the block; a Spark failure is one line."""
    with spark_failures(master):
        spark = spark_session(master, 1, local_dir, app=app)
        spark.sparkContext.setLogLevel("ERROR")

        def run(function: Callable, arguments: list[tuple]) -> list:
            jobs = [(function, args) for args in arguments]
            if not jobs:
                return []
            return spark.sparkContext.parallelize(jobs, len(jobs)).map(_call).collect()

        try:
            yield run
        finally:
            spark.stop()


def k3_remote(calls: Calls) -> Remote:
    """K3's partition tasks (`link_partitioned(remote=…)`) as `calls`, each on the people
    memory-mapped from the work folder's file."""

    def run(function: Callable, path: Path, arguments: list[tuple]) -> list:
        return calls(on_mapped, [(function, Path(path), *args) for args in arguments])

    return run


@contextlib.contextmanager
def spark_tasks(master: str, local_dir: Path | None = None) -> Iterator[Remote]:
    """K3's partition tasks as Spark tasks, one each, on a session open for the block."""
    with spark_calls(master, local_dir, "dp4kit combine: K3") as calls:
        yield k3_remote(calls)


def _call(job: tuple):
    """Spark task: one call."""
    function, args = job
    return function(*args)


def _found(table: pa.Table) -> list[tuple[np.ndarray, ...]]:
    at = table["at"].to_numpy().astype(np.int64)
    key = table["key"].to_numpy().astype(np.int64).view(np.uint64)
    return [(at, key, table["match"].to_numpy().astype(np.int8))]


def _scan_task(batches, persons: bool = True):
    """Spark task: scan the parts named in the batches."""
    for batch in batches:
        for r, p, path in zip(*(batch.column(i).to_pylist() for i in range(3)), strict=True):
            nik, key, at = scan_part((r, p, Path(path)), persons)
            yield pa.record_batch([nik, key.view(np.int64), at], names=["nik", "key", "at"])


def _partition(batches) -> dict[str, np.ndarray] | None:
    """One Spark partition as the local engine's arrays (None when empty)."""
    table = pa.Table.from_batches(list(batches))
    if not table.num_rows:
        return None
    out = {c: table[c].to_numpy().astype(np.int64) for c in SCANNED}
    out["key"] = out["key"].view(np.uint64)
    return out


def _yield_found(found: tuple[np.ndarray, ...]):
    at, key, match = found
    if len(at):
        columns = [pa.array(at, pa.int64()), pa.array(key.view(np.int64)), pa.array(match)]
        yield pa.record_batch(columns, names=["at", "key", "match"])


def _same_nik_task(batches):
    """Spark task: one partition by NIK, as `same_nik_rows`."""
    part = _partition(batches)
    if part is not None:
        yield from _yield_found(same_nik_rows(part))


def _same_person_task(batches, nik_at: np.ndarray):
    """Spark task: one partition by person key, as `same_person_rows`."""
    part = _partition(batches)
    if part is not None:
        yield from _yield_found(same_person_rows(part, nik_at))
