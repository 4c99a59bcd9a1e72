"""Benchmark the province path at growing sizes, beside a plain pyarrow/pandas pipeline.

A province on one machine: every regency exported on its own (as its office does, one at a
time, `--no-excel`), then `dp4kit combine` within `--memory-limit`. For each size (default 1M,
5M and 20M rows; 50M is Jawa Barat's 27 regencies): regencies of about --regency-rows rows
each, each generated with its own seed and NIK serials and with people planted on two
regencies' lists, written once under --data-dir and reused. Each step runs in its own
process, with its peak RSS. Printed per size: the regency exports (their sum of wall time and
their largest peak), combine, and the whole path in rows/s; and the same path done plainly:
bench_export's plain pipeline per regency, then every run's NIKs read with pyarrow and the
NIKs on two lists counted (no K2/K3, audit files, DAK2 or manifest).

With --spark, combine also runs on Spark in local mode (local[*]; extra dp4kit[spark]) and
must give the same counts.

With --jobs N, N regency exports run at a time (the largest first), as N offices' machines
or N cores would; their peak is then the summed RSS of those running together.

With --single, the regency files of each size are instead ONE `dp4kit export --memory-limit`
(a kab/kota at a time, with the in-memory export's files): its stages, wall time and peak.

Usage: python benchmarks/bench_scale.py [--sizes 1000000,5000000,20000000]
       [--regency-rows 1000000] [--memory-limit 4G] [--data-dir DIR] [--no-plain] [--spark]
       [--jobs 1] [--combine-only | --single]
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_export import DP4KIT, PEAK, run  # noqa: E402
from bench_export import PLAIN as PLAIN_EXPORT  # noqa: E402

from dp4kit.sample.regions import REGENCIES, write_regencies  # noqa: E402


def descendants_mb(field: str = "VmRSS:", me: bool = False) -> float:
    """The summed RSS of this process's descendants now, in MB (Spark's JVM and Python
    workers; the exports running together); `field` RssAnon: their anonymous memory only
    (not the pages of files they map); `me`: this process's too."""
    parents: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    total, todo = 0.0, [*parents.get(os.getpid(), []), *([os.getpid()] if me else [])]
    while todo:
        pid = todo.pop()
        todo += parents.get(pid, [])
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            total += sum(int(x.split()[1]) for x in status if x.startswith(field)) / 1024
        except OSError:
            pass
    return total


COMBINE = (
    PEAK
    + """
import json, os, sys, threading, time
from dataclasses import asdict
from pathlib import Path
"""
    + inspect.getsource(descendants_mb)
    + """
child, anon = [0.0], [0.0]
def sample():
    while True:
        child[0] = max(child[0], descendants_mb())
        anon[0] = max(anon[0], descendants_mb("RssAnon:", me=True))
        time.sleep(0.5)
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
from dp4kit.regions.combine import combine
result = combine([Path(p) for p in sys.argv[5:]], Path(sys.argv[1]), excel=False,
                 memory_limit=sys.argv[2] or None, spark_master=sys.argv[3] or None,
                 fuzzy=sys.argv[4] == "fuzzy")
print(json.dumps({"total": time.perf_counter() - t0, "peak": peak_mb(), "child_peak": child[0],
                  "anon_peak": anon[0],
                  "counts": asdict(result.manifest.counts),
                  "findings": result.findings.groupby("kind").size().to_dict(),
                  "k3": result.manifest.k3.across_regencies}), file=sys.stderr)
"""
)

SINGLE = (
    PEAK
    + """
import datetime as dt, json, os, sys, threading, time
from dataclasses import asdict
from pathlib import Path
"""
    + inspect.getsource(descendants_mb)
    + """
anon = [0.0]
def sample():  # anonymous memory: RSS less the pages of files it maps (the people file)
    while True:
        anon[0] = max(anon[0], descendants_mb("RssAnon:", me=True))
        time.sleep(0.5)
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
from dp4kit.config import Settings
from dp4kit.export.whole import export
marks, last = [], [t0]
def on_stage(name):
    now = time.perf_counter(); marks.append((name, now - last[0], peak_mb())); last[0] = now
options = Settings(election_date=dt.date(2024, 11, 27), excel=False, memory_limit=sys.argv[2])
result = export(sys.argv[3:], sys.argv[1], options, on_stage)
print(json.dumps({"stages": marks, "total": time.perf_counter() - t0, "peak": peak_mb(),
                  "anon_peak": anon[0], "counts": asdict(result.manifest.counts)}), file=sys.stderr)
"""
)

