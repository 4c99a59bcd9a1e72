"""DAK2 and population aggregates: per kecamatan (with empty ones), rolled up, with invariants.

Counts are over valid, unique, active residents (the population the DP4 is drawn from), by
address region. `pemilih` = on the DP4 list; `wajib KTP` = 17 or older, or ever married.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dp4kit.errors import AccountingError, Dp4kitError
from dp4kit.reference import master
from dp4kit.rules.eligibility import EVER_MARRIED, VOTING_AGE

LEVELS = {
    "desa": "kode_desa",
    "kecamatan": "kode_kecamatan",
    "kabkota": "kode_kabkota",
    "provinsi": "kode_provinsi",
    "nasional": None,
}
COUNTS = (
    "laki_laki",
    "perempuan",
    "jumlah",
    "jumlah_kk",
    "wajib_ktp_laki_laki",
    "wajib_ktp_perempuan",
    "pemilih_laki_laki",
    "pemilih_perempuan",
    "pemilih_jumlah",
)
AGE_BANDS = [f"{a:02d}-{a + 4:02d}" for a in range(0, 75, 5)] + ["75+"]
BREAKDOWNS = ("agama", "status_kawin", "pendidikan", "pekerjaan", "disabilitas")


class InvariantError(Dp4kitError):
    """An aggregate does not add up: a bug, never written."""

    exit_code = 3


@dataclass
class Aggregates:
    semester: str
    levels: dict[str, pd.DataFrame]  # level name -> table in the DAK2 shape
    breakdowns: dict[str, pd.DataFrame] = field(default_factory=dict)  # per kecamatan by sex

    @property
    def dak2(self) -> pd.DataFrame:
        return self.levels["kecamatan"]


def semester_of(day) -> str:
    """Dukcapil semesters: S1 as of 30 June, S2 as of 31 December (`2025-S2`)."""
    return f"{day.year}-S{1 if day.month <= 6 else 2}"


LEVEL_ORDER = {"provinsi": 0, "kabkota": 1, "kecamatan": 2, "desa": 3}
CODE_WIDTH = {"provinsi": 2, "kabkota": 5, "kecamatan": 8, "desa": 13}


def _region_frame(level: str) -> pd.DataFrame:
    part = master()[level]
    return pd.DataFrame({f"kode_{level}": part.codes.to_pylist(), level: part.names.to_pylist()})


def _regions(level: str, regencies: list[str]) -> pd.DataFrame:
    """Every region of a level within the regencies present (so empty ones show as zeros),
    with the codes and names of the levels above it."""
    if level == "nasional":
        return pd.DataFrame({"wilayah": ["INDONESIA"]})
    code = f"kode_{level}"
    table = _region_frame(level)
    if LEVEL_ORDER[level] >= LEVEL_ORDER["kabkota"]:
        table = table[table[code].str.slice(0, 5).isin(regencies)]
    else:
        table = table[table[code].isin({r[:2] for r in regencies})]
    for parent in ("provinsi", "kabkota", "kecamatan"):
        if LEVEL_ORDER[parent] < LEVEL_ORDER[level]:
            parent_code = table[code].str.slice(0, CODE_WIDTH[parent])
            table = table.assign(**{f"kode_{parent}": parent_code}).merge(
                _region_frame(parent), on=f"kode_{parent}", how="left"
            )
    columns = [
        c for p in LEVEL_ORDER if LEVEL_ORDER[p] <= LEVEL_ORDER[level] for c in (f"kode_{p}", p)
    ]
    return table[columns].sort_values(code).reset_index(drop=True)


def _flags(population: pd.DataFrame) -> pd.DataFrame:
    sex = population["jenis_kelamin"].to_numpy(dtype=object, na_value="")
    age = population["usia"].to_numpy(dtype="float64", na_value=np.nan)
    married = population["status_kawin"].isin(EVER_MARRIED).to_numpy(dtype=bool)
    wajib = (age >= VOTING_AGE) | married
    voter = population["pemilih"].to_numpy(dtype=bool)
    male, female = sex == "L", sex == "P"
    return pd.DataFrame(
        {
            "laki_laki": male,
            "perempuan": female,
            "jumlah": male | female,
            "wajib_ktp_laki_laki": wajib & male,
            "wajib_ktp_perempuan": wajib & female,
            "pemilih_laki_laki": voter & male,
            "pemilih_perempuan": voter & female,
            "pemilih_jumlah": voter,
        }
    ).astype("int64")


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer code per row (-1 for missing) and the distinct values, via pandas factorize."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _sum_by(codes: np.ndarray, n: int, flags: pd.DataFrame) -> pd.DataFrame:
    valid = codes >= 0
    return pd.DataFrame(
        {
            c: np.bincount(codes[valid], weights=flags[c].to_numpy()[valid], minlength=n).astype(
                "int64"
            )
            for c in flags.columns
        }
    )


@dataclass
class _LevelCodes:
    """Per level: a code per row (-1 if missing), the distinct region codes, and the map from
    a desa code to that level's code."""

    rows: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    from_desa: dict[str, np.ndarray]


