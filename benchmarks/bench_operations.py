"""Benchmark `dp4kit verify` and `dp4kit diff` beside plain hashlib / pandas equivalents.

Usage: python benchmarks/bench_operations.py [--rows 1000000]

Generates a SIAK export and a "next semester" copy under a temporary folder (1 % of rows
dropped, 1 % renamed, 1 % moved to a new address, 1 % new residents), exports both
(`--no-excel`), then runs each step in its own process and prints wall time, rows/s and peak
RSS:
- `verify` (checksums of every output, row counts, accounting) against a plain loop of
  hashlib.sha256 over the same files (checksums only);
- `diff` (added/removed/changed with reasons, per kecamatan, Parquet + xlsx lists) against a
  plain pandas outer merge on NIK with the same comparisons and per-kecamatan counts, Parquet
  only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_export import PEAK, generate, run  # noqa: E402

VERIFY = (
    PEAK
    + """
import json, sys, time
t0 = time.perf_counter()
from dp4kit.runs.verify import verify
result = verify(sys.argv[1])
assert not result.problems, result.problems
print(json.dumps({"total": time.perf_counter() - t0, "peak": peak_mb(),
                  "files": result.files_checked}), file=sys.stderr)
"""
)

PLAIN_VERIFY = (
    PEAK
    + """
import hashlib, json, sys, time
from pathlib import Path
t0 = time.perf_counter()
root = Path(sys.argv[1])
manifest = json.loads((root / "manifest.json").read_text())
bad = 0
for out in manifest["outputs"]:
    h = hashlib.sha256()
    with open(root / out["path"], "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    bad += h.hexdigest() != out["sha256"]
assert bad == 0
print(json.dumps({"total": time.perf_counter() - t0, "peak": peak_mb()}), file=sys.stderr)
"""
)

DIFF = (
    PEAK
    + """
import json, sys, time
t0 = time.perf_counter()
from dp4kit.runs.diff import diff_runs, write_diff
result = diff_runs(sys.argv[1], sys.argv[2])
t1 = time.perf_counter()
write_diff(result, sys.argv[3])
totals = result.to_dict()["totals"]
print(json.dumps({"total": time.perf_counter() - t0, "peak": peak_mb(), "totals": totals,
                  "compare": t1 - t0, "write": time.perf_counter() - t1}), file=sys.stderr)
"""
)

PLAIN_DIFF = (
    PEAK
    + """
import json, sys, time
t0 = time.perf_counter()
import pandas as pd, pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq
from pathlib import Path
part = ds.partitioning(pa.schema([("kode_kabkota", pa.string()), ("kode_kecamatan", pa.string())]),
                       flavor="hive")
cols = ["nik", "nama", "kode_kecamatan", "kode_desa", "alamat", "rt", "rw", "status_kawin"]
def load(p):
    return ds.dataset(Path(p) / "dp4", partitioning=part).to_table(columns=cols).to_pandas(
        types_mapper=pd.ArrowDtype)
old, new = load(sys.argv[1]), load(sys.argv[2])
m = old.merge(new, on="nik", how="outer", suffixes=("_o", "_n"), indicator=True)
both = m[m["_merge"] == "both"]
changed = both[(both["nama_o"] != both["nama_n"]) | (both["alamat_o"] != both["alamat_n"])
               | (both["kode_desa_o"] != both["kode_desa_n"]) | (both["rt_o"] != both["rt_n"])
               | (both["rw_o"] != both["rw_n"]) | (both["status_kawin_o"] != both["status_kawin_n"])]
added, removed = m[m["_merge"] == "right_only"], m[m["_merge"] == "left_only"]
summary = pd.DataFrame({"ditambah": added.groupby("kode_kecamatan_n").size(),
                        "dihapus": removed.groupby("kode_kecamatan_o").size(),
                        "berubah": changed.groupby("kode_kecamatan_n").size()}).fillna(0)
out = Path(sys.argv[3]); out.mkdir(parents=True)
for name, frame in (("ditambah", added), ("dihapus", removed), ("berubah", changed),
                    ("ringkasan", summary.reset_index())):
    pq.write_table(pa.Table.from_pandas(frame.drop(columns="_merge", errors="ignore"),
                                        preserve_index=False), out / f"{name}.parquet")
print(json.dumps({"total": time.perf_counter() - t0, "peak": peak_mb(),
                  "totals": {"ditambah": len(added), "dihapus": len(removed),
                             "berubah": len(changed)}}), file=sys.stderr)
"""
)


def next_semester(src: Path, dst: Path) -> None:
    """A copy with 1 % dropped, 1 % renamed, 1 % moved and 1 % new residents."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pv

    names = [n.strip('"') for n in src.open(encoding="utf-8").readline().strip().split(",")]
    t = pv.read_csv(src, convert_options=pv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=False))  # fmt: skip
    i = np.arange(t.num_rows)
    renamed = pa.array(i % 97 == 1)
    moved = pa.array(i % 89 == 2)
    t = t.set_column(names.index("NAMA_LGKP"), "NAMA_LGKP",
                     pc.if_else(renamed, pc.binary_join_element_wise(t["NAMA_LGKP"], "A", " "),
                                t["NAMA_LGKP"]))  # fmt: skip
    t = t.set_column(names.index("ALAMAT"), "ALAMAT",
                     pc.if_else(moved, "JL. PINDAHAN NO. 9", t["ALAMAT"]))  # fmt: skip
    newcomers = t.filter(pa.array(i % 100 == 3))
    serial = pc.utf8_slice_codeunits(newcomers["NIK"], 0, 12)
    newcomers = newcomers.set_column(names.index("NIK"), "NIK",
                                     pc.binary_join_element_wise(serial, "9999", ""))  # fmt: skip
    kept = t.filter(pa.array(i % 100 != 0))
    pv.write_csv(pa.concat_tables([kept, newcomers]), dst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    from dp4kit.config import Settings
    from dp4kit.export.whole import export

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        generate(root / "s1.csv", args.rows)
        next_semester(root / "s1.csv", root / "s2.csv")
        options = Settings(election_date=dt.date(2024, 11, 27), excel=False)
        for name in ("s1", "s2"):
            export([root / f"{name}.csv"], root / f"out_{name}", options)
        print(f"generated and exported two runs of {args.rows:,} rows in "
              f"{time.perf_counter() - t:.0f} s")  # fmt: skip
        steps = {
            "dp4kit verify": run(VERIFY, str(root / "out_s1")),
            "plain sha256": run(PLAIN_VERIFY, str(root / "out_s1")),
            "dp4kit diff": run(
                DIFF, str(root / "out_s1"), str(root / "out_s2"), str(root / "d1")
            ),  # fmt: skip
            "plain diff": run(
                PLAIN_DIFF, str(root / "out_s1"), str(root / "out_s2"), str(root / "d2")
            ),  # fmt: skip
        }
    print(f"\n{'step':<16}{'wall s':>9}{'rows/s':>14}{'peak RSS MB':>13}")
    for name, result in steps.items():
        rate = args.rows / result["total"]
        print(f"{name:<16}{result['total']:>9.2f}{rate:>14,.0f}{result['peak']:>13,.0f}")
    ours = steps["dp4kit diff"]
    print(
        f"dp4kit diff: compare {ours['compare']:.2f} s, write (Parquet + xlsx + json) "
        f"{ours['write']:.2f} s"
    )
    print("diff totals:", ours["totals"])
    print("plain totals:", steps["plain diff"]["totals"])
    print(json.dumps({"rows": args.rows, "steps": steps}))


if __name__ == "__main__":
    main()
