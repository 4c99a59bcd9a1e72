"""The files of an export, for both export paths: a part's files as each part is done (the
in-memory export is one part), then the files of the whole and the manifest.

Masking is decided here, once: `add` masks a part's tables (under `--mask`) before any writer
sees them, and the files of the whole are made of those masked parts. The accounting is
counted here, once, from each part's tables (`Tally`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from dp4kit import columns as C
from dp4kit.aggregate import check_voters
from dp4kit.errors import AccountingError
from dp4kit.outputs.excel import write_audit_workbooks, write_kecamatan_workbooks
from dp4kit.outputs.manifest import (
    TERMS,
    Counts,
    ExportCounts,
    Manifest,
    OutputFile,
    duplicate_counts,
    manifest_of,
)
from dp4kit.outputs.parquet import arrow, write_aggregates, write_audit, write_dp4_parts
from dp4kit.outputs.privacy import mask_frame, masked_tables
from dp4kit.outputs.stream import CsvAppender, ParquetAppender
from dp4kit.outputs.text_files import write_k3_files

if TYPE_CHECKING:
    from collections.abc import Callable

    from dp4kit.aggregate import Aggregates
    from dp4kit.canonical import CanonicalInput
    from dp4kit.config import Settings
    from dp4kit.dedup.k3 import K3Summary
    from dp4kit.dp4 import Dp4Tables
    from dp4kit.report import ValidationReport


@dataclass
class Tally:
    """Where the rows of the parts went: the accounting's terms (`Dp4Tables.accounting`)
    summed, and what the manifest breaks them down by."""

    accounting: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # excluded rows per reason
    voters: Counter = field(default_factory=Counter)  # DP4 rows per kecamatan
    review_rows: int = 0

    def add(self, tables: Dp4Tables) -> None:
        """A part's rows (every part balances on its own: AccountingError if not)."""
        part = tables.accounting
        if not part["balanced"]:
            raise AccountingError(f"accounting does not balance, nothing written: {part}")
        self.accounting.update({k: v for k, v in part.items() if k != "balanced"})
        self.reasons.update(tables.excluded["alasan"].value_counts().to_dict())
        if len(tables.dp4):
            self.review_rows += int(tables.dp4["perlu_tinjauan"].sum())
            self.voters.update(tables.dp4["kode_kecamatan"].astype(str).value_counts().to_dict())

    def counts(self, report: ValidationReport, duplicates: pd.DataFrame) -> ExportCounts:
        """The manifest's counts; AccountingError where the rows do not add up."""
        accounting = Counts.of(int(self.accounting["input_rows"]),
                               **{t: int(self.accounting[t]) for t in TERMS})  # fmt: skip
        if not accounting.balanced:
            raise AccountingError(f"accounting does not balance, nothing written: "
                                  f"{asdict(accounting)}")  # fmt: skip
        return ExportCounts(
            accounting=accounting,
            excluded_by_reason={k: int(v) for k, v in sorted(self.reasons.items())},
            rejected_by_rule={r.code: r.rows for r in report.rules if r.severity == "error"},
            duplicates=duplicate_counts(duplicates),
            review_rows=self.review_rows,
        )


