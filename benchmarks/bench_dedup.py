"""Dedup quality: precision/recall per duplicate kind on generated data, beside Splink.

Usage: python benchmarks/bench_dedup.py [--rows 100000] [--seed 11] [--no-splink]

Generates a SIAK export with `dp4kit sample` (known D/K1/K2/K3 duplicates and twins), runs
`dp4kit`'s dedup (through build_dp4, as export does) and scores it pair by pair against the
generator's truth. Twins (KEMBAR) are negatives: a pair of twins reported as K3 counts as a
false positive. Then runs Splink (DuckDB backend) on the same valid rows for the K3 question
(same person, different NIK) and prints both F1 scores and times.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pv

AS_OF = dt.date(2024, 11, 27)


def truth_pairs(truth: pd.DataFrame, kind: str) -> set[tuple[int, int]]:
    """Row-number pairs the generator made of one kind (original + copy, or twin + twin)."""
    rows = truth[truth["jenis_duplikat"] == kind]
    out = set()
    for _, group in rows.groupby("kelompok"):
        out |= {tuple(sorted(p)) for p in itertools.combinations(group["baris"].tolist(), 2)}
    return out


def found_pairs(dups: pd.DataFrame, kind: str) -> set[tuple[int, int]]:
    rows = dups[dups["kind"] == kind]
    out = set()
    for _, group in rows.groupby("group_id"):
        out |= {tuple(sorted(p)) for p in itertools.combinations(group["sumber_baris"].tolist(), 2)}
    return out


def scores(found: set, true: set) -> dict:
    tp = len(found & true)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "found": len(found),
        "true": len(true),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def run_dp4kit(path: Path) -> tuple[pd.DataFrame, float, object]:
    from dp4kit.dp4 import build_dp4
    from dp4kit.io.profiles import read_canonical
    from dp4kit.pipeline import validate_canonical

    data = read_canonical([path], as_of=AS_OF)
    report = validate_canonical(data, AS_OF)
    tables = build_dp4(data, report, AS_OF)
    elapsed = tables.stages["dedup_exact"] + tables.stages["dedup_fuzzy"]
    return tables.duplicates, elapsed, (data, report)


def run_splink(data, report) -> tuple[set[tuple[int, int]], float]:
    """Splink 5 on DuckDB: same-person links among valid rows with different NIKs."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from dp4kit.dp4 import person_table

    positions = np.flatnonzero(~report.error_mask)
    people = person_table(data.table, positions).to_pandas()
    frame = pd.DataFrame(
        {
            "unique_id": data.table["sumber_baris"].to_numpy()[positions].astype("int64"),
            "nik": people["nik"].astype(str),
            "nama": people["nama_norm"].astype(str),
            "tanggal_lahir": people["tanggal_lahir"].astype(str),
            "tempat_lahir": people["tempat_lahir_norm"].astype(str),
            "nkk": people["nkk"].astype(str),
            "jenis_kelamin": people["jenis_kelamin"].astype(str),
        }
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("tanggal_lahir", "substr(nama, 1, 1)"),
            block_on("nkk", "substr(nama, 1, 1)"),
        ],
        comparisons=[
            cl.JaroWinklerAtThresholds("nama", [0.95, 0.88]),
            cl.DateOfBirthComparison("tanggal_lahir", input_is_string=True),
            cl.ExactMatch("tempat_lahir"),
            cl.ExactMatch("nkk"),
            cl.ExactMatch("jenis_kelamin"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    t = time.perf_counter()
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(frame, dataset_display_name="siak"), settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("nama", "tanggal_lahir")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("tanggal_lahir"))
    predictions = linker.inference.predict(threshold_match_probability=0.9).as_pandas_dataframe()
    elapsed = time.perf_counter() - t
    predictions = (
        predictions[predictions["nik_l"] != predictions["nik_r"]]
        if "nik_l" in predictions
        else predictions
    )
    nik = dict(zip(frame["unique_id"], frame["nik"], strict=True))
    pairs = {
        tuple(sorted((int(a), int(b))))
        for a, b in zip(predictions["unique_id_l"], predictions["unique_id_r"], strict=True)
        if nik[a] != nik[b]
    }
    return pairs, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-splink", action="store_true")
    args = parser.parse_args()

    from dp4kit.sample import write_sample

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "siak.csv"
        write_sample(path, rows=args.rows, seed=args.seed, invalid_share=0.02, duplicate_share=0.04)
        truth = pv.read_csv(path.with_name("siak.truth.csv")).to_pandas()
        dups, elapsed, (data, report) = run_dp4kit(path)
    print(
        f"{args.rows:,} rows, seed {args.seed}; dp4kit dedup stages (exact + fuzzy) {elapsed:.2f} s"
    )
    print(f"{'kind':<6}{'true':>7}{'found':>7}{'precision':>11}{'recall':>8}{'F1':>7}")
    twins = truth_pairs(truth, "KEMBAR")
    results = {}
    for kind in ("D", "K1", "K2", "K3"):
        true = truth_pairs(truth, kind)
        found = found_pairs(dups, kind)
        if kind in ("D", "K1"):  # the generator's D/K1 copies may be found as either kind
            true = truth_pairs(truth, "D") | truth_pairs(truth, "K1")
            found = found_pairs(dups, "D") | found_pairs(dups, "K1")
        results[kind] = r = scores(found, true)
        print(
            f"{kind:<6}{r['true']:>7}{r['found']:>7}{r['precision']:>11.3f}{r['recall']:>8.3f}{r['f1']:>7.3f}"
        )
    k3_found = found_pairs(dups, "K3")
    print(f"twins reported as K3: {len(k3_found & twins)} of {len(twins)} twin pairs")
    if not args.no_splink:
        pairs, splink_time = run_splink(data, report)
        s = scores(pairs, truth_pairs(truth, "K3"))
        print(
            f"Splink K3: found {s['found']}, precision {s['precision']:.3f}, recall {s['recall']:.3f}, "
            f"F1 {s['f1']:.3f}, {splink_time:.2f} s; twins linked: {len(pairs & twins)}"
        )
        k3 = results["K3"]
        print(
            f"dp4kit K3 F1 {k3['f1']:.3f} in {elapsed:.2f} s (exact + fuzzy) vs Splink F1 {s['f1']:.3f} "
            f"in {splink_time:.2f} s: {splink_time / elapsed:.1f}x"
        )


if __name__ == "__main__":
    main()
