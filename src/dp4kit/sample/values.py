"""Values of a synthetic SIAK row (NIKs, dates, SIAK's unpadded region parts, Excel's rounding),
how two records of one person differ in real registries (the K3 variations the sample
generator plants), namesakes (different people with one name and birth date) and how twins
are named."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SPELLING = (
    ("MUHAMMAD", "MUHAMAD"),
    ("SITI", "ST."),
    ("AHMAD", "ACHMAD"),
    ("YUSUF", "YUSUP"),
    ("NUR", "NOER"),
    ("JOKO", "DJOKO"),
    ("CAHYO", "TJAHYO"),
    ("SURYA", "SOERYA"),
)
K3_VARIANTS = ("ejaan", "pindah", "salah_ketik", "urutan", "gelar", "tanggal", "tempat")
LETTERS = np.array(list("ABCDEFGHIJKLMNOPRSTUWY"))


def typo(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One letter replaced by another, anywhere (the first letter included)."""
    out = []
    for value, at, letter in zip(values.astype(str), rng.random(len(values)),
                                 rng.choice(LETTERS, len(values)), strict=True):  # fmt: skip
        if not value:  # an empty name (a deliberate error row) has no letter to change
            out.append(value)
            continue
        i = int(at * len(value))
        if value[i] == letter or value[i] == " ":
            letter = "A" if value[i] != "A" else "E"
            i = i if value[i] != " " else max(i - 1, 0)
        out.append(value[:i] + letter + value[i + 1 :])
    return np.array(out, dtype=object)


def k3_variants(dup: dict, variant: np.ndarray, data: dict, clean: np.ndarray,
                 rng: np.random.Generator) -> None:  # fmt: skip
    """The kinds of variation real registries show between two records of one person
    (K3 copies get a new NIK elsewhere): a spelling variant; moved to another KK and desa;
    a typo anywhere in the name; words swapped or one dropped; a title or abbreviation;
    a day/month swap or one-digit date typo; a misspelt birth place."""
    name = dup["NAMA_LGKP"].astype(str)
    at = {v: np.flatnonzero(variant == v) for v in K3_VARIANTS}
    dup["NAMA_LGKP"][at["ejaan"]] = spelling_variant(name[at["ejaan"]])
    home = rng.choice(clean, len(at["pindah"]))  # into another family's KK and desa
    for col in ("NO_KK", "ALAMAT", "NO_RT", "NO_RW", "NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL"):
        dup[col][at["pindah"]] = data[col][home]
    dup["NAMA_LGKP"][at["salah_ketik"]] = typo(name[at["salah_ketik"]], rng)
    words = np.char.split(name[at["urutan"]].astype(str))
    dup["NAMA_LGKP"][at["urutan"]] = [
        " ".join(w[:-1]) if len(w) > 2 else " ".join(w[::-1]) for w in words
    ]
    title = np.where(dup["JENIS_KLMIN"][at["gelar"]] == "2", "HJ. ", "H. ")
    dup["NAMA_LGKP"][at["gelar"]] = np.char.add(np.char.add(title, name[at["gelar"]]), ", S.PD")
    date = dup["TGL_LHR"][at["tanggal"]].astype(str)  # DD-MM-YYYY
    day, month, year = slice_text(date, 0, 2), slice_text(date, 3, 5), slice_text(date, 6, 10)
    swap = (day.astype(int) <= 12) & (day != month)
    last = year.astype(int) % 10
    next_year = np.where(last == 0, 1, last - 1)  # never into the future
    typo_year = np.char.add(slice_text(year, 0, 3), next_year.astype(str))
    dup["TGL_LHR"][at["tanggal"]] = np.where(
        swap, np.char.add(np.char.add(np.char.add(month, "-"), np.char.add(day, "-")), year),
        np.char.add(np.char.add(day, "-"), np.char.add(np.char.add(month, "-"), typo_year)),
    )  # fmt: skip
    dup["TMPT_LHR"][at["tempat"]] = typo(dup["TMPT_LHR"][at["tempat"]].astype(str), rng)


# Twins' given names as families choose them, by kind (the truth's `varian` of both rows):
# (first twin, female?, second twin, female?)
TWIN_PATTERNS = {
    "kembar_beda_kelamin": (("PUTRA", False, "PUTRI", True), ("RIZKI", False, "RIZKA", True),
                            ("ADI", False, "IDA", True), ("ALIF", False, "ALIFA", True),
                            ("DIMAS", False, "DINDA", True), ("WAWAN", False, "WATI", True)),
    "kembar_satu_huruf": (("AMIR", False, "AMIN", False), ("RINA", True, "RINI", True),
                          ("OKTA", False, "OKTO", False), ("TINA", True, "TINI", True),
                          ("NANDA", True, "NINDA", True), ("RAFI", False, "RAMI", False),
                          ("NITA", True, "NINA", True)),
    "kembar_berima": (("HASAN", False, "HUSEIN", False), ("HASAN", False, "HUSAIN", False),
                      ("FAJAR", False, "FAJRI", False), ("RANI", True, "RINA", True),
                      ("INDRA", False, "CANDRA", False), ("ANDI", False, "ANDRE", False)),
}  # fmt: skip
TWIN_PATTERNED = 0.75  # the share of twins named by a pattern; the others: unlike names


