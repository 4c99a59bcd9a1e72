"""`export --memory-limit`: one export of any size in bounded memory, with exactly the files
the in-memory export writes (tested byte for byte).

1. **Split** the inputs into one Parquet part per kab/kota in the work folder (`regions/split.py`,
   streamed; each row keeps its source file and row).
2. **First pass**, a part at a time: read and check it, and keep what the decisions over the
   whole input need: every well-formed NIK with a few numbers (on disk, by a hash of the NIK)
   and each valid row's compared people (an Arrow file per part).
3. **Decisions** over the whole input: the NIKs that repeat (NIK_GANDA; D, K1 and K2 on those
   rows only, `exact_duplicates` as export runs it), then K3 by partitions over every part's
   people merged into input order and memory-mapped (`link_partitioned`).
4. **Second pass**, a part at a time: read and check it again, take its rows' share of the
   decisions, build its tables (`finish_dp4`), write its dp4/ and excel/ files, append to
   dp4.csv and excluded.parquet, aggregate it.
5. The audit files, aggregates, DAK2 and manifest of the whole.

Memory: one part (the largest kab/kota) in memory at a time, plus what the findings need
(rows with a repeated NIK, K3's pairs, the rejected and duplicate rows) and K3's per-person
arrays (docs/scale.md).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import pyarrow as pa

from dp4kit import columns as C
from dp4kit.aggregate import (
    Aggregates,
    aggregate,
    check_voters,
    households_by_province,
    merge_aggregates,
)
from dp4kit.config import Settings
from dp4kit.dedup.k3 import K3Summary
from dp4kit.dp4 import Dp4Tables, finish_dp4
from dp4kit.errors import AccountingError, UsageError
from dp4kit.export.first_pass import NIK_BYTES, SPILL, decide, first_pass, share, with_repeated
from dp4kit.io.given_files import revoked_niks
from dp4kit.io.profiles import read_canonical
from dp4kit.outputs import write_dak2
from dp4kit.outputs.excel import write_audit_workbooks, write_kecamatan_workbooks
from dp4kit.outputs.manifest import ExportCounts, OutputFile, duplicate_counts, manifest_of
from dp4kit.outputs.parquet import arrow, write_aggregates, write_audit, write_dp4_parts
from dp4kit.outputs.privacy import mask_frame, masked_tables
from dp4kit.outputs.stream import CsvAppender, ParquetAppender
from dp4kit.regions.spill import Spill, memory_budget, partition_count
from dp4kit.report import ExportResult, ValidationReport, merge_reports
from dp4kit.stages import StageTimer
from dp4kit.validation import validate_canonical


@dataclass
class _Totals:
    """What the second pass adds up over the parts."""

    input_rows: int = 0
    dp4: int = 0
    excluded: int = 0
    removed: int = 0
    held: int = 0
    review_rows: int = 0
    reasons: Counter = field(default_factory=Counter)
    voters: Counter = field(default_factory=Counter)  # DP4 rows per kecamatan
    rejected: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)
    aggregates: list = field(default_factory=list)
    households: list = field(default_factory=list)
    reports: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    workbooks: list = field(default_factory=list)
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
        parts = split(paths, work / "parts", settings.profile, settings.sheet)
        stage("read")
        sources = parts.sources
        files = pa.array([s.path for s in sources], pa.string())
        inputs = sorted(work.joinpath("parts").glob("*.parquet"))
        rows = sum(s.rows for s in sources)
        spill = Spill(partition_count(rows, NIK_BYTES, budget), work / "nik", SPILL)
        for i, part in enumerate(inputs):
            data, report = _read(part, settings)
            first_pass(data, report, files, spill, work / f"people-{i:05d}.arrow")
        stage("validate")
        found = decide(spill, sorted(work.glob("people-*.arrow")), work, settings, budget, stage)
        semester = settings.semester or semester_of(settings.election_date)
        totals = _Totals()
        writers = _Writers(tmp, settings)
        for part in inputs:
            data, report = _read(part, settings)
            report = with_repeated(report, data, found.repeated)
            tables = finish_dp4(data, report, share(data, report, files, found), revoked,
                                StageTimer())  # fmt: skip
            _add(totals, tables, report, writers, semester)
        stage("tables")
        writers.close(totals)
        shutil.rmtree(work)
        aggregates = merge_aggregates(totals.aggregates, totals.households, semester, totals.empty)
        counts = _counts(totals)
        if not counts.accounting["balanced"]:
            raise AccountingError(f"accounting does not balance, nothing written: "
                                  f"{counts.accounting}")  # fmt: skip
        check_voters(aggregates, totals.voters, totals.dp4)
        stage("aggregate")
        report = merge_reports(totals.reports, sources)
        rejected = _sorted_rejected(totals.rejected)
        duplicates = _sorted_duplicates(totals.duplicates)
        counts.duplicates = duplicate_counts(duplicates)
        counts.rejected_by_rule = {r.code: r.rows for r in report.rules if r.severity == "error"}
        summary = found.summary
        if settings.mask and summary.stale_decisions is not None:
            summary = replace(summary, stale_decisions=mask_frame(summary.stale_decisions))
        manifest = _write_whole(tmp, sources, counts, summary, aggregates, settings, rejected,
                                duplicates, totals, stage)  # fmt: skip
    return ExportResult(out_dir, None, report, manifest, {**stage.seconds, "total": stage.total()})


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


def _read(part: Path, settings: Settings):
    data = read_canonical([part], settings.profile, settings.election_date, None, None)
    return data, validate_canonical(data, settings.election_date, settings.schema)


class _Writers:
    """The files written a part at a time: dp4.csv and excluded.parquet."""

    def __init__(self, root: Path, settings: Settings):
        self.root, self.settings = root, settings
        self.csv = CsvAppender(root / "dp4.csv") if settings.csv and settings.dp4 else None
        self.excluded = ParquetAppender(root / "excluded.parquet") if settings.dp4 else None
        if settings.excel and settings.dp4:
            (root / "excel").mkdir()

    def add(self, tables: Dp4Tables, totals: _Totals) -> None:
        s = self.settings
        if s.dp4:
            totals.outputs += write_dp4_parts(tables, self.root)
            if self.csv is not None:
                self.csv.add(pa.Table.from_pandas(tables.dp4, preserve_index=False))
        if self.excluded is not None:
            self.excluded.add(arrow(tables.excluded))
        if s.excel and s.dp4:
            totals.workbooks += write_kecamatan_workbooks(
                tables.dp4, self.root, s.election_date, s.excel_max_rows
            )

    def close(self, totals: _Totals) -> None:
        if self.excluded is not None:
            self.excluded.close()
        if self.csv is not None:
            self.csv.close()


def _add(totals: _Totals, tables: Dp4Tables, report: ValidationReport, writers: _Writers,
         semester: str) -> None:  # fmt: skip
    """A part's tables counted, written or kept for the whole."""
    if writers.settings.mask:
        tables = masked_tables(tables)
    writers.add(tables, totals)
    totals.input_rows += tables.input_rows
    totals.dp4 += len(tables.dp4)
    totals.excluded += len(tables.excluded)
    totals.removed += tables.removed
    totals.held += tables.held
    if len(tables.dp4):
        totals.review_rows += int(tables.dp4["perlu_tinjauan"].sum())
        totals.voters.update(tables.dp4["kode_kecamatan"].astype(str).value_counts().to_dict())
    totals.reasons.update(tables.excluded["alasan"].value_counts().to_dict())
    totals.rejected.append(tables.rejected)
    totals.duplicates.append(tables.duplicates)
    totals.reports.append(replace(report, failures=report.failures.slice(0, 0), error_mask=None))
    if totals.empty is None:
        totals.empty = tables.population.iloc[:0]
    if len(tables.population):
        totals.aggregates.append(aggregate(tables.population, semester))
        totals.households.append(households_by_province(tables.population))