class ExportWriter:
    """An export's files in the work folder `root`: `add` each part (in input order), then
    `finish` with the whole's report, K3 summary and aggregates."""

    def __init__(self, root: Path, settings: Settings):
        self.root, self.settings = root, settings
        self.tally = Tally()
        self.parts: list[OutputFile] = []  # dp4/ and k3_people/
        self.workbooks: list[OutputFile] = []  # excel/
        self.rejected: list[pa.Table] = []
        self.duplicates: list[pd.DataFrame] = []
        self.excluded_rows = 0
        self.later: list[pd.DataFrame] = []  # (masked) DP4 parts whose workbooks wait
        dp4 = settings.dp4
        self.csv = CsvAppender(root / "dp4.csv") if settings.csv and dp4 else None
        self.excluded = ParquetAppender(root / "excluded.parquet") if dp4 else None

    def add(self, tables: Dp4Tables, workbooks_now: bool = True) -> None:
        """A part's tables counted (before anything of it is written), masked (`--mask`) and
        written: its dp4/ and k3_people/ files, its rows of dp4.csv and excluded.parquet, and
        its excel/ workbooks (with
        `workbooks_now` False: in `finish`, so the in-memory export times Parquet and Excel
        apart)."""
        self.tally.add(tables)
        if self.settings.mask:  # once, here: no writer below sees an unmasked identifier
            tables = masked_tables(tables)
        if self.settings.dp4:
            self.parts += write_dp4_parts(tables, self.root)
            if self.csv is not None:
                self.csv.add(pa.Table.from_pandas(tables.dp4, preserve_index=False))
            self.excluded.add(arrow(tables.excluded))
            self.excluded_rows += len(tables.excluded)
        self.rejected.append(tables.rejected)
        self.duplicates.append(tables.duplicates)
        if workbooks_now:
            self._workbooks(tables.dp4)
        else:
            self.later.append(tables.dp4)

    def _workbooks(self, dp4: pd.DataFrame) -> None:
        s = self.settings
        if s.excel and s.dp4:
            self.workbooks += write_kecamatan_workbooks(dp4, self.root, s.election_date,
                                                        s.excel_max_rows)  # fmt: skip

    def finish(self, sources: list, report: ValidationReport, k3: K3Summary | None,
               aggregates: Aggregates,
               stage: Callable[[str], None] = lambda name: None) -> Manifest:  # fmt: skip
        """The files of the whole (audit files in input order, K3's files, aggregates, DAK2)
        and the manifest, listing every file in one order whichever path wrote it."""
        s, root = self.settings, self.root
        rejected = _rejected_in_order(self.rejected)
        duplicates = _duplicates_in_order(self.duplicates)
        counts = self.tally.counts(report, duplicates)
        check_voters(aggregates, dict(self.tally.voters), counts.accounting.dp4)
        if s.mask and k3 is not None and k3.stale_decisions is not None:
            k3 = replace(k3, stale_decisions=mask_frame(k3.stale_decisions))
        outputs = list(self.parts)
        if s.dp4:
            self.excluded.close()
            outputs += [write_audit("rejected.parquet", rejected, root),
                        write_audit("duplicates.parquet", arrow(duplicates), root),
                        OutputFile("excluded.parquet", self.excluded_rows)]  # fmt: skip
            if k3 is not None:
                outputs += write_k3_files(k3, root)
        outputs += write_aggregates(aggregates, root, s.level)
        if self.csv is not None:
            self.csv.close()
            outputs.append(OutputFile("dp4.csv", self.tally.accounting["dp4"]))
        stage("parquet")
        for dp4 in self.later:
            self._workbooks(dp4)
        if s.excel and s.dp4:
            outputs += self.workbooks
            outputs += write_audit_workbooks(rejected, duplicates, root, s.election_date,
                                             s.excel_max_rows)  # fmt: skip
        if s.excel:
            outputs.append(write_dak2(root, aggregates, s, sources))
        stage("excel")
        manifest = manifest_of(sources, counts, k3, aggregates, s, outputs, root)
        manifest.write(root)
        return manifest


def _rejected_in_order(tables: list[pa.Table]) -> pa.Table:
    """The rejected rows of every part by source file and row, as `build_dp4` orders them."""
    whole = pa.concat_tables(tables, promote_options="permissive")
    return whole.sort_by([(C.SOURCE_FILE, "ascending"), (C.SOURCE_ROW, "ascending")])


def _duplicates_in_order(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The duplicates of every part by group, then source file and row, as `build_dp4`
    orders them."""
    found = [f for f in frames if len(f)] or frames[:1]
    whole = pd.concat(found, ignore_index=True) if len(found) > 1 else found[0]
    return whole.sort_values(["group_id", C.SOURCE_FILE, C.SOURCE_ROW],
                             kind="stable").reset_index(drop=True)  # fmt: skip


def write_outputs(root: Path, data: CanonicalInput, report: ValidationReport, tables: Dp4Tables,
                  aggregates: Aggregates, settings: Settings,
                  stage: Callable[[str], None] = lambda name: None) -> Manifest:  # fmt: skip
    """Every file of an in-memory export (one part) into the empty folder root."""
    writer = ExportWriter(root, settings)
    writer.add(tables, workbooks_now=False)
    return writer.finish(data.raw_input.sources, report, tables.k3, aggregates, stage)


def write_dak2(root: Path, aggregates: Aggregates, settings: Settings, sources: list) -> OutputFile:
    """dak2.xlsx, the printable DAK2, naming the input files."""
    from dp4kit import __version__
    from dp4kit.outputs.dak2_report import ReportInfo, write_dak2_report
    from dp4kit.reference import MASTER_VERSION

    named = [(Path(s.path).name, s.rows, s.sha256) for s in sources]
    info = ReportInfo(settings.election_date, named, __version__, MASTER_VERSION)
    write_dak2_report(root / "dak2.xlsx", aggregates, info)
    return OutputFile("dak2.xlsx", len(aggregates.dak2))
