"""K3 by partitions against K3 over everyone at once: time, peak memory, and proof that the
pairs, probabilities, reasons, model and figures are identical.

Usage: python benchmarks/bench_k3_partitions.py [--rows 1000000] [--partitions 4,16]
                                                [--seed 5] [--febrl DIR] [--people FILE]
                                                [--jobs N]

The people come from the generator (`dp4kit sample`, with K3 variations, twins and namesakes)
or, with --febrl, from the public FEBRL sets (FEBRL1, 2 and 4, as bench_dedup.py maps them),
or from --people, a Parquet file of people as `dp4.person_table` gives them (to reuse one).
Each variant runs in a process of its own, so its peak RSS is its own; "K3 memory" is the peak
less the RSS once the people table is loaded. With --jobs N the partitions run N at a time in
worker processes: their summed anonymous memory (RssAnon) is sampled every 0.2 s and added.
Their RSS would also count the pages of the memory-mapped people file each worker touched,
which the page cache holds once for all (about 0.4 GB per million people). The baseline is `link`, the in-memory K3 that
`dp4kit export` runs (a plain-library pipeline does not give these pairs: see bench_dedup.py
for Splink on the same data).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

AS_OF = dt.date(2024, 11, 27)


def status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB. VmHWM belongs to the process's own
    memory, where ru_maxrss can carry the parent's peak across fork and exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class WorkersAnon:
    """The largest summed RssAnon of this process's children, sampled every 0.2 s."""

    def __init__(self) -> None:
        self.peak, self.running = 0.0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        me = str(os.getpid())
        while self.running:
            total = 0.0
            for entry in filter(str.isdigit, os.listdir("/proc")):
                try:
                    status = Path(f"/proc/{entry}/status").read_text()
                    if f"\nPPid:\t{me}\n" in status:
                        total += int(status.split("RssAnon:")[1].split()[0]) / 1024
                except (OSError, IndexError, ValueError):
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak


def child(people_path: str, partitions: int, jobs: int) -> None:
    """Run one variant and print its figures and a digest of everything it found."""
    from dp4kit.dedup.k3_partitions import link_partitioned
    from dp4kit.dedup.linkage import link

    people = pq.read_table(people_path)
    loaded = status_mb("VmRSS")
    workers = WorkersAnon()
    started = time.perf_counter()
    found = link(people) if partitions == 0 else link_partitioned(people, partitions, jobs=jobs)
    seconds = time.perf_counter() - started
    peak = status_mb("VmHWM") + workers.stop()
    digest = hashlib.sha256()
    for array in (found.left, found.right, found.probability,
                  *(found.weights[k] for k in sorted(found.weights))):  # fmt: skip
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update("\n".join(found.reason.tolist()).encode())
    digest.update(json.dumps([found.model.to_dict(), found.blocking, found.compared,
                              found.strings_compared, found.model_source]).encode())  # fmt: skip
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "loaded_mb": loaded,
                      "pairs": len(found.left), "compared": found.compared,
                      "sha256": digest.hexdigest()}))  # fmt: skip


def generated_people(rows: int, seed: int, folder: Path) -> Path:
    from dp4kit.dp4 import person_table
    from dp4kit.io.profiles import read_canonical
    from dp4kit.sample.siak import write_sample

    path = folder / "siak.csv"
    write_sample(path, rows=rows, seed=seed, duplicate_share=0.04)
    data = read_canonical([path], as_of=AS_OF)
    out = folder / "people.parquet"
    pq.write_table(person_table(data.table, np.arange(len(data.table))), out)
    return out


def febrl_sets(folder: Path, out: Path) -> list[tuple[str, Path]]:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_dedup import febrl_people

    sets = []
    for label, files in (("FEBRL1", ["dataset1.csv"]), ("FEBRL2", ["dataset2.csv"]),
                         ("FEBRL4", ["dataset4a.csv", "dataset4b.csv"])):  # fmt: skip
        people, _ = febrl_people([folder / f for f in files])
        path = out / f"{label}.parquet"
        pq.write_table(people, path)
        sets.append((label, path))
    return sets


def run(label: str, people: Path, partitions: list[int], jobs: int) -> None:
    rows = pq.read_metadata(people).num_rows
    print(f"\n{label}: {rows:,} people")
    print(f"{'K3':<22}{'seconds':>9}{'people/s':>11}{'peak RSS':>10}{'K3 memory':>11}  output")
    reference = None
    for p in [0, *partitions]:
        done = subprocess.run([sys.executable, __file__, "--child", str(people), str(p),
                               str(jobs)], check=True, capture_output=True, text=True)  # fmt: skip
        r = json.loads(done.stdout.strip().splitlines()[-1])
        reference = reference or r["sha256"]
        same = "the reference" if p == 0 else (
            "identical" if r["sha256"] == reference else "DIFFERENT")  # fmt: skip
        name = "link (in memory)" if p == 0 else f"{p} partitions" + (
            f", {jobs} jobs" if jobs > 1 else "")  # fmt: skip
        print(f"{name:<22}{r['seconds']:>9.1f}{rows / r['seconds']:>11,.0f}"
              f"{r['peak_mb']:>8,.0f}MB{r['peak_mb'] - r['loaded_mb']:>9,.0f}MB  "
              f"{r['pairs']:,} pairs of {r['compared']:,}, {same}")  # fmt: skip
        if same == "DIFFERENT":
            sys.exit(1)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", default="4,16")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--febrl", help="folder with FEBRL's dataset*.csv (instead of rows)")
    parser.add_argument("--people", help="a people Parquet file (instead of rows)")
    parser.add_argument("--jobs", type=int, default=1, help="partitions run at once")
    args = parser.parse_args()
    partitions = [int(p) for p in args.partitions.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        if args.people:
            run(args.people, Path(args.people), partitions, args.jobs)
        elif args.febrl:
            for label, path in febrl_sets(Path(args.febrl), Path(tmp)):
                run(label, path, partitions, args.jobs)
        else:
            run(f"generator, seed {args.seed}", generated_people(args.rows, args.seed,
                Path(tmp)), partitions, args.jobs)  # fmt: skip


if __name__ == "__main__":
    main()
