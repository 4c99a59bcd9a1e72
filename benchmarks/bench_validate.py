"""Benchmark `dp4kit validate` on a generated SIAK CSV beside a plain pyarrow read.

Usage: python benchmarks/bench_validate.py [--rows 1000000] [--repeat 3]

Generates the input under a temporary folder (deleted afterwards), then runs each pipeline in
its own Python process so peak RSS is measured per pipeline. Prints rows/s, wall time and
peak RSS for: a plain pyarrow read of the file (all columns as text, the floor for any tool)
and the full `dp4kit validate` (read, profile, every rule, summary), best of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# VmHWM is this process's own peak; ru_maxrss would carry the parent's across fork/exec.
PEAK = """
def peak_rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

PLAIN = (
    PEAK
    + """
import sys, time
import pyarrow as pa, pyarrow.csv as pv
t = time.perf_counter()
names = open(sys.argv[1], encoding="utf-8").readline().strip().split(",")
names = [n.strip('"') for n in names]
table = pv.read_csv(sys.argv[1], convert_options=pv.ConvertOptions(
    column_types={n: pa.string() for n in names}, strings_can_be_null=True))
wall = time.perf_counter() - t
print(table.num_rows, wall, peak_rss_kb(), file=sys.stderr)
"""
)

DP4KIT = (
    PEAK
    + """
import sys, time
t = time.perf_counter()
from dp4kit.cli import app
try:
    app(["validate", sys.argv[1], "--as-of", "2024-11-27", "--format", "json"],
        standalone_mode=False)
except (SystemExit, Exception) as exc:  # typer.Exit carries the exit code 1 (rows with errors)
    if type(exc).__name__ not in ("Exit", "SystemExit"):
        raise
wall = time.perf_counter() - t
print(0, wall, peak_rss_kb(), file=sys.stderr)
"""
)


def run(code: str, path: Path) -> tuple[float, float]:
    """Wall seconds (measured inside the process, imports included) and peak RSS in MB."""
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    if not out.stderr.strip():
        raise SystemExit(f"benchmark step failed: {out.stdout[-500:]}")
    line = out.stderr.strip().splitlines()[-1]
    _, wall, rss_kb = line.split()
    return float(wall), int(rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from dp4kit.sample.siak import write_sample

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "siak.csv"
        t = time.perf_counter()
        rows = write_sample(path, rows=args.rows, seed=7)
        size = path.stat().st_size / 1e6
        print(f"generated {rows:,} rows ({size:.0f} MB) in {time.perf_counter() - t:.1f} s")
        results = {}
        for name, code in (("pyarrow read (text)", PLAIN), ("dp4kit validate", DP4KIT)):
            runs = [run(code, path) for _ in range(args.repeat)]
            wall = min(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            results[name] = {"wall_s": round(wall, 2), "rows_per_s": round(rows / wall),
                             "peak_rss_mb": round(rss)}  # fmt: skip
        print(f"{'pipeline':<22}{'wall s':>9}{'rows/s':>13}{'peak RSS MB':>14}")
        for name, r in results.items():
            print(f"{name:<22}{r['wall_s']:>9.2f}{r['rows_per_s']:>13,}{r['peak_rss_mb']:>14,}")
        base = results["pyarrow read (text)"]["wall_s"]
        print(f"validate / plain read: {results['dp4kit validate']['wall_s'] / base:.1f}x")
        print(json.dumps({"rows": rows, "results": results}))


if __name__ == "__main__":
    main()
