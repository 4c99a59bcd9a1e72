"""Synthetic SIAK exports with ground truth, for tests, demos and benchmarks.

Families (head, spouse, children) share an NKK and an address; NIKs agree with birth date,
sex and region; names come from Faker's id_ID locale. A controllable share of rows breaks
one error rule each, and duplicates of each kind are added: D (same row twice), K1 (same NIK
and person, other address), K2 (same NIK, other person), K3 (same person under another NIK,
name spelled differently). Twins (KEMBAR) are different people who must not be merged.
Generation is vectorized (numpy/pyarrow) and deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.errors import UsageError
from dp4kit.reference import master
from dp4kit.sample.values import (
    K3_VARIANTS,
    birth_dates,
    excel_rounded,
    k3_variants,
    namesakes,
    nik_of,
    serials,
    siak_dates,
    siak_parts,
    slice_text,
    twin_names,
)

AS_OF = dt.date(2024, 11, 27)
# One corruption per invalid row; each breaks exactly one error rule.
CORRUPTIONS = (
    "NIK_FORMAT",
    "TANGGAL_LAHIR_INVALID",
    "JENIS_KELAMIN_INVALID",
    "NIK_PROVINSI",
    "NAMA_KOSONG",
    "WILAYAH_TIDAK_DIKENAL",
    "STATUS_KAWIN_INVALID",
    "NKK_FORMAT",
)
DUPLICATE_KINDS = ("D", "K1", "K2", "K3")
MALE_EXTRA = ["MUHAMMAD", "AHMAD", "YUSUF", "JOKO", "AGUS", "BUDI", "CAHYO", "SURYA", "NUR"]
FEMALE_EXTRA = ["SITI", "NUR", "DEWI", "SRI", "RINA", "AYU", "PUTRI"]
COLUMNS = (
    "NIK",
    "NO_KK",
    "NAMA_LGKP",
    "JENIS_KLMIN",
    "TMPT_LHR",
    "TGL_LHR",
    "AGAMA",
    "STAT_KWN",
    "STAT_HBKEL",
    "PDDK_AKH",
    "JENIS_PKRJN",
    "PNYDNG_CCT",
    "GOL_DRH",
    "NAMA_LGKP_IBU",
    "ALAMAT",
    "NO_RT",
    "NO_RW",
    "NO_PROP",
    "NO_KAB",
    "NO_KEC",
    "NO_KEL",
    "FLAG_STATUS",
)


def _pools(seed: int) -> dict[str, np.ndarray]:
    try:
        from faker import Faker
    except ImportError as exc:  # the optional extra: the runtime does not need it
        raise UsageError("dp4kit sample needs Faker: pip install 'dp4kit[sample]'") from exc

    fake = Faker("id_ID")
    fake.seed_instance(seed)

    def pool(fn, size):
        return np.array(sorted({fn().upper() for _ in range(size)}))

    return {
        "male": np.concatenate([pool(fake.first_name_male, 400), MALE_EXTRA]),
        "female": np.concatenate([pool(fake.first_name_female, 400), FEMALE_EXTRA]),
        "last": pool(fake.last_name, 400),
        "street": pool(fake.street_name, 200),
        "city": pool(fake.city_name, 60),
    }


def _s(values) -> pa.Array:
    return pa.array(np.asarray(values).astype(str), pa.string())


def generate(
    rows: int = 3000,
    seed: int = 1,
    invalid_share: float = 0.02,
    duplicate_share: float = 0.02,
    kabkota: str = "32.04",
    nik_serial_base: int = 0,
) -> tuple[pa.Table, pa.Table]:
    """A SIAK flat export (all text) and its ground truth, row for row. NIK serials start at
    `nik_serial_base` + 1: regencies generated apart with different bases (0, 1000, 2000, …)
    never draw the same NIK for people registered first in one district."""
    regions = master()
    villages = regions["desa"].codes.to_numpy(zero_copy_only=False)
    villages = villages[np.char.startswith(villages.astype(str), kabkota + ".")]
    if len(villages) == 0:
        raise UsageError(f"--kabkota {kabkota} is not a regency code in the region master")
    rng = np.random.default_rng(seed)
    pools = _pools(seed)
    n_dup = int(round(rows * duplicate_share))
    n = max(rows - n_dup, 1)

    # Families: head, spouse, children; the address lives on the family.
    sizes = rng.choice([1, 2, 3, 4, 5, 6], size=n, p=[0.12, 0.2, 0.25, 0.25, 0.12, 0.06])
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    sizes[-1] -= sizes.sum() - n
    fam = np.repeat(np.arange(len(sizes)), sizes)
    member = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    n_fam = len(sizes)
    f_village = villages[rng.integers(0, len(villages), n_fam)].astype(str)
    f_kec6 = np.char.replace(np.char.ljust(f_village, 8), ".", "").astype("<U6")
    f_issue = birth_dates(rng.integers(365, 365 * 18, n_fam), AS_OF)
    f_nkk = nik_of(
        f_kec6, f_issue, np.zeros(n_fam, bool), serials(np.char.add(f_kec6, f_issue.astype(str)))
    )
    f_rt, f_rw = rng.integers(1, 16, n_fam), rng.integers(1, 11, n_fam)
    f_street = pools["street"][rng.integers(0, len(pools["street"]), n_fam)]
    f_alamat = np.char.add(np.char.add(f_street, " NO. "), rng.integers(1, 200, n_fam).astype(str))
    f_last = pools["last"][rng.integers(0, len(pools["last"]), n_fam)]
    f_head_age = rng.integers(22, 80, n_fam)

    head, spouse = member == 0, member == 1
    female = np.where(head, rng.random(n) < 0.1, np.where(spouse, True, rng.random(n) < 0.5))
    age_head = f_head_age[fam]
    age = np.where(
        head,
        age_head,
        np.where(
            spouse,
            np.clip(age_head + rng.integers(-6, 3, n), 17, 90),
            rng.integers(0, np.maximum(age_head - 18, 1)),
        ),
    )
    # Children as real families have them: the eldest born after the head turned 18, each
    # next one at least 300 days later (only twins, below, share a birth date)
    child = ~head & ~spouse
    kids = np.bincount(fam, weights=child, minlength=n_fam).astype(np.int64)
    eldest = rng.integers(kids * 300, np.maximum((f_head_age - 18) * 365, kids * 300) + 1)
    spare = (eldest - kids * 300) // np.maximum(kids, 1)
    gap = np.where(child, 300 + (rng.random(n) * spare[fam]).astype(np.int64), 0)
    before = np.cumsum(gap) - gap
    before = before - before[np.repeat(np.cumsum(sizes) - sizes, sizes)]  # within the family
    days_old = np.where(child, eldest[fam] - before, age * 365 + rng.integers(0, 365, n))
    age = np.where(child, days_old // 365, age)
    born = birth_dates(days_old, AS_OF)
    status = np.where(
        head | spouse, np.where(sizes[fam] > 1, "2", rng.choice(["1", "3", "4"], n)), "1"
    )
    married_young = (~head & ~spouse) & (age >= 15) & (age < 17) & (rng.random(n) < 0.05)
    status = np.where(
        married_young | ((~head & ~spouse) & (age >= 24) & (rng.random(n) < 0.3)), "2", status
    )
    hbkel = np.where(head, "1", np.where(spouse, np.where(female, "3", "2"), "4"))

    # siblings never share a given name: a family's children take names a stride apart
    stride = np.where(child, member * 7919, 0)
    female_idx = np.where(child, rng.integers(0, len(pools["female"]), n_fam)[fam],
                          rng.integers(0, len(pools["female"]), n)) + stride  # fmt: skip
    male_idx = np.where(child, rng.integers(0, len(pools["male"]), n_fam)[fam],
                        rng.integers(0, len(pools["male"]), n)) + stride  # fmt: skip
    # Twins: in some families the second child is born with the first, same place; twins
    # always get different given names.
    twin = (member == 3) & (rng.random(n) < 0.04)
    prev = np.maximum(np.arange(n) - 1, 0)
    female_idx = np.where(twin & (female_idx == female_idx[prev]), female_idx + 1, female_idx)
    male_idx = np.where(twin & (male_idx == male_idx[prev]), male_idx + 1, male_idx)
    first = np.where(
        female,
        pools["female"][female_idx % len(pools["female"])],
        pools["male"][male_idx % len(pools["male"])],
    )
    prefix = np.where(
        female,
        np.where(rng.random(n) < 0.12, "SITI ", ""),
        np.where(rng.random(n) < 0.15, "MUHAMMAD ", ""),
    )
    nama = np.char.add(np.char.add(prefix, first), np.char.add(" ", f_last[fam]))
    # most twins are named by a pattern (PUTRA/PUTRI, AMIR/AMIN, HASAN/HUSEIN), on a third
    # random stream so the other rows stay as they were for a given seed
    named = twin_names(twin, np.random.default_rng(seed + 104729))
    twin_rows, twin_kind, twin_first, twin_female = named
    twin_variant = np.full(n, "", dtype=object)
    nama = nama.astype(object)
    for side, rows in enumerate((twin_rows - 1, twin_rows)):
        female[rows], twin_variant[rows] = twin_female[:, side], twin_kind
        nama[rows] = twin_first[:, side] + " " + f_last[fam[rows]].astype(object)

    born = np.where(twin, born[prev], born)
    age = np.where(twin, age[prev], age)

    work = rng.choice(["1", "2", "5", "8", "9", "88", "89", "4"], n)
    adult = age >= 20
    tni = adult & (rng.random(n) < 0.005)
    polri = adult & ~tni & (rng.random(n) < 0.005)
    work = np.where(age < 18, np.where(age >= 6, "3", "1"), work)
    work = np.where(tni, "6", np.where(polri, "7", work))
    flag = np.where(rng.random(n) < 0.01, "1", "0")
    city_pool = np.concatenate([pools["city"], np.repeat("BANDUNG", 60)])
    tmpt = city_pool[rng.integers(0, len(city_pool), n)]
    tmpt = np.where(twin, tmpt[prev], tmpt)

    village = f_village[fam]
    kec6 = f_kec6[fam]
    moved = rng.random(n) < 0.08  # registered elsewhere first: the NIK region differs
    all_kec = regions["kecamatan"].codes.to_numpy(zero_copy_only=False).astype(str)
    all_kec = all_kec[np.char.startswith(all_kec, kabkota[:2] + ".")]
    other = np.char.replace(all_kec[rng.integers(0, len(all_kec), n)], ".", "")
    region6 = np.where(moved, other, kec6)
    birth_key = np.char.add(region6, born.astype(str))
    serial = serials(np.char.add(birth_key, female.astype(str))) + nik_serial_base
    nik = nik_of(region6, born, female, serial)

    # A second random stream for what was added later (mothers, K3 variants, namesakes), so
    # the rows above stay as they were for a given seed.
    vrng = np.random.default_rng(seed + 7919)
    f_mother = np.char.add(np.char.add(
        pools["female"][vrng.integers(0, len(pools["female"]), n_fam)], " "),
        pools["last"][vrng.integers(0, len(pools["last"]), n_fam)])  # fmt: skip
    # the children's mother is the family's; a head or spouse has a mother of their own
    own = np.char.add(np.char.add(
        pools["female"][vrng.integers(0, len(pools["female"]), n)], " "),
        pools["last"][vrng.integers(0, len(pools["last"]), n)])  # fmt: skip
    mothers = np.where(head | spouse, own, f_mother[fam])

    data = {
        "NIK": nik,
        "NO_KK": f_nkk[fam],
        "NAMA_LGKP": nama,
        "JENIS_KLMIN": np.where(female, "2", "1"),
        "TMPT_LHR": tmpt,
        "TGL_LHR": siak_dates(born),
        "AGAMA": rng.choice(
            ["1", "2", "3", "4", "5", "6", "7"], n, p=[0.87, 0.07, 0.03, 0.017, 0.007, 0.003, 0.003]
        ),
        "STAT_KWN": status,
        "STAT_HBKEL": hbkel,
        "PDDK_AKH": rng.integers(1, 11, n).astype(str),
        "JENIS_PKRJN": work,
        "PNYDNG_CCT": np.where(rng.random(n) < 0.02, rng.integers(1, 7, n).astype(str), ""),
        "GOL_DRH": rng.integers(1, 14, n).astype(str),
        "NAMA_LGKP_IBU": mothers,
        "ALAMAT": f_alamat[fam],
        "NO_RT": f_rt[fam].astype(str),
        "NO_RW": f_rw[fam].astype(str),
        **siak_parts(village),
        "FLAG_STATUS": flag,
    }
    data = {k: np.asarray(v).astype(object) for k, v in data.items()}
    rules = np.full(n, "", dtype=object)
    kind = np.full(n, "", dtype=object)
    group = np.full(n, "", dtype=object)
    twin_idx = np.flatnonzero(twin)
    kind[twin_idx] = kind[twin_idx - 1] = "KEMBAR"
    group[twin_idx] = group[twin_idx - 1] = np.char.add("T", twin_idx.astype(str))

    # Invalid rows: each breaks one rule.
    n_inv = int(round(n * invalid_share))
    bad = rng.choice(
        np.flatnonzero(kind == ""), size=min(n_inv, int((kind == "").sum())), replace=False
    )
    what = np.array(CORRUPTIONS)[np.arange(len(bad)) % len(CORRUPTIONS)]
    for code in CORRUPTIONS:
        idx = bad[what == code]
        rules[idx] = code
        if code == "NIK_FORMAT":  # half as Excel shows them (3.20411E+15), half cut to 15 digits
            half = np.arange(len(idx)) % 2 == 0
            data["NIK"][idx] = np.where(half, excel_rounded(nik[idx]), slice_text(nik[idx], 0, 15))
        elif code == "TANGGAL_LAHIR_INVALID":
            data["TGL_LHR"][idx] = "00-00-0000"
        elif code == "JENIS_KELAMIN_INVALID":
            data["JENIS_KLMIN"][idx] = "3"
        elif code == "NIK_PROVINSI":
            data["NIK"][idx] = np.char.add("10", slice_text(nik[idx], 2, 16))
        elif code == "NAMA_KOSONG":
            data["NAMA_LGKP"][idx] = ""
        elif code == "WILAYAH_TIDAK_DIKENAL":
            data["NO_KEL"][idx] = "9999"
        elif code == "STATUS_KAWIN_INVALID":
            data["STAT_KWN"][idx] = "9"
        elif code == "NKK_FORMAT":
            data["NO_KK"][idx] = slice_text(f_nkk[fam][idx], 0, 12)

    # Duplicates, copied from clean rows and appended.
    clean = np.flatnonzero((rules == "") & (kind == ""))
    src = rng.choice(clean, size=min(n_dup, len(clean)), replace=False)
    dkind = np.array(DUPLICATE_KINDS)[np.arange(len(src)) % len(DUPLICATE_KINDS)]
    dup = {k: v[src].copy() for k, v in data.items()}
    k1, k2, k3 = dkind == "K1", dkind == "K2", dkind == "K3"
    moved_to = siak_parts(villages[rng.integers(0, len(villages), len(src))].astype(str))
    for col, values in moved_to.items():
        dup[col] = np.where(k1, values, dup[col])
    dup["ALAMAT"] = np.where(k1, np.char.add(dup["ALAMAT"].astype(str), " (BARU)"), dup["ALAMAT"])
    other_name = np.char.add(
        np.char.add(pools["male"][rng.integers(0, len(pools["male"]), len(src))], " "),
        pools["last"][rng.integers(0, len(pools["last"]), len(src))],
    )
    dup["NAMA_LGKP"] = np.where(k2, other_name, dup["NAMA_LGKP"])
    dup["TGL_LHR"] = np.where(
        k2,
        siak_dates(birth_dates(rng.integers(20 * 365, 60 * 365, len(src)), AS_OF)),
        dup["TGL_LHR"],
    )
    variant = np.full(len(src), "", dtype=object)
    variant[k3] = np.array(K3_VARIANTS)[np.arange(int(k3.sum())) % len(K3_VARIANTS)]
    k3_variants(dup, variant, data, clean, vrng)
    new_serial = (9000 + np.arange(len(src)) % 999).astype(str)  # 4 digits, never used by a family
    dup["NIK"] = np.where(
        k3, np.char.add(dup["NIK"].astype(str).astype("<U12"), new_serial), dup["NIK"]
    )
    dup = {k: np.asarray(v).astype(object) for k, v in dup.items()}
    kind[src] = dkind
    group[src] = np.char.add("G", src.astype(str))

    out = {k: np.concatenate([data[k], dup[k]]) for k in COLUMNS}
    first, second = namesakes(data, kind, rules, n_dup // 8)
    kind[first] = kind[second] = "SENAMA"
    group[first] = group[second] = np.char.add("S", second.astype(str))
    t_rules = np.concatenate([rules, np.full(len(src), "", dtype=object)])
    t_kind = np.concatenate([kind, dkind.astype(object)])
    t_group = np.concatenate([group, np.char.add("G", src.astype(str)).astype(object)])
    t_role = np.concatenate(
        [np.where(np.isin(np.arange(n), src), "asli", ""), np.full(len(src), "salinan")]
    )
    # SIAK exports come sorted by village and family: put the copies among the others.
    order = np.lexsort(
        (np.arange(len(t_kind)), out["NO_KK"].astype(str), out["NO_KEL"].astype(str))
    )
    table = pa.table({k: _s(out[k][order]) for k in COLUMNS})
    table = pa.table(
        [pc.if_else(pc.equal(c, ""), None, c) for c in table.columns], names=list(COLUMNS)
    )
    truth = pa.table(
        {
            "baris": pa.array(np.arange(2, len(order) + 2), pa.int64()),
            "aturan_error": _s(t_rules[order]),
            "jenis_duplikat": _s(t_kind[order]),
            "kelompok": _s(t_group[order]),
            "peran": _s(t_role[order]),
            "varian": _s(np.concatenate([twin_variant, variant])[order]),
        }
    )
    return table, truth


def write_sample(
    out: Path,
    rows: int = 3000,
    seed: int = 1,
    invalid_share: float = 0.02,
    duplicate_share: float = 0.02,
    kabkota: str = "32.04",
    nik_serial_base: int = 0,
) -> int:
    """Write a sample export (.csv, .xlsx or .parquet) and OUT.truth.csv beside it."""
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    from dp4kit.errors import WRITE_ERRORS, OutputError, write_failure
    from dp4kit.outputs.files import atomic_file
    from dp4kit.outputs.xlsx import write_xlsx_sheets

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".parquet"):
        raise UsageError(f"{out}: sample output must end in .csv, .xlsx or .parquet")
    table, truth = generate(rows, seed, invalid_share, duplicate_share, kabkota, nik_serial_base)
    truth_path = out.with_name(out.stem + ".truth.csv")
    try:
        with atomic_file(out) as tmp:
            if suffix == ".csv":
                pv.write_csv(table, tmp, write_options=pv.WriteOptions(quoting_style="needed"))
            elif suffix == ".parquet":
                pq.write_table(table, tmp, compression="zstd")
            else:
                write_xlsx_sheets(tmp, [("BIODATA", [], list(table.column_names), table)])
        with atomic_file(truth_path) as tmp:
            pv.write_csv(truth, tmp, write_options=pv.WriteOptions(quoting_style="needed"))
    except WRITE_ERRORS as exc:
        raise OutputError(f"{out}: cannot write: {write_failure(exc)}") from exc
    return table.num_rows
