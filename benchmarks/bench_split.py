"""Benchmark `dp4kit split` beside the plain pyarrow pipeline, at growing sizes.

For each size (default 1M and 5M rows; one regency per million rows, written once under
--data-dir and reused), each in its own process with its peak RSS: `dp4kit split` (streamed
read with row numbers, broken rows and encoding choice, one Parquet part per kab/kota,
split.json), and plainly: pyarrow's streamed CSV reader into `write_dataset` partitioned by
NO_KAB (no row numbers, broken-row handling, region check or accounting). Peak RSS must not
grow with the input.

Usage: python benchmarks/bench_split.py [--sizes 1000000,5000000] [--data-dir DIR]
       [--input FILE.csv ...]   (existing exports instead of generated ones)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_export import PEAK, generate, run  # noqa: E402

SPLIT = (
    PEAK
    + """
import json, sys, time
t0 = time.perf_counter()
from dp4kit.regions.split import split
result = split([sys.argv[1]], sys.argv[2])
print(json.dumps({"total": time.perf_counter() - t0, "peak": peak_mb(),
                  "parts": len(result.parts), "rows": result.rows_read}), file=sys.stderr)
"""
)

PLAIN = (
    PEAK
    + """
import json, sys, time
t0 = time.perf_counter()
import pyarrow as pa, pyarrow.csv as pv, pyarrow.dataset as ds
with open(sys.argv[1]) as f:
    names = f.readline().strip().split(",")
reader = pv.open_csv(sys.argv[1], convert_options=pv.ConvertOptions(
    column_types={n: pa.string() for n in names}))
ds.write_dataset(reader, sys.argv[2], format="parquet", partitioning=["NO_KAB"],
                 partitioning_flavor="hive", existing_data_behavior="overwrite_or_ignore")
rows = ds.dataset(sys.argv[2], format="parquet").count_rows()
print(json.dumps({"total": time.perf_counter() - t0, "peak": peak_mb(), "rows": rows}),
      file=sys.stderr)
"""
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--input", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    sizes = [] if args.input else [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        data = args.data_dir or Path(scratch)
        data.mkdir(parents=True, exist_ok=True)
        print(f"{'rows':>11} {'split s':>8} {'rows/s':>10} {'peak MB':>8} "
              f"{'plain s':>8} {'rows/s':>10} {'peak MB':>8}")  # fmt: skip
        sources = [(rows, data / f"split_{rows}.csv") for rows in sizes]
        sources += [(None, path) for path in args.input]
        for i, (rows, source) in enumerate(sources):
            if not source.exists():
                generate(source, rows)
            ours = run(SPLIT, str(source), str(Path(scratch) / f"parts_{i}"))
            shutil.rmtree(Path(scratch) / f"parts_{i}")
            plain = run(PLAIN, str(source), str(Path(scratch) / f"plain_{i}"))
            shutil.rmtree(Path(scratch) / f"plain_{i}")
            rows = rows or ours["rows"]
            assert ours["rows"] == plain["rows"] == rows, (ours, plain)
            print(f"{rows:>11,} {ours['total']:>8.1f} {rows / ours['total']:>10,.0f} "
                  f"{ours['peak']:>8.0f} {plain['total']:>8.1f} "
                  f"{rows / plain['total']:>10,.0f} {plain['peak']:>8.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
