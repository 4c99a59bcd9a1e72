"""A synthetic province: one SIAK export per regency (each with its own seed and NIK serials,
so no NIK is drawn twice by chance), with people planted on two regencies' lists, for the
tests and benchmarks of `combine` and of the partitioned pipeline (extra `[sample]`)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from dp4kit.sample.siak import write_sample
from dp4kit.sample.values import k3_variants

# Jawa Barat's 27 kabupaten and kota (the first eight in the order the benchmarks began with)
REGENCIES = ["32.04", "32.73", "32.01", "32.02", "32.03", "32.05", "32.06", "32.07",
             *(f"32.{k:02d}" for k in range(8, 19)), "32.71", "32.72",
             *(f"32.{k}" for k in range(74, 80))]  # fmt: skip
# NIK serials of regency i start after SERIAL_STEP * i: below 9000 (the generator's K3 serials)
SERIAL_STEP = 9000 // len(REGENCIES)
# Share of each regency's rows also on the next regency's list (and as many NIKs reused)
MOVED_SHARE = 0.002
# the variations a person registered again in another regency is planted with
CHANGED = ("ejaan", "salah_ketik", "urutan", "gelar", "tanggal", "tempat")
TRUTH = "lintas.truth.csv"  # what was planted across regencies
TRUTH_COLUMNS = ("jenis", "nik", "kabkota", "nik_asal", "kabkota_asal", "varian")
HOME = ["NO_KK", "ALAMAT", "NO_RT", "NO_RW", "NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL"]


def write_regencies(folder: Path, rows: int, regencies: int, seed: int = 100,
                    moved_share: float = MOVED_SHARE,
                    workers: int | None = None) -> list[Path]:  # fmt: skip
    """One CSV per regency (`rows` in all; kept if already there). Of each regency's adults
    (`moved_share` of its rows each), on the next regency's list: some under their own NIK at
    an address there (K1), some NIKs reused by another person there (K2), and some under a
    new NIK of that regency (K3). `workers`: processes generating regencies (default: cores).
    What was planted is in `TRUTH` beside them (`planted_truth`)."""
    if not 1 <= regencies <= len(REGENCIES):
        raise ValueError(f"regencies: 1 to {len(REGENCIES)}")
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"siak_{code.replace('.', '')}.csv" for code in REGENCIES[:regencies]]
    if all(p.exists() for p in [*paths, folder / TRUTH]):
        return paths
    with ProcessPoolExecutor(workers) as pool:  # one regency per process: all cores
        jobs = [pool.submit(write_sample, path, rows=rows // regencies, seed=seed + i,
                            kabkota=REGENCIES[i], nik_serial_base=SERIAL_STEP * i)
                for i, path in enumerate(paths)]  # fmt: skip
        for job in jobs:
            job.result()
    truth = [pd.DataFrame(columns=list(TRUTH_COLUMNS))]
    if regencies > 1:  # two regencies in memory at a time: regency i's people into i + 1's
        count = max(10, int(rows // regencies * moved_share))
        first = source = _read(paths[0])
        for i in range(regencies):
            target = first if i == regencies - 1 else _read(paths[i + 1])
            planted, known = _planted(source, target, count)
            there = REGENCIES[(i + 1) % regencies]
            truth.append(
                known.assign(kabkota=there, kabkota_asal=REGENCIES[i])[list(TRUTH_COLUMNS)]
            )
            target = pd.concat([target, *planted], ignore_index=True)
            target.to_csv(paths[(i + 1) % regencies], index=False)
            source = target
    pd.concat(truth, ignore_index=True).to_csv(folder / TRUTH, index=False)
    return paths


def planted_truth(folder: Path) -> pd.DataFrame:
    """What `write_regencies` planted in `folder`: per planted row its kind (K1 moved, K2 a
    NIK reused by another person, K3 a new NIK), its NIK and kab/kota, the NIK and kab/kota of
    the person it copies (K1, K3) or whose NIK it took (K2), and the variation (K3)."""
    return pd.read_csv(folder / TRUTH, dtype=str, keep_default_na=False)


def _adults(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame["TGL_LHR"].str[-4:].astype(int) < 1995) & (frame["FLAG_STATUS"] == "0")]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _planted(frame: pd.DataFrame, there: pd.DataFrame,
             count: int) -> tuple[list[pd.DataFrame], pd.DataFrame]:  # fmt: skip
    """Rows for `there` from `frame`'s adults: moved (K1), a NIK reused (K2), a new NIK (K3);
    and what they are (kind, NIK, the original's NIK, variation)."""
    adults = _adults(frame)
    moved = adults.iloc[:count].copy()
    moved[HOME] = there[HOME].iloc[: len(moved)].to_numpy()
    head = there.iloc[: len(there) // 2]  # the generator puts its invalid rows last
    other = head[head["TGL_LHR"].str[-4:].astype(int) < 1995].iloc[:count].copy()
    donors = adults.iloc[count : count + len(other)]
    for column in ("NIK", "TGL_LHR", "JENIS_KLMIN"):
        other[column] = donors[column].to_numpy()
    twice = adults.iloc[2 * count : 3 * count].copy()
    original = twice["NIK"].to_numpy()
    twice[HOME] = there[HOME].iloc[: len(twice)].to_numpy()
    prefix = there["NIK"].str[:6].iloc[: len(twice)].to_numpy()
    serial = pd.Series(range(len(twice))).mod(1000).add(9000).astype(str).to_numpy()
    twice["NIK"] = prefix + twice["NIK"].str[6:12].to_numpy() + serial
    # every other one registered again with a variation (a spelling, a typo, a swapped
    # date, …): only K3's model finds those across regencies
    at = np.arange(len(twice))
    variant = np.where(at % 2 == 1, np.array(CHANGED, object)[at // 2 % len(CHANGED)], "")
    values = {c: twice[c].to_numpy(dtype=object) for c in twice.columns}
    k3_variants(values, variant, values, np.arange(1), np.random.default_rng(len(twice)))
    rows = [moved, other, twice.assign(**values)]
    known = pd.DataFrame({
        "jenis": np.repeat(["K1", "K2", "K3"], [len(moved), len(other), len(twice)]),
        "nik": np.concatenate([r["NIK"].to_numpy() for r in rows]),
        "nik_asal": np.concatenate([moved["NIK"].to_numpy(), donors["NIK"].to_numpy(), original]),
        "varian": np.r_[np.full(len(moved) + len(other), ""), variant],
    })  # fmt: skip
    return rows, known
