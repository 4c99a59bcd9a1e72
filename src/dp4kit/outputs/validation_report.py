"""The validation report's files (`dp4kit validate --report`): .csv, .json or a formatted .xlsx."""

from __future__ import annotations

import json
from pathlib import Path

from dp4kit import __version__
from dp4kit.errors import WRITE_ERRORS, OutputError, UsageError, write_failure
from dp4kit.outputs.files import atomic_file
from dp4kit.outputs.xlsx import write_xlsx_sheets
from dp4kit.reference import MASTER_VERSION
from dp4kit.report import ValidationReport

FAILURE_HEADERS_ID = {
    "file": "Berkas", "row": "Baris", "column": "Kolom", "rule": "Aturan",
    "severity": "Tingkat", "value": "Nilai", "message": "Keterangan",
}  # fmt: skip


def write_report(report: ValidationReport, path: Path) -> None:
    """Every failure as .csv, .json or a formatted .xlsx, chosen by the suffix."""
    writer = REPORT_WRITERS.get(path.suffix.lower())
    if writer is None:
        raise UsageError(f"{path}: report must end in {', '.join(REPORT_WRITERS)}")
    try:
        writer(report, path)
    except WRITE_ERRORS as exc:
        raise OutputError(f"{path}: cannot write the report: {write_failure(exc)}") from exc


def _write_csv(report: ValidationReport, path: Path) -> None:
    """Failures as CSV; a value a spreadsheet would run as a formula gets a leading `'`."""
    import pyarrow.csv as pv

    from dp4kit.outputs.privacy import neutralise_formulas

    with atomic_file(path) as tmp:
        pv.write_csv(neutralise_formulas(report.failures), tmp)


def _write_json(report: ValidationReport, path: Path) -> None:
    data = report.to_dict()
    data["failures"] = report.failures.to_pylist()
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _write_xlsx(report: ValidationReport, path: Path) -> None:
    summary = report.to_dict()
    info_rows = [
        ["Laporan validasi dp4kit", ""],
        ["Versi dp4kit", __version__],
        ["Jumlah baris", report.rows],
        ["Baris dengan galat (error)", report.rows_with_errors],
        ["Baris dengan peringatan", report.rows_with_warnings],
        ["Tanggal acuan", report.as_of],
        ["Master wilayah", MASTER_VERSION],
        ["Sidik berkas (sha256)", summary["fingerprint"]],
        *[["Berkas masukan", s.path] for s in report.sources],
        ["", ""],
    ]
    rule_header = ["Aturan", "Tingkat", "Jumlah baris", "Keterangan", "Contoh baris"]
    rule_rows = [
        [r.code, r.severity, r.rows, r.to_dict()["explanation"] or "",
         ", ".join(str(e["row"]) for e in r.examples)]
        for r in report.rules
    ]  # fmt: skip
    with atomic_file(path) as tmp:
        write_xlsx_sheets(
            tmp,
            [
                ("Ringkasan", info_rows, rule_header, rule_rows),
                ("Temuan", [], [FAILURE_HEADERS_ID[c] for c in report.failures.column_names],
                 report.failures),
            ],
        )  # fmt: skip


REPORT_WRITERS = {".csv": _write_csv, ".json": _write_json, ".xlsx": _write_xlsx}