PLAIN_ACROSS = (
    PEAK
    + """
import json, sys, time
import pyarrow as pa, pyarrow.compute as pc, pyarrow.dataset as ds
t0 = time.perf_counter()
nik = pa.concat_arrays([c for p in sys.argv[1:] for c in
                        ds.dataset(p, partitioning="hive").to_table(columns=["NIK"])
                        ["NIK"].chunks])
counts = pa.table({"nik": nik}).group_by("nik").aggregate([("nik", "count")])
twice = pc.sum(pc.greater(counts["nik_count"], 1)).as_py() or 0
print(json.dumps({"total": time.perf_counter() - t0, "peak": peak_mb(), "niks_twice": twice}),
      file=sys.stderr)
"""
)


class TotalRss:
    """Samples the summed RSS of this process's descendants (the exports running together)
    every 0.2 s, until stopped; returns the largest sum in MB."""

    def __init__(self):
        self.peak, self.running = 0.0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, descendants_mb())
            time.sleep(0.2)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak


def measure(size: int, regency_rows: int, limit: str, data_dir: Path, plain: bool,
            spark: bool, jobs: int = 1) -> dict:  # fmt: skip
    regencies = min(len(REGENCIES), max(2, math.ceil(size / regency_rows)))
    root = data_dir / f"scale_{size}_{regencies}"
    t = time.perf_counter()
    paths = write_regencies(root, size, regencies)
    print(f"{size:,} rows: {regencies} regencies ready in {time.perf_counter() - t:.0f} s")
    runs = [str(path.with_suffix("")) for path in paths]
    # the largest regencies first, `jobs` at a time; the peak is of all exports together
    largest = sorted(range(len(paths)), key=lambda i: -paths[i].stat().st_size)
    started, sampler = time.perf_counter(), TotalRss()
    with ThreadPoolExecutor(jobs) as pool:
        outcomes = pool.map(lambda i: run(DP4KIT, str(paths[i]), runs[i], "0", "0"), largest)
        done = dict(zip(largest, outcomes, strict=True))
    exports = [done[i] for i in range(len(paths))]
    export_wall, export_peak = time.perf_counter() - started, sampler.stop()
    mine = run(COMBINE, str(root / "prov"), limit, "", "exact", *runs)
    result = {
        "rows": sum(e["counts"]["input_rows"] for e in exports),
        "regencies": regencies,
        "jobs": jobs,
        "export": {"total": export_wall, "cpu_sum": sum(e["total"] for e in exports),
                   "peak": max(export_peak, max(s[2] for e in exports for s in e["stages"]))},
        "combine": {k: mine[k] for k in ("total", "peak", "findings")},
        "voters": mine["counts"]["dp4"],
    }  # fmt: skip
    if spark:
        on_spark = run(COMBINE, str(root / "prov_spark"), limit, "local[*]", "exact", *runs)
        assert on_spark["counts"] == mine["counts"], "Spark and local engines differ"
        result["spark"] = {k: on_spark[k] for k in ("total", "peak", "child_peak")}
    if plain:
        result["plain"] = plain_path(root, paths)
    return result


def plain_path(root: Path, paths: list[Path]) -> dict:
    """bench_export's plain pipeline per regency, then the NIKs on two lists counted."""
    wilayah = str(Path(__file__).parents[1] / "src/dp4kit/reference/wilayah.parquet")
    steps = [run(PLAIN_EXPORT, str(p), str(root / f"plain_{p.stem}"), wilayah) for p in paths]
    across = run(PLAIN_ACROSS, *[str(root / f"plain_{p.stem}") for p in paths])
    return {
        "export": {"total": sum(s["total"] for s in steps),
                   "peak": max(m[2] for s in steps for m in s["stages"])},
        "across": {"total": across["total"], "peak": across["peak"]},
    }  # fmt: skip


def measure_combine(size: int, regency_rows: int, limit: str, data_dir: Path) -> dict:
    """`combine` alone, on the runs a full measure left in data_dir: with K3's model across
    regencies (`--fuzzy`) and without (the default); its peak and its workers' summed."""
    regencies = min(len(REGENCIES), max(2, math.ceil(size / regency_rows)))
    root = data_dir / f"scale_{size}_{regencies}"
    runs = [str(path.with_suffix("")) for path in write_regencies(root, size, regencies)]
    if not all((Path(r) / "manifest.json").exists() for r in runs):
        raise SystemExit(f"{root}: run a full measure with --data-dir first")
    out = {}
    for how in ("fuzzy", "exact"):
        step = run(COMBINE, str(root / f"prov_{how}"), limit, "", how, *runs)
        out[how] = {k: step[k] for k in ("total", "peak", "child_peak", "anon_peak", "findings",
                                         "k3")}  # fmt: skip
        out["voters"] = step["counts"]["dp4"]
    return {"rows": size, "regencies": regencies, **out}


