"""Benchmark `dp4kit combine` beside a hand-written plain pyarrow/pandas pipeline.

Generates one SIAK export per regency (each with its own seed and NIKs), plants people on two
regencies' lists (a move: the same person; and a NIK given to another person), exports each
regency (`--no-excel`), then times, each in its own process with its peak RSS:

- `dp4kit combine` (verify every run, NIKs across runs, K3 by its model across runs, parts,
  audit files, DAK2, manifest), and `--no-fuzzy` (K3 by the person key only);
- the plain pipeline: read every run's dp4/ as one dataset, `duplicated("nik")`, drop the
  repeats, write the dataset (no verification, no K1/K2, no audit files, no DAK2, no manifest).

With `--febrl [DIR]` it also measures the cross-regency K3 (the exact rule: the same
normalised name, birth date and sex under two NIKs; and K3's model between the runs) on
public data this project did not make: FEBRL4's two files (5,000 people each, 5,000 true
pairs with typos and missing values) as two regencies. The planted K3 copies are scored
against the generator's truth file (`sample/regions.planted_truth`).

Usage: python benchmarks/bench_combine.py [--rows 1000000] [--regencies 4] [--data-dir DIR]
       [--memory-limit SIZE] [--febrl [DIR]]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from bench_export import PEAK, run  # noqa: E402
from bench_scale import COMBINE  # noqa: E402

from dp4kit.sample.regions import MOVED_SHARE, planted_truth, write_regencies  # noqa: E402

PLAIN = (
    PEAK
    + """
import json, sys, time
import pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq
t0 = time.perf_counter()
tables = [ds.dataset(p + "/dp4", partitioning="hive").to_table() for p in sys.argv[2:]]
frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
frame = frame[~frame.duplicated("nik", keep="first")]
pq.write_to_dataset(pa.Table.from_pandas(frame, preserve_index=False), sys.argv[1],
                    partition_cols=["kode_kabkota", "kode_kecamatan"])
print(json.dumps({"total": time.perf_counter() - t0, "peak": peak_mb(), "dp4": len(frame)}),
      file=sys.stderr)
"""
)


def febrl_k3(folder: str | None, tmp: Path) -> dict:
    """Precision and recall of combine's K3 key on FEBRL4 (4a and 4b as two regencies)."""
    import numpy as np
    import pyarrow as pa
    from bench_dedup import febrl_dir, febrl_people

    from dp4kit.dedup.k3_partitions import link_partitioned
    from dp4kit.regions.cross_regency import person_keys

    base = febrl_dir(folder, tmp)
    sizes = [len(pd.read_csv(base / f, dtype=str)) for f in ("dataset4a.csv", "dataset4b.csv")]
    people, true = febrl_people([base / "dataset4a.csv", base / "dataset4b.csv"])
    table = pa.table({"nama": people["nama"], "tanggal_lahir": people["tanggal_lahir"],
                      "jenis_kelamin": people["jenis_kelamin"]})  # fmt: skip
    key = pd.Series(person_keys(table))
    known = (people["nama"].is_valid().to_numpy(zero_copy_only=False)
             & people["tanggal_lahir"].is_valid().to_numpy(zero_copy_only=False))  # fmt: skip
    side = np.r_[np.zeros(sizes[0], int), np.ones(sizes[1], int)]
    frame = pd.DataFrame({"key": key, "pos": np.arange(len(key)), "side": side})[known]
    pairs = frame[frame.side == 0].merge(frame[frame.side == 1], on="key")
    exact = set(zip(pairs["pos_x"], pairs["pos_y"], strict=True))
    cross = {(a, b) for a, b in true if side[a] != side[b]}
    # combine's K3 model across runs: only pairs of the two files compared, the model
    # trained on them by EM, pairs at K3's review probability (nothing set by hand)
    linked = link_partitioned(people, 2, apart=side)
    model = set(zip(linked.left.tolist(), linked.right.tolist(), strict=True))

    def quality(found: set) -> dict:
        hits = len(found & cross)
        return {"pairs_found": len(found), "true_pairs": len(cross),
                "precision": round(hits / len(found), 3) if found else 0.0,
                "recall": round(hits / len(cross), 3)}  # fmt: skip

    return {"exact rule (--no-fuzzy)": quality(exact), "K3's model (default)": quality(model),
            "exact rule and K3's model": quality(exact | model),
            "model's pairs compared": int(linked.compared)}  # fmt: skip