def _level_codes(population: pd.DataFrame) -> _LevelCodes:
    """One factorisation of kode_desa; the higher codes are its prefixes, so they are derived
    from the distinct desa codes, not from every row."""
    desa, desa_values = _codes(population["kode_desa"].astype(str))
    out = _LevelCodes({"desa": desa}, {"desa": desa_values},
                      {"desa": np.arange(len(desa_values))})  # fmt: skip
    for level in ("kecamatan", "kabkota", "provinsi"):
        prefixes = pd.Series(desa_values, dtype=object).str.slice(0, CODE_WIDTH[level])
        small, values = _codes(prefixes)
        out.rows[level] = np.where(desa >= 0, small[np.maximum(desa, 0)], -1) if len(desa) else desa
        out.values[level], out.from_desa[level] = values, small
    return out


def _households(codes: _LevelCodes, nkk: np.ndarray) -> dict[str, np.ndarray | int]:
    """Distinct NKK per region of each level (and in the nation). Distinct (desa, NKK) pairs
    are found once over the rows (hashing, pd.unique); the higher levels use those pairs."""
    desa = codes.rows["desa"]
    base = max(int(nkk.max()) + 1, 1) if len(nkk) else 1
    ok = (desa >= 0) & (nkk >= 0)
    pairs = pd.unique(desa[ok].astype(np.int64) * base + nkk[ok])
    pair_desa, pair_nkk = pairs // base, pairs % base
    out: dict[str, np.ndarray | int] = {}
    for level in ("desa", "kecamatan", "kabkota", "provinsi"):
        region = codes.from_desa[level][pair_desa].astype(np.int64)
        distinct = pd.unique(region * base + pair_nkk) // base
        out[level] = np.bincount(distinct, minlength=len(codes.values[level]))
    out["nasional"] = int(pd.unique(pair_nkk).size)
    return out


def aggregate(population: pd.DataFrame, semester: str) -> Aggregates:
    """DAK2 per kecamatan and the other levels, plus breakdowns per kecamatan by sex.
    Counting is integer codes and np.bincount: no Python per group."""
    flags = _flags(population)
    nkk, _ = _codes(population["nkk"])
    codes_by_level = _level_codes(population)
    households = _households(codes_by_level, nkk)
    present = sorted(population["kode_kabkota"].dropna().astype(str).unique())
    levels = {}
    for level, code in LEVELS.items():
        regions = _regions(level, present)
        if code is None:
            sums = flags.sum().to_frame().T.reset_index(drop=True)
            sums["jumlah_kk"] = households["nasional"]
            table = pd.concat([regions, sums], axis=1)
        else:
            codes, uniques = codes_by_level.rows[level], codes_by_level.values[level]
            sums = _sum_by(codes, len(uniques), flags)
            sums["jumlah_kk"] = households[level]
            sums[code] = uniques
            table = regions.merge(sums, on=code, how="left")
        table[list(COUNTS)] = table[list(COUNTS)].fillna(0).astype("int64")
        table["tanpa_penduduk"] = table["jumlah"] == 0
        names = [c for c in table.columns if c not in COUNTS and c != "tanpa_penduduk"]
        levels[level] = table[[*names, *COUNTS, "tanpa_penduduk"]]
    result = Aggregates(semester, levels, _breakdowns(population, codes_by_level))
    check_invariants(result)
    return result


