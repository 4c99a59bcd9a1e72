"""Benchmark `dp4kit export` per stage beside a hand-written plain pandas/pyarrow pipeline.

Usage: python benchmarks/bench_export.py [--rows 1000000] [--no-excel] [--no-plain] [--mask]
                                        [--data-dir DIR] [--memory-limit 4G [--partitioned-only]]

Generates a SIAK export under a temporary folder (5M rows are made as five 1M-row regencies of
Jawa Barat, appended), then runs, each in its own process:
- `dp4kit export` (fuzzy dedup included), printing wall time and peak RSS after every stage;
- with --mask, `dp4kit export --mask` too (every identifier in every output masked);
- with --memory-limit, `dp4kit export --memory-limit` too (one kab/kota at a time), and whether
  every file it wrote equals the in-memory export's (sha256);
- a plain pipeline doing the same non-fuzzy steps with pyarrow and pandas only: read as text,
  the core checks (16-digit NIK, NKK, date, sex, status, known village), exact dedup on NIK,
  eligibility, a partitioned Parquet write. It is the floor a hand-written job would reach.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

DP4KIT = (
    PEAK
    + """
import datetime as dt, json, sys, time
from dataclasses import asdict
t0 = time.perf_counter()
from dp4kit.config import Settings
from dp4kit.export.whole import export
marks = []
last = [t0]
def on_stage(name):
    now = time.perf_counter()
    marks.append((name, now - last[0], peak_mb()))
    last[0] = now
options = Settings(election_date=dt.date(2024, 11, 27), excel=sys.argv[3] == "1", mask=sys.argv[4] == "1",
                   memory_limit=sys.argv[5] if len(sys.argv) > 5 else None)
result = export([sys.argv[1]], sys.argv[2], options, on_stage)
marks.append(("manifest", time.perf_counter() - last[0], peak_mb()))
print(json.dumps({"stages": marks, "total": time.perf_counter() - t0,
                  "counts": asdict(result.manifest.counts)}), file=sys.stderr)
"""
)

PLAIN = (
    PEAK
    + """
import json, sys, time
t0 = time.perf_counter()
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as pv
import pyarrow.parquet as pq
marks = []
last = [t0]
def mark(name):
    now = time.perf_counter(); marks.append((name, now - last[0], peak_mb())); last[0] = now
names = [n.strip('"') for n in open(sys.argv[1], encoding="utf-8").readline().strip().split(",")]
t = pv.read_csv(sys.argv[1], convert_options=pv.ConvertOptions(
    column_types={n: pa.string() for n in names}, strings_can_be_null=True))
mark("read")
desa = pq.read_table(sys.argv[3]).filter(pc.equal(pc.field("tingkat"), "desa"))["kode"]
kode = pc.binary_join_element_wise(pc.utf8_lpad(t["NO_PROP"], 2, "0"), pc.utf8_lpad(t["NO_KAB"], 2, "0"),
                                   pc.utf8_lpad(t["NO_KEC"], 2, "0"), pc.utf8_lpad(t["NO_KEL"], 4, "0"), ".")
born = pc.strptime(t["TGL_LHR"], format="%d-%m-%Y", unit="s", error_is_null=True)
ok = pc.and_(pc.match_substring_regex(t["NIK"], r"^\\d{16}$"), pc.match_substring_regex(t["NO_KK"], r"^\\d{16}$"))
ok = pc.and_(ok, pc.is_valid(born))
ok = pc.and_(ok, pc.is_in(t["JENIS_KLMIN"], pa.array(["1", "2"])))
ok = pc.and_(ok, pc.is_in(t["STAT_KWN"], pa.array(["1", "2", "3", "4"])))
ok = pc.and_(ok, pc.is_in(kode, value_set=desa))
ok = pc.fill_null(ok, False)
t = t.append_column("kode_desa", kode).append_column("born", born).filter(ok)
mark("validate")
df = t.to_pandas(types_mapper=pd.ArrowDtype)
df = df.drop_duplicates("NIK", keep="first")
mark("dedup_exact")
b = df["born"].astype("datetime64[s]")
age = 2024 - b.dt.year - ((b.dt.month > 11) | ((b.dt.month == 11) & (b.dt.day > 27))).astype(int)
eligible = ((age >= 17) | df["STAT_KWN"].isin(["2", "3", "4"])) & (df["FLAG_STATUS"] == "0") & ~df["JENIS_PKRJN"].isin(["6", "7"])
dp4 = df[eligible].sort_values(["kode_desa", "NO_RW", "NO_RT", "NAMA_LGKP"])
mark("eligibility")
dp4 = dp4.assign(kode_kabkota=dp4["kode_desa"].str.slice(0, 5), kode_kecamatan=dp4["kode_desa"].str.slice(0, 8))
pq.write_to_dataset(pa.Table.from_pandas(dp4, preserve_index=False), sys.argv[2],
                    partition_cols=["kode_kabkota", "kode_kecamatan"], compression="zstd")
