"""K3 across regencies by K3's model (combine's default): one person under two NIKs on two
regencies' lists, the same or with a typo, another spelling or a swapped birth date.

Every run's voters (its k3_people/ files: K3's columns with the mother's name) are written
once to an Arrow file of compared people in the work folder and memory-mapped;
`link_partitioned` blocks and trains by EM on every pair, as export does (the packaged model
below K3's training size), and scores only pairs of people of different runs, a partition at
a time, with export's rules: twins, siblings and namesakes (another mother) are kept apart.
Rows already found by NIK are left out; the pairs at or above K3's review probability are
grouped and listed for review.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dp4kit.dedup import K3_REVIEW
from dp4kit.dedup.blocking import member
from dp4kit.dedup.clusters import k3_groups
from dp4kit.dedup.k3 import FoundK3
from dp4kit.dedup.k3_partitions import MAX_PARTITIONS, link_partitioned
from dp4kit.dedup.linkage import K3Pairs, link, no_pairs
from dp4kit.errors import WRITE_ERRORS, OutputError, write_failure
from dp4kit.regions.cross_regency import PART_SHIFT, RUN_SHIFT, joined_labels, rows_at

VOTERS_PER_PARTITION = 1_000_000  # K3 by partitions stays under about 0.7 GB at this size
BYTES_AT_ONCE = 1200  # K3 at once, per voter (measured: 5.4 GB for 5.5M voters, docs/scale.md)
BATCH = 500_000  # voters normalised at once while the people file is written
# what K3 across runs holds (measured: docs/scale.md): here, 1.2 GB and arrays per voter;
# each worker, one partition's work (2 GB: 4.3 GB for two at 5.5M voters in 6 partitions)
FIXED_BYTES, BYTES_PER_VOTER, BYTES_PER_JOB = 1200 << 20, 45, 2 << 30


@dataclass
class Across:
    """How K3's model runs across runs: its work folder (the people file and K3's pairs; made
    and removed), how many partitions at a time (worker processes when more than one), the
    most voters it links at once (`k3_at_once`), and `tasks`: opens a runner of the partition
    tasks elsewhere (Spark's `spark.spark_tasks`), None: here."""

    work: Path
    jobs: int = 1
    at_once: int = VOTERS_PER_PARTITION
    tasks: Callable[[], AbstractContextManager] | None = None


def k3_jobs(budget: int, voters: int) -> int:
    """Partitions at a time within the memory budget (bytes): one per core, each worker about
    2 GB beside what this process holds (1.2 GB and a few arrays per voter)."""
    free = budget - FIXED_BYTES - voters * BYTES_PER_VOTER
    return int(max(1, min(os.cpu_count() or 1, free // BYTES_PER_JOB)))


def k3_at_once(budget: int) -> int:
    """The most voters K3 across runs links at once within the memory budget (bytes), beside
    what this process holds; more go by partitions (slower, in about 0.7 GB each)."""
    return int(max(0, budget - FIXED_BYTES) // (BYTES_PER_VOTER + BYTES_AT_ONCE))


def fuzzy_across(runs: list, skip: np.ndarray, across: Across,
                 review: float = K3_REVIEW) -> tuple[pd.DataFrame, dict]:  # fmt: skip
    """The voters of different runs that K3 finds alike (probability ≥ `review`), as picked
    rows (run, part, row, group: a number per group from 1, score, reason), and a summary
    for the manifest. `skip`: the addresses (`cross_regency`'s) of rows already found by NIK,
    sorted."""
    work = across.work
    path = work / "people.arrow"
    with _writing(path):
        work.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        at = _people_file(runs, skip, path)
        parts = (
            1 if len(at) <= across.at_once else max(2, math.ceil(len(at) / VOTERS_PER_PARTITION))
        )
        partitions = min(MAX_PARTITIONS, parts)
        if len(at) < 2:
            pairs = no_pairs(None)
        else:
            people = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
            jobs = min(partitions, across.jobs)  # one partition: here, no worker to start
            run = (at >> RUN_SHIFT).astype(np.int32)
            if partitions == 1:  # the same result at once, without the partitions' overhead
                pairs = link(people, None, review, apart=run)
            else:
                with across.tasks() if across.tasks else nullcontext() as remote:
                    pairs = link_partitioned(
                        people,
                        partitions,
                        None,
                        review,
                        work / "k3",
                        jobs,
                        apart=run,
                        mapped=path,
                        remote=remote,
                    )
            del people
    finally:
        path.unlink(missing_ok=True)
    everyone = all(None not in r.people for r in runs)  # runs before person files: without
    some = "" if everyone else " where a run has person files (k3_people/)"
    summary = {
        "compared": f"K3's model, between voters of different runs, with the mother's name{some}",
        "review_probability": review,
        "model_source": pairs.model_source,
        "compared_pairs": int(pairs.compared),
        "pairs_found": len(pairs.left),
        "kept_apart": pairs.kept_apart,
        "partitions": partitions,
    }
    return _grouped(pairs, at), summary


def _people_file(runs: list, skip: np.ndarray, path: Path) -> np.ndarray:
    """Every run's voters (less `skip`) as compared people in the Arrow file `path`, in scan
    order; their addresses. Read from each part's person file, or from the part itself (no
    mother's name) in a run written before person files."""
    from dp4kit.dp4 import PERSON_COLUMNS, person_table

    # parts together up to BATCH voters: a name is normalised once per batch, not per part
    jobs, batch, size = [], [], 0
    for r, run in enumerate(runs):
        rows = {o.path: o.rows for o in run.manifest.outputs}
        for p, rel in enumerate(run.parts):
            if batch and size + rows[rel] > BATCH:
                jobs.append(batch)
                batch, size = [], 0
            batch.append((r, p, run.folder / (run.people[p] or rel)))
            size += rows[rel]
    jobs += [batch] if batch else []

    def people_of(parts: list[tuple[int, int, Path]]) -> tuple[pa.Table, np.ndarray]:
        tables = [_compared(part, PERSON_COLUMNS) for _, _, part in parts]
        at = np.concatenate([(r << RUN_SHIFT) + (p << PART_SHIFT)
                             + np.arange(t.num_rows, dtype=np.int64)
                             for (r, p, _), t in zip(parts, tables, strict=True)])  # fmt: skip
        rows = np.flatnonzero(~member(at, skip))
        table = pa.concat_tables(tables, promote_options="permissive").take(pa.array(rows))
        people = person_table(table.to_pandas(types_mapper=pd.ArrowDtype), np.arange(len(rows)))
        return people, at[rows]

    addresses, writer = [np.empty(0, np.int64)], None
    window = os.cpu_count() or 1
    try:
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            for start in range(0, len(jobs), window):
                for people, at in pool.map(people_of, jobs[start : start + window]):
                    with _writing(path):
                        if writer is None:
                            schema = people.schema
                            writer = pa.ipc.new_file(pa.OSFile(str(path), "wb"), schema)
                        writer.write_table(people.cast(schema))
                    addresses.append(at)
    finally:
        if writer is not None:
            with _writing(path):
                writer.close()
    return np.concatenate(addresses)


def _compared(path: Path, columns: tuple[str, ...]) -> pa.Table:
    """The columns of `columns` the file has (a DP4 part has no mother's name)."""
    names = pq.read_schema(path).names
    return pq.read_table(path, columns=[c for c in columns if c in names])


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A failed write of the people file (a full disk) as one line, not a traceback."""
    try:
        yield
    except WRITE_ERRORS as exc:
        raise OutputError(f"{path}: cannot write K3's people file: {write_failure(exc)}") from exc


def _grouped(pairs: K3Pairs, at: np.ndarray) -> pd.DataFrame:
    """The pairs grouped as export groups K3 (chains flagged), one row per voter: its
    address, group number (from 1, in order of the group's first row), best score, reason."""
    left, right = pairs.left, pairs.right
    involved = np.unique(np.concatenate([left, right]))
    found = FoundK3(np.searchsorted(involved, left), np.searchsorted(involved, right),
                    pairs.probability, pairs.reason, pairs.weights,
                    np.zeros(len(left), bool), None)  # fmt: skip
    groups = k3_groups(found, np.arange(len(involved)), len(involved), None)
    number = pd.Series(groups.group, dtype="string[pyarrow]").str.slice(3).astype("int64")
    where = at[involved]
    return pd.DataFrame({
        "run": (where >> RUN_SHIFT).astype(np.int64),
        "part": ((where >> PART_SHIFT) & 0xFFFF).astype(np.int64),
        "row": (where & 0xFFFFFFFF).astype(np.int64),
        "group": number.to_numpy(), "score": groups.score, "k3_reason": groups.reason,
    })  # fmt: skip


def across_runs(runs: list, found: pd.DataFrame, by_nik: np.ndarray,
                across: Across) -> tuple[pd.DataFrame, dict]:  # fmt: skip
    """`cross_regency`'s findings (by NIK) with K3's model's across runs after them (the rows
    found by NIK, `by_nik`, left out), and the summary for the manifest."""
    pa.default_memory_pool().release_unused()  # what the exact steps' Arrow buffers kept
    picked, summary = fuzzy_across(runs, by_nik, across)
    if picked.empty:
        return found, summary
    fuzzy_rows = fuzzy_findings(rows_at(runs, picked), found["group_id"].nunique() + 1)
    return pd.concat([found, fuzzy_rows[list(found.columns)]], ignore_index=True), summary


def fuzzy_findings(rows: pd.DataFrame, first: int) -> pd.DataFrame:
    """The rows of `fuzzy_across` read in full (`cross_regency.rows_at`) as findings: K3 for
    review, group ids from LINTAS-K3-{first}, in group and scan order."""
    rows = rows.sort_values(["group", "run", "part", "row"], kind="stable").reset_index(drop=True)
    group = rows["group"].to_numpy()
    serial = np.char.zfill((group + first - 1).astype(str), 6)
    rows["kind"] = "K3"
    rows["action"] = "review"
    rows["group_id"] = np.char.add("LINTAS-K3-", serial)
    label = (rows["kode_kabkota"].astype(str) + " " + rows["kabkota"].astype(str)).to_numpy()
    rows["kabkota_lain"] = joined_labels(group, label, others=True)
    regencies = joined_labels(group, label, others=False)
    rows["reason"] = ("mirip di " + regencies + " (" + rows["k3_reason"].astype(str).to_numpy()
                      + "); NIK berbeda, perlu ditinjau")  # fmt: skip
    return rows


__all__ = ["Across", "across_runs", "fuzzy_across", "fuzzy_findings", "k3_at_once", "k3_jobs"]
