"""Benchmark the DP4 workbooks beside xlsxwriter's own floor for the same rows.

    python benchmarks/bench_excel.py --dp4 OUT/dp4   # the dp4/ of an export (--no-excel)
    python benchmarks/bench_excel.py --rows 200000   # or export a generated input first

Both write one workbook per kecamatan with a sheet per desa, in as many forked processes as
there are cores: dp4kit's `write_kecamatan_workbooks` (titles, formats, print set-up, column
widths, DD-MM-YYYY dates, identifiers as text) and a plain pipeline that hands xlsxwriter the
same cells with `write_string`/`write_number` (constant memory, no formats): the floor. Prints seconds, rows/s
and the ratio (issue 26: ≤ 1.2x)."""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

DAY = dt.date(2024, 11, 27)


def floor_workbook(path: str, kec: pd.DataFrame) -> int:
    """One kecamatan's cells (the same columns, dates as text) with plain xlsxwriter."""
    import xlsxwriter

    from dp4kit.outputs.excel import EXCEL_HEADERS

    wb = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False})
    for kode_desa, desa in kec.groupby("kode_desa", sort=True):
        ws = wb.add_worksheet(str(kode_desa)[:31])
        frame = desa[list(EXCEL_HEADERS)].copy()
        frame["tanggal_lahir"] = pd.to_datetime(frame["tanggal_lahir"].astype("datetime64[s]"))
        frame["tanggal_lahir"] = frame["tanggal_lahir"].dt.strftime("%d-%m-%Y")
        rows = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
        ws.write_row(0, 0, ["No", *EXCEL_HEADERS.values()])
        text, number = ws.write_string, ws.write_number  # xlsxwriter's fastest per cell
        for i, row in enumerate(rows, 1):
            number(i, 0, i)
            for j, value in enumerate(row, 1):
                if isinstance(value, str):
                    text(i, j, value)
                elif value is not None:
                    number(i, j, value)
    wb.close()
    return len(kec)


def floor(dp4: pd.DataFrame, root: Path) -> float:
    started = time.perf_counter()
    jobs = [(str(root / f"{k}.xlsx"), kec) for k, kec in dp4.groupby("kode_kecamatan")]
    with ProcessPoolExecutor(os.cpu_count(), mp_context=mp.get_context("fork")) as pool:
        list(pool.map(floor_workbook, *zip(*jobs, strict=True)))
    return time.perf_counter() - started


def ours(dp4: pd.DataFrame, root: Path) -> float:
    from dp4kit.outputs.excel import write_kecamatan_workbooks

    started = time.perf_counter()
    write_kecamatan_workbooks(dp4, root, DAY)
    return time.perf_counter() - started


def exported(rows: int, tmp: Path) -> Path:
    from dp4kit.config import Settings
    from dp4kit.export.whole import export
    from dp4kit.sample.siak import write_sample

    write_sample(tmp / "in.csv", rows=rows, seed=7)
    export([tmp / "in.csv"], tmp / "out", Settings(election_date=DAY, excel=False))
    return tmp / "out" / "dp4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dp4", type=Path, help="an export's dp4/ folder")
    parser.add_argument("--rows", type=int, default=200_000, help="else: export this many")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dp4 or exported(args.rows, Path(tmp))
        dp4 = pq.read_table(folder).to_pandas(types_mapper=pd.ArrowDtype)
        dp4 = dp4.sort_values(["kode_kecamatan"], kind="stable").reset_index(drop=True)
        timings = {}
        for name, run in (("floor", floor), ("dp4kit", ours), ("floor ", floor)):
            root = Path(tmp) / name.strip() / "excel"
            root.mkdir(parents=True, exist_ok=True)
            timings.setdefault(name.strip(), []).append(run(dp4, root.parent))
    best = {k: min(v) for k, v in timings.items()}
    n = len(dp4)
    print(f"{n:,} DP4 rows, {dp4['kode_kecamatan'].nunique()} workbooks, {os.cpu_count()} cores")
    for name, seconds in best.items():
        print(f"{name:<8}{seconds:>8.2f} s{n / seconds:>12,.0f} rows/s")
    print(f"dp4kit / xlsxwriter floor: {best['dp4kit'] / best['floor']:.2f}x (target <= 1.2x)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