mark("parquet")
print(json.dumps({"stages": marks, "total": time.perf_counter() - t0, "dp4": len(dp4)}), file=sys.stderr)
"""
)


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    lines = [line for line in out.stderr.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"benchmark step failed:\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def generate(path: Path, rows: int) -> None:
    """One regency per million rows: Kabupaten Bandung, Bogor, Sukabumi, Cianjur, Garut, then
    the rest of Jawa Barat's 27 kab/kota (a province of 50M rows: about 2M each). A kab/kota's
    second million gets NIK serials of its own: else most of its NIKs would repeat the first's."""
    from dp4kit.sample.regions import SERIAL_STEP
    from dp4kit.sample.siak import write_sample

    regencies = ["32.04", "32.01", "32.02", "32.03", "32.05"]
    regencies += [f"32.{k:02d}" for k in [*range(6, 19), *range(71, 80)]]
    chunk = min(rows, 1_000_000)
    with path.open("wb") as out:
        for i, start in enumerate(range(0, rows, chunk)):
            part = path.with_name(f"part{i}.csv")
            write_sample(part, rows=min(chunk, rows - start), seed=7 + i,
                         kabkota=regencies[i % len(regencies)],
                         nik_serial_base=SERIAL_STEP * (i // len(regencies)))  # fmt: skip
            with part.open("rb") as f:
                if i:
                    f.readline()  # header once
                while block := f.read(1 << 24):
                    out.write(block)
            part.unlink()
            part.with_name(f"part{i}.truth.csv").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-excel", action="store_true")
    parser.add_argument("--no-plain", action="store_true")
    parser.add_argument("--mask", action="store_true", help="also time export --mask")
    parser.add_argument("--data-dir", help="keep the generated input here and reuse it")
    parser.add_argument(
        "--memory-limit",
        help="also time export --memory-limit SIZE (one "
        "kab/kota at a time) and check its files equal the in-memory export's",
    )
    parser.add_argument(
        "--partitioned-only",
        action="store_true",
        help="with --memory-limit: skip the in-memory export (too big for it)",
    )
    args = parser.parse_args()

    from importlib import resources

    master = str(resources.files("dp4kit.reference").joinpath("wilayah.parquet"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.data_dir or tmp) / f"siak_{args.rows}.csv"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            partial = path.with_name(path.name + ".partial")  # a killed run leaves no half file
            generate(partial, args.rows)
            partial.replace(path)
            print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
                  f"in {time.perf_counter() - t:.0f} s")  # fmt: skip
        else:
            print(f"reusing {path}")
        excel = "0" if args.no_excel else "1"
        parted = same = None
        if args.memory_limit:
            parted = run(DP4KIT, str(path), str(Path(tmp) / "parted"), excel, "0",
                         args.memory_limit)  # fmt: skip
        if args.memory_limit and args.partitioned_only:
            ours = parted
        else:
            ours = run(DP4KIT, str(path), str(Path(tmp) / "out"), excel, "0")
        if args.memory_limit and not args.partitioned_only:
            same = checksums(Path(tmp) / "parted") == checksums(Path(tmp) / "out")
        masked = (
            run(DP4KIT, str(path), str(Path(tmp) / "masked"), excel, "1") if args.mask else None
        )
        plain = None if args.no_plain else run(PLAIN, str(path), str(Path(tmp) / "plain"), master)
    if parted:
        print(f"\ndp4kit export --memory-limit {args.memory_limit}, {args.rows:,} rows")
        _stages(parted, args.rows, args.no_excel)
        if same is not None:
            print(f"every file the same as the in-memory export's (sha256): {same}")
    if args.partitioned_only:
        print(json.dumps({"rows": args.rows, "partitioned": parted}))
        return
    print(f"\ndp4kit export, {args.rows:,} rows (fuzzy dedup included)")
    print(f"{'stage':<14}{'wall s':>9}{'rows/s':>14}{'peak RSS MB':>13}")
    for name, seconds, peak in ours["stages"]:
        if name == "excel" and args.no_excel:
            continue
        rate = f"{args.rows / seconds:,.0f}" if seconds > 0 else "-"
        print(f"{name:<14}{seconds:>9.2f}{rate:>14}{peak:>13,.0f}")
    excel = sum(s for n, s, _ in ours["stages"] if n == "excel")
    total = ours["total"]
    print(f"{'total':<14}{total:>9.2f}{args.rows / total:>14,.0f}")
    print(
        f"to Parquet outputs (total less Excel): {total - excel:.2f} s; Excel: {excel:.2f} s "
        f"for {ours['counts']['dp4']:,} voters"
    )
    if masked:
        writing = {n: s for n, s, _ in masked["stages"] if n in ("parquet", "excel")}
        print(f"\nwith --mask: total {masked['total']:.2f} s, writing "
              + ", ".join(f"{n} {s:.2f} s" for n, s in writing.items()))  # fmt: skip
    if plain:
        print("\nplain pandas/pyarrow pipeline (no fuzzy dedup, no audit files, no Excel)")
        for name, seconds, peak in plain["stages"]:
            print(
                f"{name:<14}{seconds:>9.2f}{args.rows / seconds if seconds else 0:>14,.0f}{peak:>13,.0f}"
            )
        print(f"{'total':<14}{plain['total']:>9.2f}{args.rows / plain['total']:>14,.0f}")
    print(
        json.dumps(
            {
                "rows": args.rows,
                "dp4kit": ours,
                "masked": masked,
                "plain": plain,
                "partitioned": parted,
                "same_files": same,
            }
        )
    )


def _stages(result: dict, rows: int, no_excel: bool) -> None:
    print(f"{'stage':<14}{'wall s':>9}{'rows/s':>14}{'peak RSS MB':>13}")
    for name, seconds, peak in result["stages"]:
        if name == "excel" and no_excel:
            continue
        rate = f"{rows / seconds:,.0f}" if seconds > 0 else "-"
        print(f"{name:<14}{seconds:>9.2f}{rate:>14}{peak:>13,.0f}")
    print(f"{'total':<14}{result['total']:>9.2f}{rows / result['total']:>14,.0f}")


def checksums(folder: Path) -> dict[str, str]:
    """The sha256 of every file under a folder, by relative path."""
    from dp4kit.io.sources import file_sha256

    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


if __name__ == "__main__":
    main()
