"""`export --memory-limit`: one export of any size in bounded memory, with exactly the files
the in-memory export writes (tested byte for byte).

1. **Split** the inputs into one Parquet part per kab/kota in the work folder (`regions/split.py`,
   streamed; each row keeps its source file and row).
2. **First pass**, a part at a time (`first_pass.read_part`: as many at once as there are
   cores and the memory budget holds, `parts_at_once`; or a Spark task each with
   `--engine spark`): read and check it, and keep what the decisions over the
   whole input need: every well-formed NIK with a few numbers (on disk, by a hash of the NIK)
   and each valid row's compared people (an Arrow file per part).
3. **Decisions** over the whole input: the NIKs that repeat (NIK_GANDA; D, K1 and K2 on those
   rows only, `exact_duplicates` as export runs it), then K3 over every part's people merged
   into input order and memory-mapped: at once if they fit the budget, else by partitions
   (`link_partitioned`), as many at once in worker processes as cores and budget hold.
4. **Second pass**, a part at a time (the next parts' tables built while one is written, as
   many as the first pass ran at once: `ahead`): the part's rows and report as the first
   pass kept them (a zstd-framed pickle in the work folder: not read and checked twice), its
   rows' share of the decisions, build its tables (`finish_dp4`), write its dp4/ and excel/
   files, append to dp4.csv and excluded.parquet, aggregate it.
5. The audit files, aggregates, DAK2 and manifest of the whole.

Memory: one part (the largest kab/kota) in memory at a time (in either pass, as many as
the budget holds, one per core), plus what the findings need
(rows with a repeated NIK, K3's pairs, the rejected and duplicate rows) and K3's per-person
arrays (docs/scale.md).
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import pyarrow as pa

from dp4kit import columns as C
from dp4kit.aggregate import (
    aggregate,
    households_by_province,
    merge_aggregates,
)
from dp4kit.config import Settings
from dp4kit.dp4 import Dp4Tables, finish_dp4
from dp4kit.errors import UsageError
from dp4kit.export.first_pass import (
    NIK_BYTES,
    PartTask,
    decide,
    kept,
    kept_path,
    nik_spill,
    read_part,
    share,
    with_repeated,
)
from dp4kit.io.given_files import revoked_niks
from dp4kit.outputs.export_files import ExportWriter
from dp4kit.regions.spill import memory_budget, partition_count
from dp4kit.report import ExportResult, ValidationReport, merge_reports
from dp4kit.stages import StageTimer, give_back_memory


@dataclass
class _Totals:
    """What the second pass adds up over the parts for the whole's aggregates and report."""

    aggregates: list = field(default_factory=list)
    households: list = field(default_factory=list)
    reports: list = field(default_factory=list)
    empty: pd.DataFrame | None = None  # a population without rows (when no part has one)


def export_partitioned(paths: Sequence[Path], out_dir: Path, settings: Settings,
                       on_stage: Callable[[str], None] | None = None):  # fmt: skip
    """`export` in bounded memory (`settings.memory_limit`): the same files, part by part."""
    from dp4kit.aggregate import semester_of
    from dp4kit.outputs.files import written_folder
    from dp4kit.outputs.manifest import MANIFEST_NAME
    from dp4kit.regions.split import split

    if settings.keluarga is not None:
        raise UsageError("--memory-limit: a separate family file (--keluarga) cannot be "
                         "exported in partitions; join it to the person file first")  # fmt: skip
    _refuse_parts(paths)
    budget = memory_budget(settings.memory_limit)
    revoked = revoked_niks(settings.exclude_nik)
    stage = StageTimer(on_stage)
    out_dir = Path(out_dir)
    with written_folder(out_dir, "export", MANIFEST_NAME, settings.group_readable) as tmp:
        work = tmp / ".work"
        with _engine(settings, work) as (calls, remote):  # Spark first: before the split
            parts = split(paths, work / "parts", settings.profile, settings.sheet)
            stage("read")
            sources = parts.sources
            files = pa.array([s.path for s in sources], pa.string())
            inputs = sorted(work.joinpath("parts").glob("*.parquet"))
            rows = sum(s.rows for s in sources)
            nik_partitions = partition_count(rows, NIK_BYTES, budget)
            tasks = [PartTask(i, part, work, settings, files, nik_partitions)
                     for i, part in enumerate(inputs)]  # fmt: skip
            at_once = parts_at_once(inputs, budget, settings.jobs)
            if calls is not None:
                calls(read_part, [(task,) for task in tasks])
            else:
                with ThreadPoolExecutor(at_once) as pool:
                    list(pool.map(read_part, tasks))
            give_back_memory()  # what the parts took, for the decisions
            stage("validate")
            spills = [nik_spill(work, i, nik_partitions) for i in range(len(tasks))]
            reads = [kept_path(work, i) for i in range(len(tasks))]
            people = sorted(work.glob("people-*.arrow"))
            found = decide(spills, people, reads, work, settings, budget, stage, remote)
        give_back_memory()  # K3's, for the second pass
        semester = settings.semester or semester_of(settings.election_date)

        def second(path: Path) -> tuple[Dp4Tables, ValidationReport]:
            data, report = kept(path)
            path.unlink()
            report = with_repeated(report, data, found.repeated)
            tables = finish_dp4(data, report, share(data, report, files, found), revoked,
                                StageTimer())  # fmt: skip
            return tables, report

        totals = _Totals()
        writer = ExportWriter(tmp, settings)
        for tables, report in ahead(second, reads, at_once):  # written in order
            writer.add(tables)
            _add(totals, tables, report, semester)
            del tables, report  # not held while the next part is waited for
        stage("tables")
        shutil.rmtree(work)
        aggregates = merge_aggregates(totals.aggregates, totals.households, semester, totals.empty)
        stage("aggregate")
        report = merge_reports(totals.reports, sources)
        manifest = writer.finish(sources, report, found.summary, aggregates, stage)
    return ExportResult(out_dir, None, report, manifest, {**stage.seconds, "total": stage.total()})


