"""Commands as library calls: each CLI command is one function here, testable with a DataFrame."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dp4kit import columns as C
from dp4kit.canonical import CanonicalInput
from dp4kit.dp4 import Dp4Tables, build_dp4
from dp4kit.io.given_files import SCHEMA, check_all, read_files
from dp4kit.io.profiles import read_canonical, resolve_profile, to_canonical
from dp4kit.io.sources import BROKEN_SCHEMA, RawInput, SourceInfo, clean_text
from dp4kit.report import ValidationReport, summarize
from dp4kit.rules import catalog
from dp4kit.rules.validate import default_schema_path, run_checks

log = logging.getLogger(__name__)


def validate_canonical(
    data: CanonicalInput, as_of: dt.date, schemas: Sequence[Path] = (), started: float | None = None
) -> ValidationReport:
    """Run the built-in schema (and any extra office schemas) over a canonical table."""
    started = time.perf_counter() if started is None else started
    check_all((path, SCHEMA) for path in schemas)  # office schemas are read by the rules
    paths = [default_schema_path(), *map(Path, schemas)]
    failures, is_error, is_warning = run_checks(data, paths)
    broken = data.raw_input.broken_rows.num_rows
    report = ValidationReport(
        rows=len(data.table) + broken,
        rows_with_errors=int(is_error.sum()) + broken,
        rows_with_warnings=int(is_warning.sum()),
        rules=summarize(failures),
        failures=failures,
        sources=data.raw_input.sources,
        profile=data.profile,
        as_of=as_of.isoformat(),
        schemas=[str(p) for p in paths],
        error_mask=is_error,
    )
    report.elapsed_seconds = time.perf_counter() - started
    log.info(
        "validated %d rows: %d with errors, %d with warnings in %.2fs",
        report.rows,
        report.rows_with_errors,
        report.rows_with_warnings,
        report.elapsed_seconds,
    )
    return report


def validate(
    paths: Sequence[Path],
    profile: str = "auto",
    as_of: dt.date | None = None,
    sheet: str | None = None,
    keluarga: Path | None = None,
    schemas: Sequence[Path] = (),
) -> ValidationReport:
    """`dp4kit validate`: read the inputs with a profile and check every row."""
    started = time.perf_counter()
    check_all(read_files(paths, keluarga, profile, schemas))  # before a long read
    as_of = as_of or dt.date.today()
    data = read_canonical(list(paths), profile, as_of, sheet, keluarga)
    return validate_canonical(data, as_of, schemas, started)


def frame_input(frame: pd.DataFrame, source: str = "<tabel>") -> RawInput:
    """Wrap an in-memory text table as if read from a file (rows numbered from 2)."""
    table = pa.Table.from_pandas(frame.astype("string"), preserve_index=False)
    table = clean_text(
        pa.table([c.cast(pa.string()) for c in table.columns], names=table.column_names)
    )
    n = table.num_rows
    table = table.append_column(C.SOURCE_FILE, pa.array([source] * n, pa.string()))
    table = table.append_column(C.SOURCE_ROW, pa.array(np.arange(2, n + 2), pa.int64()))
    info = SourceInfo(path=source, kind="frame", sha256="", rows=n)
    return RawInput(table, [info], BROKEN_SCHEMA.empty_table())


def validate_frame(
    frame: pd.DataFrame,
    profile: str = "auto",
    as_of: dt.date | None = None,
    schemas: Sequence[Path] = (),
) -> ValidationReport:
    """`validate` on an in-memory table of text (SIAK or canonical headers)."""
    as_of = as_of or dt.date.today()
    raw = frame_input(frame)
    data = to_canonical(raw, resolve_profile(profile, list(frame.columns)), as_of)
    return validate_canonical(data, as_of, schemas)


__all__ = ["validate", "validate_frame", "validate_canonical", "catalog"]


def dp4_from_frame(
    frame: pd.DataFrame,
    election_date: dt.date,
    profile: str = "auto",
    revoked: Iterable[str] = (),
    merge_fuzzy: float | None = None,
) -> Dp4Tables:
    """`build_dp4` on an in-memory table of text (SIAK or canonical headers)."""
    data = to_canonical(
        frame_input(frame), resolve_profile(profile, list(frame.columns)), election_date
    )
    report = validate_canonical(data, election_date)
    return build_dp4(data, report, election_date, revoked, merge_fuzzy)