def twin_names(twin: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """For a share of the twins (`twin`: the second of each pair, the first is the row
    before): the rows, their kind, and per row of the pair (first, second) the given name
    and whether she is a woman."""
    rows = np.flatnonzero(twin)
    rows = rows[rng.random(len(rows)) < TWIN_PATTERNED]
    patterns = [(kind, *p) for kind, ps in TWIN_PATTERNS.items() for p in ps]
    picked = [patterns[i] for i in rng.integers(0, len(patterns), len(rows))]
    kind = np.array([p[0] for p in picked], dtype=object)
    names = np.array([(p[1], p[3]) for p in picked], dtype=object).reshape(-1, 2)
    female = np.array([(p[2], p[4]) for p in picked], dtype=bool).reshape(-1, 2)
    return rows, kind, names, female


def namesakes(data: dict, kind: np.ndarray, rules: np.ndarray,
               count: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Different people with the same name and birth date (other families, other mothers):
    the second of two clean rows born the same day with the same sex takes the first's name.
    Returns the positions of both (a row is in at most one pair)."""
    key = np.char.add(data["TGL_LHR"].astype(str), data["JENIS_KLMIN"].astype(str))
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    first, second = order[:-1][same], order[1:][same]
    ok = (kind[first] == "") & (kind[second] == "") & (rules[first] == "") & (rules[second] == "")
    ok &= data["NO_KK"][first] != data["NO_KK"][second]
    first, second = first[ok], second[ok]
    alone = ~np.isin(first, second) & ~np.isin(second, first)  # no chains of three
    first, second = first[alone][:count], second[alone][:count]
    data["NAMA_LGKP"][second] = data["NAMA_LGKP"][first]
    return first, second


def slice_text(values: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Characters [start, stop) of each string (vectorized through Arrow)."""
    sliced = pc.utf8_slice_codeunits(pa.array(values.astype(str)), start, stop)
    return np.asarray(sliced.to_numpy(zero_copy_only=False)).astype(str)


def spelling_variant(names: np.ndarray) -> np.ndarray:
    """A different spelling of the same name: a known variant, else its third letter doubled."""
    if len(names) == 0:
        return names
    out = names.copy()
    changed = np.zeros(len(names), bool)
    for old, new in SPELLING:
        hit = ~changed & (np.char.find(names, old) >= 0)
        out = np.where(hit, np.char.replace(names, old, new, 1), out)
        changed |= hit
    doubled = np.char.add(
        np.char.add(slice_text(names, 0, 3), slice_text(names, 2, 3)), slice_text(names, 3, 999)
    )
    return np.where(changed, out, doubled)


def pad(values: np.ndarray, width: int) -> np.ndarray:
    text = np.asarray(values).astype(str)
    return np.char.zfill(text, width) if len(text) else text


def birth_dates(days: np.ndarray, as_of: dt.date) -> np.ndarray:
    return np.datetime64(as_of.isoformat(), "D") - days.astype("timedelta64[D]")


def nik_of(
    region6: np.ndarray, born: np.ndarray, female: np.ndarray, serial: np.ndarray
) -> np.ndarray:
    y, m, d = ymd(born)
    day = d + np.where(female, 40, 0)
    return np.char.add(
        np.char.add(np.char.add(np.char.add(region6, pad(day, 2)), pad(m, 2)), pad(y % 100, 2)),
        pad(serial, 4),
    )


def ymd(born: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = born.astype("datetime64[Y]").astype(int) + 1970
    m = born.astype("datetime64[M]").astype(int) % 12 + 1
    d = (born - born.astype("datetime64[M]")).astype(int) + 1
    return y, m, d


def serials(keys: np.ndarray) -> np.ndarray:
    """1, 2, 3 … within each key (cumulative count), in row order."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    idx = np.arange(len(keys))
    group_start = np.maximum.accumulate(np.where(starts, idx, 0))
    out = np.empty(len(keys), dtype=np.int64)
    out[order] = idx - group_start + 1
    return out


def siak_dates(born: np.ndarray) -> np.ndarray:
    y, m, d = ymd(born)
    return np.char.add(
        np.char.add(np.char.add(np.char.add(pad(d, 2), "-"), pad(m, 2)), "-"), y.astype(str)
    )


def siak_parts(village: np.ndarray) -> dict[str, np.ndarray]:
    """SIAK's unpadded NO_PROP/NO_KAB/NO_KEC/NO_KEL from dotted village codes."""
    spans = {"NO_PROP": (0, 2), "NO_KAB": (3, 5), "NO_KEC": (6, 8), "NO_KEL": (9, 13)}
    return {k: slice_text(village, a, b).astype(int).astype(str) for k, (a, b) in spans.items()}


def excel_rounded(nik: np.ndarray) -> np.ndarray:
    """How Excel shows a 16-digit number in a General cell: 3.20411E+15."""
    mantissa = np.char.rstrip(slice_text(nik, 1, 6), "0")
    return np.char.add(np.char.add(np.char.add(slice_text(nik, 0, 1), "."), mantissa), "E+15")
