"""Excel outputs people read: a print-ready DP4 workbook per kecamatan (a sheet per desa) and
the audit workbooks (rejected.xlsx; duplicates.xlsx, the reviewers' workbook, in review.py)."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dp4kit.outputs.manifest import OutputFile
from dp4kit.outputs.review import write_review_workbook
from dp4kit.outputs.xlsx import EXCEL_MAX_ROWS, sheet_name, write_xlsx_sheets
from dp4kit.runs.locking import forked_worker_started

EXCEL_HEADERS = {
    "nik": "NIK",
    "nkk": "NKK",
    "nama": "Nama",
    "tempat_lahir": "Tempat Lahir",
    "tanggal_lahir": "Tanggal Lahir",
    "usia": "Usia",
    "jenis_kelamin": "L/P",
    "status_kawin": "Status Kawin (B/S/P)",
    "disabilitas": "Disabilitas",
    "alamat": "Alamat",
    "rt": "RT",
    "rw": "RW",
    "perlu_tinjauan": "Keterangan",
}
EXCEL_WIDTHS = {  # every column, so that a page's width is known: about 81% on A4 landscape
    "No": 6,
    "NIK": 18,
    "NKK": 18,
    "Nama": 28,
    "Tempat Lahir": 14,
    "Tanggal Lahir": 11,
    "Usia": 5,
    "L/P": 4,
    "Status Kawin (B/S/P)": 7,
    "Disabilitas": 12,
    "Alamat": 28,
    "RT": 4,
    "RW": 4,
    "Keterangan": 15,
}


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_")


def _excel_rows(frame: pd.DataFrame) -> list[list]:
    """Rows for the sheet: number, text cells (NIK/NKK stay text), dates as DD-MM-YYYY."""
    cols = {}
    for col in EXCEL_HEADERS:
        values = frame[col]
        if col == "tanggal_lahir":
            values = pd.to_datetime(values.astype("datetime64[s]")).dt.strftime("%d-%m-%Y")
        elif col == "perlu_tinjauan":
            values = values.map({True: "PERLU TINJAUAN"}).astype(object)
        elif col == "usia":
            values = values.astype("int64")
        cols[col] = values.astype(object).where(values.notna(), None).to_numpy()
    numbers = np.arange(1, len(frame) + 1)
    return [
        [int(n), *row] for n, row in zip(numbers, zip(*cols.values(), strict=True), strict=True)
    ]


PARALLEL_MIN_ROWS = 50_000  # below this, a process pool costs more than it saves


def _kecamatan_workbook(path: Path, kec: pd.DataFrame, day: str, max_rows: int) -> int:
    """Write one kecamatan's workbook (one sheet per desa); returns its number of rows."""
    first = kec.iloc[0]
    titles = [
        ["DAFTAR PENDUDUK POTENSIAL PEMILIH PEMILIHAN (DP4)"],
        [f"Provinsi: {first['provinsi']}"],
        [f"Kabupaten/Kota: {first['kabkota']}"],
        [f"Kecamatan: {first['kecamatan']} ({first['kode_kecamatan']})"],
    ]
    used: set[str] = set()
    sheets = []
    for kode_desa, desa in kec.groupby("kode_desa", sort=True):
        name = str(desa["desa"].iloc[0]) if desa["desa"].notna().iloc[0] else str(kode_desa)
        sheet_titles = [
            *titles,
            [f"Desa/Kelurahan: {name} ({kode_desa})"],
            [f"Hari pemungutan suara: {day}"],
            [],
        ]
        sheets.append(
            (
                sheet_name(name, used),
                sheet_titles,
                ["No", *EXCEL_HEADERS.values()],
                _excel_rows(desa),
            )
        )
    write_xlsx_sheets(path, sheets, max_rows=max_rows, widths=EXCEL_WIDTHS, print_ready=True)
    return len(kec)


def write_kecamatan_workbooks(dp4: pd.DataFrame, root: Path, election_date: dt.date,
                              max_rows: int = EXCEL_MAX_ROWS) -> list[OutputFile]:  # fmt: skip
    """excel/DP4_<kecamatan>.xlsx for each kecamatan of `dp4`. Workbooks are independent, so
    big exports write them in parallel on every core."""
    outputs = []
    day = election_date.strftime("%d-%m-%Y")
    (root / "excel").mkdir(exist_ok=True)
    jobs = []
    for kode_kec, kec in dp4.groupby("kode_kecamatan", sort=True):
        name = f"DP4_{_file_name(str(kode_kec))}_{_file_name(str(kec['kecamatan'].iloc[0]))}.xlsx"
        jobs.append((root / "excel" / name, kec, day, max_rows))
    workers = min(os.cpu_count() or 1, len(jobs))
    if len(dp4) >= PARALLEL_MIN_ROWS and workers > 1 and "fork" in mp.get_all_start_methods():
        with ProcessPoolExecutor(
            workers,
            mp_context=mp.get_context("fork"),
            initializer=forked_worker_started,
            initargs=(os.getpid(),),
        ) as pool:
            rows = list(pool.map(_kecamatan_workbook, *zip(*jobs, strict=True)))
    else:
        rows = [_kecamatan_workbook(*job) for job in jobs]
    for (path, *_), n in zip(jobs, rows, strict=True):
        outputs.append(OutputFile(path.relative_to(root).as_posix(), n))
    return outputs


def write_audit_workbooks(rejected: pa.Table, duplicates: pd.DataFrame, root: Path,
                          election_date: dt.date | None,
                          max_rows: int = EXCEL_MAX_ROWS) -> list[OutputFile]:  # fmt: skip
    """rejected.xlsx (row numbers as numbers) and duplicates.xlsx, the reviewers' workbook
    (`review.write_review_workbook`)."""
    frame = rejected.to_pandas(types_mapper=pd.ArrowDtype)
    numeric = [c for c in frame.columns if pd.api.types.is_integer_dtype(frame[c].dtype)]
    text = frame.drop(columns=numeric).astype("string")
    frame = pd.concat([text, frame[numeric].astype(object)], axis=1)[frame.columns]
    body = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    write_xlsx_sheets(root / "rejected.xlsx", [("REJECTED", [], list(frame.columns), body)],
                      max_rows=max_rows)  # fmt: skip
    rows = write_review_workbook(root / "duplicates.xlsx", duplicates, election_date, max_rows)
    return [OutputFile("rejected.xlsx", len(frame)), OutputFile("duplicates.xlsx", rows)]