def _breakdowns(population: pd.DataFrame, codes: _LevelCodes) -> dict[str, pd.DataFrame]:
    """Per kecamatan by sex: 5-year age bands (pyramid), religion, marital status, …"""
    kec, kec_values = codes.rows["kecamatan"], codes.values["kecamatan"]
    sex = population["jenis_kelamin"].to_numpy(dtype=object, na_value="")
    placed = kec >= 0  # validation rejects unknown regions; never index with -1
    male = ((sex == "L") & placed).astype(np.int64)
    female = ((sex == "P") & placed).astype(np.int64)
    kec = np.where(placed, kec, 0)
    age = population["usia"].to_numpy(dtype="float64", na_value=np.nan)
    band = np.clip(np.floor_divide(np.nan_to_num(age, nan=0), 5), 0, 15).astype(np.int64)
    topics = {"umur": (band, np.array(AGE_BANDS, dtype=object))}
    for name in BREAKDOWNS:
        values = population[name].astype("string").fillna("TIDAK ADA")
        topics[name] = _codes(values)
    out = {}
    for name, (codes, labels) in topics.items():
        key = kec * len(labels) + codes
        size = len(kec_values) * len(labels)
        l_count = np.bincount(key, weights=male, minlength=size).astype(np.int64)
        p_count = np.bincount(key, weights=female, minlength=size).astype(np.int64)
        present = np.flatnonzero(l_count + p_count)
        out[name] = (
            pd.DataFrame(
                {
                    "kode_kecamatan": kec_values[present // len(labels)],
                    name: labels[present % len(labels)],
                    "laki_laki": l_count[present],
                    "perempuan": p_count[present],
                    "jumlah": l_count[present] + p_count[present],
                }
            )
            .sort_values(["kode_kecamatan", name], kind="stable")
            .reset_index(drop=True)
        )
    return out


def check_invariants(agg: Aggregates) -> None:
    """L + P = total at every level; kecamatan sums = regency = province = nation;
    pemilih ≤ wajib KTP ≤ jumlah. Raises InvariantError naming the first broken rule."""
    problems = []
    for level, table in agg.levels.items():
        if not (table["laki_laki"] + table["perempuan"] == table["jumlah"]).all():
            problems.append(f"{level}: L + P != jumlah")
        wajib = table["wajib_ktp_laki_laki"] + table["wajib_ktp_perempuan"]
        if not ((table["pemilih_jumlah"] <= wajib) & (wajib <= table["jumlah"])).all():
            problems.append(f"{level}: pemilih <= wajib KTP <= jumlah does not hold")
    counts = [c for c in COUNTS if c != "jumlah_kk"]
    nation = agg.levels["nasional"][counts].sum()
    for level in ("desa", "kecamatan", "kabkota", "provinsi"):
        if not (agg.levels[level][counts].sum() == nation).all():
            problems.append(f"sum over {level} != nation")
    for name, table in agg.breakdowns.items():
        if table["jumlah"].sum() != nation["jumlah"]:
            problems.append(f"breakdown {name} does not add up to the population")
    if problems:
        raise InvariantError("aggregates do not add up: " + "; ".join(problems))


def households_by_province(population: pd.DataFrame) -> pd.DataFrame:
    """The distinct (province, hashed NKK) pairs of a population: a province's and the
    nation's KK are counted once across the parts of a partitioned export."""
    nkk = population["nkk"]
    known = nkk.notna().to_numpy(dtype=bool)
    province = population["kode_desa"].astype(str).str.slice(0, CODE_WIDTH["provinsi"])
    hashed = pd.util.hash_array(nkk[known].astype(str).to_numpy(dtype=object))
    return pd.DataFrame({"kode_provinsi": pd.Categorical(province[known]),
                         "nkk": hashed}).drop_duplicates()  # fmt: skip


def merge_aggregates(parts: list[Aggregates], households: list[pd.DataFrame], semester: str,
                     empty: pd.DataFrame) -> Aggregates:  # fmt: skip
    """The aggregates of the whole from those of its kab/kota parts (each part one kab/kota):
    what `aggregate` gives on the whole population (tested), KK counted once per province.
    `empty`: a population without rows, aggregated when no part has one."""
    if not parts:
        return aggregate(empty, semester)
    levels = {}
    for level in ("desa", "kecamatan", "kabkota"):
        code = f"kode_{level}"
        whole = pd.concat([p.levels[level] for p in parts], ignore_index=True)
        levels[level] = whole.sort_values(code, kind="stable").reset_index(drop=True)
    kk = pd.concat(households, ignore_index=True).drop_duplicates()
    for level, names in (("provinsi", ["kode_provinsi", "provinsi"]), ("nasional", ["wilayah"])):
        first = parts[0].levels[level]
        whole = pd.concat([p.levels[level] for p in parts], ignore_index=True)
        counts = [c for c in COUNTS if c != "jumlah_kk"]
        summed = whole.groupby(names, sort=True)[counts].sum().reset_index()
        if level == "provinsi":
            per = kk.groupby("kode_provinsi")["nkk"].nunique()
            summed["jumlah_kk"] = summed["kode_provinsi"].map(per).fillna(0).astype("int64")
        else:
            summed["jumlah_kk"] = kk["nkk"].nunique()
        summed["tanpa_penduduk"] = summed["jumlah"] == 0
        levels[level] = summed[list(first.columns)].astype(first.dtypes.to_dict())
    breakdowns = {
        name: pd.concat([p.breakdowns[name] for p in parts], ignore_index=True)
        .sort_values(["kode_kecamatan", name], kind="stable")
        .reset_index(drop=True)
        for name in parts[0].breakdowns
    }
    result = Aggregates(semester, {k: levels[k] for k in LEVELS}, breakdowns)
    check_invariants(result)
    return result


def check_voters(aggregates: Aggregates, voters: dict[str, int], dp4_rows: int) -> None:
    """The DAK2 voter counts must equal the DP4 rows per kecamatan (`voters`)."""
    dak2 = aggregates.dak2.set_index("kode_kecamatan")["pemilih_jumlah"]
    dp4 = pd.Series(voters, dtype="int64").reindex(dak2.index, fill_value=0)
    if not (dak2 == dp4).all() or int(dak2.sum()) != dp4_rows or sum(voters.values()) != dp4_rows:
        raise AccountingError("DAK2 voter counts differ from the DP4 rows: nothing written")