def _counts(totals: _Totals) -> ExportCounts:
    rejected = sum(t.num_rows for t in totals.rejected)
    terms = {"dp4": totals.dp4, "excluded": totals.excluded, "rejected": rejected,
             "removed": totals.removed, "held": totals.held}  # fmt: skip
    accounting = {"input_rows": totals.input_rows, **terms,
                  "balanced": totals.input_rows == sum(terms.values())}  # fmt: skip
    return ExportCounts(accounting, {k: int(v) for k, v in sorted(totals.reasons.items())},
                        {}, {}, totals.review_rows)  # fmt: skip


def _sorted_rejected(tables: list[pa.Table]) -> pa.Table:
    whole = pa.concat_tables(tables, promote_options="permissive")
    return whole.sort_by([(C.SOURCE_FILE, "ascending"), (C.SOURCE_ROW, "ascending")])


def _sorted_duplicates(frames: list[pd.DataFrame]) -> pd.DataFrame:
    found = [f for f in frames if len(f)] or frames[:1]
    whole = pd.concat(found, ignore_index=True)
    return whole.sort_values(["group_id", C.SOURCE_FILE, C.SOURCE_ROW],
                             kind="stable").reset_index(drop=True)  # fmt: skip


def _write_whole(root: Path, sources: list, counts: ExportCounts, summary: K3Summary,
                 aggregates: Aggregates, settings: Settings, rejected: pa.Table,
                 duplicates: pd.DataFrame, totals: _Totals, stage: StageTimer):  # fmt: skip
    """The files of the whole, listed in the order `write_outputs` lists them, and the
    manifest."""
    from dp4kit.outputs.text_files import write_k3_files

    outputs = list(totals.outputs)
    if settings.dp4:
        outputs += [write_audit("rejected.parquet", rejected, root),
                    write_audit("duplicates.parquet", arrow(duplicates), root),
                    OutputFile("excluded.parquet", totals.excluded)]  # fmt: skip
        outputs += write_k3_files(summary, root)
    outputs += write_aggregates(aggregates, root, settings.level)
    if settings.csv and settings.dp4:
        outputs.append(OutputFile("dp4.csv", totals.dp4))
    stage("parquet")
    if settings.excel and settings.dp4:
        outputs += totals.workbooks
        outputs += write_audit_workbooks(rejected, duplicates, root, settings.election_date,
                                         settings.excel_max_rows)  # fmt: skip
    if settings.excel:
        outputs.append(write_dak2(root, aggregates, settings, sources))
    stage("excel")
    manifest = manifest_of(sources, counts, summary, aggregates, settings, outputs, root)
    manifest.write(root)
    return manifest