def planted_k3(out: Path, truth: pd.DataFrame) -> dict:
    """Precision and recall of combine's K3 groups across regencies against the people
    `write_regencies` planted under a new NIK (its truth file), counting only the planted
    people whose two rows are both on the combined lists (validation, eligibility and each
    regency's own dedup take some off); recall per variation too."""
    d = pd.read_parquet(out / "duplicates.parquet", columns=["kind", "group_id", "nik",
                                                              "kabkota_lain"])  # fmt: skip
    k3 = d[(d["kind"] == "K3") & d["kabkota_lain"].notna()]
    group = dict(zip(k3["nik"], k3["group_id"], strict=True))
    listed = set(pq.read_table(out / "dp4", columns=["nik"])["nik"].to_pylist())
    pairs = truth[(truth["jenis"] == "K3") & truth["nik"].isin(listed)
                  & truth["nik_asal"].isin(listed)].copy()  # fmt: skip
    pairs["found"] = [group.get(a, "a") == group.get(b, "b")
                      for a, b in zip(pairs["nik"], pairs["nik_asal"], strict=True)]  # fmt: skip
    true = {group[a] for a, hit in zip(pairs["nik"], pairs["found"], strict=True) if hit}
    by_variant = pairs.groupby(pairs["varian"].replace("", "sama"))["found"].mean().round(3)
    return {"groups": k3["group_id"].nunique(), "true_groups": len(true),
            "precision": round(len(true) / k3["group_id"].nunique(), 3) if len(k3) else 0.0,
            "planted_on_lists": len(pairs), "found": int(pairs["found"].sum()),
            "recall": round(pairs["found"].mean(), 3) if len(pairs) else 0.0,
            "recall_by_variation": by_variant.to_dict()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--regencies", type=int, default=4)
    parser.add_argument("--data-dir", help="keep the generated inputs and runs here")
    parser.add_argument(
        "--febrl",
        nargs="?",
        const="",
        default=None,
        help="also measure the K3 key on FEBRL4 (a folder, or download)",
    )
    parser.add_argument("--memory-limit", help="combine's --memory-limit (e.g. 300M)")
    args = parser.parse_args()
    if args.febrl is not None:
        with tempfile.TemporaryDirectory() as tmp:
            print(
                f"FEBRL4 as two regencies, combine's K3 key: {febrl_k3(args.febrl or None, Path(tmp))}"
            )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data_dir or tmp) / f"combine_{args.rows}_{args.regencies}"
        root.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        paths = write_regencies(root, args.rows, args.regencies)
        print(f"inputs: {len(paths)} regencies in {time.perf_counter() - t:.0f} s")
        runs = []
        for path in paths:
            out = path.with_suffix("")
            if not (out / "manifest.json").exists():
                cmd = [sys.executable, "-m", "dp4kit", "export", str(path), "--out", str(out),
                       "--election-date", "2024-11-27", "--no-excel"]  # fmt: skip
                subprocess.run(cmd, capture_output=True, check=False)
            runs.append(str(out))
        mine = run(COMBINE, str(root / "prov"), args.memory_limit or "", "", "exact", *runs)
        fuzzy = run(COMBINE, str(root / "prov_k3"), args.memory_limit or "", "", "fuzzy", *runs)
        plain = run(PLAIN, str(root / "plain"), *runs)
        voters = sum(json.loads((Path(r) / "manifest.json").read_text())["counts"]["dp4"]
                     for r in runs)  # fmt: skip
        print(f"\n{len(runs)} runs, {voters:,} voters on their lists")
        print(f"{'step':<16} {'wall s':>8} {'voters/s':>12} {'peak RSS MB':>12}")
        steps = (("dp4kit combine", mine), ("with K3", fuzzy), ("plain", plain))
        for name, step in steps:
            rate = voters / step["total"]
            print(f"{name:<16} {step['total']:8.2f} {rate:12,.0f} {step['peak']:12,.0f}")
        planted = max(10, int(args.rows // args.regencies * MOVED_SHARE)) * len(runs)
        print(f"memory limit: {args.memory_limit or 'default (half the machine)'}")
        print(
            f"planted per kind: {planted:,} people on two lists (before validation and "
            f"eligibility); found rows: {mine['findings']}; counts: {mine['counts']}"
        )
        print(
            f"with K3 across runs: found rows {fuzzy['findings']}; K3: {fuzzy['k3']}; "
            f"time {fuzzy['total'] / mine['total']:.2f}x the exact-key combine"
        )
        truth = planted_truth(root)
        for name, out in (("person key", root / "prov"), ("K3's model", root / "prov_k3")):
            print(f"planted K3 copies, {name}: {planted_k3(out, truth)}")
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "voters": voters,
                    "combine": mine,
                    "fuzzy": fuzzy,
                    "plain": plain,
                }
            )
        )


if __name__ == "__main__":
    main()