def measure_single(size: int, regency_rows: int, limit: str, data_dir: Path,
                   plain: bool) -> dict:  # fmt: skip
    """The province's regency files as ONE export with `--memory-limit` (a kab/kota at a
    time, the in-memory export's files), its stages and peak; beside it the plain path
    (bench_export's plain pipeline per regency, then the NIKs on two lists)."""
    regencies = min(len(REGENCIES), max(2, math.ceil(size / regency_rows)))
    root = data_dir / f"scale_{size}_{regencies}"
    paths = write_regencies(root, size, regencies)
    out = root / "single"
    mine = run(SINGLE, str(out), limit, *map(str, paths))
    shutil.rmtree(out, ignore_errors=True)  # several GB: the figures are what counts
    result = {"rows": mine["counts"]["input_rows"], "regencies": regencies, "limit": limit,
              "single": mine}  # fmt: skip
    if plain:
        p = plain_path(root, paths)
        result["plain"] = {"total": p["export"]["total"] + p["across"]["total"],
                           "peak": max(p["export"]["peak"], p["across"]["peak"])}  # fmt: skip
    rows = result["rows"]
    print(f"\n{rows:,} rows, {regencies} regencies, one export --memory-limit {limit}")
    for name, seconds, peak in mine["stages"]:
        print(f"  {name:<12}{seconds:>9.1f} s{peak:>9,.0f} MB")
    print(f"  {'total':<12}{mine['total']:>9.1f} s{mine['peak']:>9,.0f} MB  "
          f"{rows / mine['total']:,.0f} rows/s; anonymous memory at most "
          f"{mine['anon_peak']:,.0f} MB")  # fmt: skip
    if plain:
        p = result["plain"]
        print(f"  {'plain path':<12}{p['total']:>9.1f} s{p['peak']:>9,.0f} MB  "
              f"{rows / p['total']:,.0f} rows/s")  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    parser.add_argument("--regency-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--memory-limit", default="4G", help="combine's (with --single: export's) --memory-limit"
    )
    parser.add_argument("--data-dir", help="keep the generated inputs and runs here")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain pipeline")
    parser.add_argument("--spark", action="store_true", help="also combine on Spark local[*]")
    parser.add_argument("--jobs", type=int, default=1, help="regency exports run at a time")
    parser.add_argument("--combine-only", action="store_true",
                        help="time combine alone on the runs kept in --data-dir, with and "
                        "without K3's model across regencies")  # fmt: skip
    parser.add_argument("--single", action="store_true",
                        help="each size's regency files as one export --memory-limit (a "
                        "kab/kota at a time) instead of regency exports and combine")  # fmt: skip
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.single:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(args.data_dir or tmp)
            for size in sizes:
                found = measure_single(size, args.regency_rows, args.memory_limit, folder,
                                       not args.no_plain)  # fmt: skip
                print(json.dumps(found))
        return
    if args.combine_only:
        for size in sizes:
            print(json.dumps(measure_combine(size, args.regency_rows, args.memory_limit,
                                             Path(args.data_dir))))  # fmt: skip
        return
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(args.data_dir or tmp)
        results = []
        for size in sizes:
            results.append(measure(size, args.regency_rows, args.memory_limit, data_dir,
                                   not args.no_plain, args.spark, args.jobs))  # fmt: skip
            print(json.dumps(results[-1]))
    print(
        f"\ncombine --memory-limit {args.memory_limit}; exports {args.jobs} at a time "
        "(their peak: of all running together)"
    )
    head = f"{'rows':>11} {'reg':>4} {'step':<16} {'wall s':>8} {'rows/s':>10} {'peak MB':>9}"
    print(head)
    for r in results:
        steps = [("regency exports", r["export"]), ("combine", r["combine"])]
        whole = {"total": r["export"]["total"] + r["combine"]["total"],
                 "peak": max(r["export"]["peak"], r["combine"]["peak"])}  # fmt: skip
        steps.append(("whole path", whole))
        if "spark" in r:  # the driver's peak; the JVM's is printed below
            steps.append(("combine (Spark)", r["spark"]))
        if "plain" in r:
            p = r["plain"]
            steps += [("plain exports", p["export"]), ("plain across", p["across"]),
                      ("plain path", {"total": p["export"]["total"] + p["across"]["total"],
                                      "peak": max(p["export"]["peak"], p["across"]["peak"])})]  # fmt: skip
        for name, step in steps:
            print(f"{r['rows']:>11,} {r['regencies']:>4} {name:<16} {step['total']:8.1f} "
                  f"{r['rows'] / step['total']:10,.0f} {step['peak']:9,.0f}")  # fmt: skip
        if "spark" in r:
            print(
                f"{'':>17}Spark's JVM and workers: largest peak {r['spark']['child_peak']:,.0f} MB"
            )


if __name__ == "__main__":
    main()