@contextmanager
def _engine(settings: Settings, work: Path) -> Iterator[tuple]:
    """Where the first pass's parts and K3's partitions run: as Spark tasks on
    `settings.spark_master` (its scratch files in the work folder: the calls and K3's
    remote), or here (None, None)."""
    if settings.spark_master is None:
        yield None, None
        return
    from dp4kit.regions.spark import k3_remote, spark_calls

    (work / "spark").mkdir(mode=0o700, parents=True, exist_ok=True)
    with spark_calls(settings.spark_master, work / "spark", "dp4kit export") as calls:
        yield calls, k3_remote(calls)


def _refuse_parts(paths: Sequence[Path]) -> None:
    """A Parquet input whose rows carry their own source file and row (a part of `dp4kit
    split`) has no place in one input order for them: refused, one line."""
    import pyarrow.dataset as ds

    for path in map(Path, paths):
        if not (path.is_dir() or path.suffix.lower() == ".parquet"):
            continue
        try:
            names = ds.dataset(path, format="parquet").schema.names
        except (OSError, pa.ArrowException):
            continue  # the reader says what is wrong with it
        if C.SOURCE_FILE in names and C.SOURCE_ROW in names:
            raise UsageError(f"--memory-limit: {path} is a part of dp4kit split (its rows carry "
                             "their source file and row): export it without --memory-limit, "
                             "or the original files with it")  # fmt: skip


PART_BYTES_PER_ROW = 2_400  # a part's peak in the first pass, per row (2.3 GB at 1M rows)


def parts_at_once(parts: list[Path], budget: int, cores: int | None = None) -> int:
    """How many parts the first pass reads and checks at once: one per core (or `cores`), as
    many of the largest part as the memory budget holds, at least one."""
    import pyarrow.parquet as pq

    largest = max([pq.ParquetFile(p).metadata.num_rows for p in parts], default=0)
    fit = budget // max(largest * PART_BYTES_PER_ROW, 1)
    return int(max(1, min(cores or os.cpu_count() or 1, fit, len(parts))))


def ahead(function: Callable, items: Sequence, at_once: int) -> Iterator:
    """`function` over `items`, results in order, the next `at_once - 1` worked on (in
    threads) while a result is used: a part's tables are built while the one before is
    written."""
    if at_once < 2:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(at_once - 1) as pool:
        waiting = deque(pool.submit(function, item) for item in items[: at_once - 1])
        for item in items[at_once - 1 :]:
            waiting.append(pool.submit(function, item))
            yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()


def _add(totals: _Totals, tables: Dp4Tables, report: ValidationReport, semester: str) -> None:
    """A part's report (without its failures) and aggregates, kept for the whole."""
    totals.reports.append(replace(report, failures=report.failures.slice(0, 0), error_mask=None))
    if totals.empty is None:
        totals.empty = tables.population.iloc[:0]
    if len(tables.population):
        totals.aggregates.append(aggregate(tables.population, semester))
        totals.households.append(households_by_province(tables.population))
