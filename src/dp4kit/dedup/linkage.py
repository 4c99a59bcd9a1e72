"""Same person under two NIKs (K3): a Fellegi–Sunter model learnt from the input itself.

1. Blocking: a union of independent passes (birth date, swapped birth date, name + year, last
   name word + year and month, NKK, date + desa, mother's name + year), so that one error in
   any one field does not hide a pair. Large blocks are compared in a sorted window, so the
   pairs grow linearly with the input (the pairs left out are counted).
2. Comparisons with levels (`COMPARISONS`); a missing value is level -1 and gives no evidence.
3. u (how often non-matches agree) from random pairs; m (how often matches agree) and the
   share of matching pairs by EM over the distinct comparison patterns of the blocked pairs,
   with u fixed (as Splink does). Agreeing on a name is weighed by that name's frequency
   (term frequency): a common name counts less than a rare one.
4. Each pair's match weight is the sum of log2(m/u) over the comparisons plus the prior odds;
   its match probability follows. No Python loop runs over pairs or rows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.errors import InputFileError

log = logging.getLogger(__name__)

RANDOM_PAIRS = 400_000  # pairs drawn to estimate u
TRAIN_PAIRS = 250_000  # blocked pairs each training step learns from (a random sample)
MIN_TRAIN = 1_000  # fewer people: the packaged model is used (too few pairs to learn from)
EM_ITERATIONS, EM_TOLERANCE = 100, 1e-7
SEED = 20241127
FAMILY_LEVEL = 6  # the domisili level "KK sama"
TF_MAX_GAIN = 4.0  # a rare name adds at most this many bits over the average agreement
M_FLOOR = 1e-3  # no level is impossible for a match: keeps one odd value from vetoing a pair
DEFAULT_MODEL = Path(__file__).with_name("k3_model_default.json")
MODEL_FORMAT = "dp4kit-k3-model/2"  # 2: the name level "nama agak mirip"


@dataclass(frozen=True)
class Comparison:
    """One compared field: its levels from weakest (0) to strongest, in Indonesian for
    reviewers, and which levels are weighed by term frequency."""

    name: str
    levels: tuple[str, ...]
    tf_levels: tuple[int, ...] = ()


COMPARISONS = (
    Comparison("nama", ("nama berbeda", "nama agak mirip", "kata nama sama (urutan/kurang satu)",
                        "nama mirip", "nama sama setelah dinormalkan", "nama sama"), (4, 5)),
    Comparison("tanggal_lahir", ("tanggal lahir berbeda", "tahun lahir sama",
                                 "tanggal lahir selisih < 1 bulan", "tanggal lahir beda 1 digit",
                                 "tanggal/bulan lahir tertukar", "tanggal lahir sama")),
    Comparison("jenis_kelamin", ("jenis kelamin berbeda", "jenis kelamin sama")),
    Comparison("tempat_lahir", ("tempat lahir berbeda", "tempat lahir mirip",
                                "tempat lahir sama")),
    # where people live, as one comparison: KK, address and region agree together for a
    # family, so three separate comparisons would count the same evidence three times
    Comparison("domisili", ("kab/kota berbeda", "kab/kota sama", "kecamatan sama", "desa sama",
                            "alamat mirip", "alamat sama", "KK sama")),
    Comparison("nama_ibu", ("nama ibu berbeda", "nama ibu mirip", "nama ibu sama"), (2,)),
)  # fmt: skip
BY_NAME = {c.name: c for c in COMPARISONS}


@dataclass
class Model:
    """Trained parameters: per comparison, m and u per level; duplicates per record (the
    prior, independent of the input's size); how it was trained. Saved as k3_model.json."""

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    matches_per_record: float
    # u among people of one KK: relatives share a family name, a mother, a birth place, so
    # agreeing on those is weaker evidence inside a family than between strangers
    u_family: dict[str, list[float]] = field(default_factory=dict)
    trained_on: dict = field(default_factory=dict)
    common_names: list = field(default_factory=list)  # TF summary: the most frequent names

    def weights(self, family: bool = False) -> dict[str, np.ndarray]:
        """log2(m/u) per level (u within a KK when `family`); the top level (full agreement)
        is never weaker evidence than a partial one, names equal after normalising never
        weaker than similar ones, and full disagreement never evidence for a match."""
        out = {}
        for k in self.m:
            u = self.u_family.get(k, self.u[k]) if family and k != "domisili" else self.u[k]
            w = np.log2(np.asarray(self.m[k]) / np.asarray(u))
            w[-1] = w.max()
            w[0] = min(w[0], 0.0)  # full disagreement is never evidence for a match
            if k == "nama":
                w[4] = w[:5].max()
            out[k] = w
        return out

    def to_dict(self) -> dict:
        return {
            "format": MODEL_FORMAT,
            "comparisons": {
                c.name: {
                    "levels": list(c.levels),
                    "m": [float(x) for x in self.m[c.name]],  # full precision: a reused
                    "u": [float(x) for x in self.u[c.name]],  # model gives the same result
                    "u_keluarga": [float(x) for x in self.u_family.get(c.name, self.u[c.name])],
                    "weight_bits": _round(self.weights()[c.name], 3),
                    "weight_bits_keluarga": _round(self.weights(True)[c.name], 3),
                }
                for c in COMPARISONS
                if c.name in self.m
            },  # fmt: skip
            "matches_per_record": float(self.matches_per_record),
            "trained_on": self.trained_on,
            "common_names": self.common_names,
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "model") -> Model:
        made = data.get("format") if isinstance(data, dict) else None
        if made is not None and made != MODEL_FORMAT:
            raise InputFileError(f"{source}: a K3 model of another dp4kit version ({made}; this "
                                 f"one reads {MODEL_FORMAT}): train a new one by running "
                                 "without --k3-model")  # fmt: skip
        try:
            comps = data["comparisons"]
            m = {k: [float(x) for x in v["m"]] for k, v in comps.items()}
            u = {k: [float(x) for x in v["u"]] for k, v in comps.items()}
            u_family = {k: [float(x) for x in v.get("u_keluarga", v["u"])]
                        for k, v in comps.items()}  # fmt: skip
            prior = float(data["matches_per_record"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputFileError(f"{source}: not a dp4kit K3 model ({exc})") from exc
        for k in m:
            if k not in BY_NAME or len(m[k]) != len(BY_NAME[k].levels) or len(u[k]) != len(m[k]):
                raise InputFileError(f"{source}: comparison '{k}' does not match this dp4kit")
            if min(m[k] + u[k] + u_family[k]) <= 0 or len(u_family[k]) != len(m[k]):
                raise InputFileError(f"{source}: comparison '{k}' has a probability ≤ 0")
        return cls(m, u, prior, u_family, data.get("trained_on", {}),
                   data.get("common_names", []))  # fmt: skip


def _round(values, digits: int = 8) -> list[float]:
    return [round(float(v), digits) for v in values]


def load_model(path: Path) -> Model:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read the K3 model: {exc}") from exc
    return Model.from_dict(data, str(path))


# --- fields -----------------------------------------------------------------------------


@dataclass
class Fields:
    """The compared fields of n people as integer codes and texts (Arrow)."""

    n: int
    y: np.ndarray
    m: np.ndarray
    d: np.ndarray
    days: np.ndarray
    codes: dict[str, np.ndarray]  # value codes (-1 missing)
    text: dict[str, pa.Array]
    vocab: dict[str, np.ndarray] = field(default_factory=dict)  # text column: its values


TEXT_CODES = {"nama_norm": "nama_norm", "nama_inti": "given", "tempat_lahir": "place",
              "alamat": "alamat", "nama_ibu": "ibu"}  # fmt: skip


def _encode(values) -> tuple[np.ndarray, pa.Array]:
    """Codes (-1 for missing) and the distinct values they stand for."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    codes = pc.fill_null(encoded.indices.cast(pa.int64()), -1).to_numpy(zero_copy_only=False)
    return codes, encoded.dictionary


def _codes(values) -> np.ndarray:
    return _encode(values)[0]


def _derived(codes: np.ndarray, dictionary: pa.Array, derive) -> np.ndarray:
    """Codes of a value derived from each distinct value (computed once per distinct value,
    not per person)."""
    inner = np.append(_codes(derive(dictionary)), -1)
    return inner[codes]  # code -1 (missing) picks the appended -1


def _int(values) -> np.ndarray:
    return pc.fill_null(values, 0).to_numpy(zero_copy_only=False).astype(np.int64)


def fields_of(table: pa.Table) -> Fields:
    """`table`: nama, nama_norm, nama_inti, tanggal_lahir, jenis_kelamin, tempat_lahir_norm,
    nkk, alamat_bersih, kode_desa and optionally nama_ibu_norm."""
    born = table["tanggal_lahir"]
    text = {
        "nama_norm": table["nama_norm"],
        "nama_inti": table["nama_inti"],
        "tempat_lahir": table["tempat_lahir_norm"],
        "alamat": table["alamat_bersih"],
        "nama_ibu": table["nama_ibu_norm"] if "nama_ibu_norm" in table.column_names
        else pa.nulls(table.num_rows, pa.string()),
    }  # fmt: skip
    encoded = {key: _encode(text[column]) for column, key in TEXT_CODES.items()}
    names, name_words = encoded["nama_norm"]
    # first and last words in one vocabulary (for a name written in another order)
    words, word_values = _encode(pa.concat_arrays([
        pc.replace_substring_regex(name_words, r" .*$", ""),
        pc.replace_substring_regex(name_words, r"^.* ", "")]))  # fmt: skip
    alphabetical = np.empty(len(word_values) + 1, dtype=np.int64)  # codes in word order
    alphabetical[pc.sort_indices(word_values).to_numpy()] = np.arange(len(word_values))
    alphabetical[-1] = -1
    words = alphabetical[words]
    first_w, last_w = np.append(words[: len(name_words)], -1), np.append(
        words[len(name_words) :], -1)  # fmt: skip
    desa, desa_codes = _encode(table["kode_desa"])
    raw, raw_names = _encode(table["nama"])
    codes = {
        "nama": _derived(raw, raw_names, lambda v: pc.utf8_upper(pc.utf8_trim_whitespace(v))),
        "inti": _derived(*encoded["given"], lambda v: pc.utf8_slice_codeunits(v, 0, 1)),
        "last": _derived(names, name_words, lambda v: pc.replace_substring_regex(v, r"^.* ", "")),
        "sex": _codes(table["jenis_kelamin"]),
        "nkk": _codes(table["nkk"]),
        **{key: pair[0] for key, pair in encoded.items()},
        "desa": desa,
        "kec": _derived(desa, desa_codes, lambda v: pc.utf8_slice_codeunits(v, 0, 8)),
        "kab": _derived(desa, desa_codes, lambda v: pc.utf8_slice_codeunits(v, 0, 5)),
        "first_w": first_w[names],
        "last_w": last_w[names],
    }
    y, m, d = _int(pc.year(born)), _int(pc.month(born)), _int(pc.day(born))
    vocab = {key: pair[1].to_numpy(zero_copy_only=False) for key, pair in encoded.items()}
    return Fields(table.num_rows, y, m, d, _epoch_days(y, m, d), codes, text, vocab)


# --- blocking -------------------------------------------------------------------------------


def _pairs_on(
    key: np.ndarray, rank: np.ndarray | None = None, full: int = 0, window: int | None = None
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Pairs (i < j) sharing a key (≥ 0). Blocks of up to `full` people give all
    their pairs; in a larger block each person meets the `window` people after them in the
    order of `rank` (a sorted neighbourhood; 0: large blocks are left out), so the pairs grow
    linearly with the input, never quadratically. Also returns the pass's figures: pairs,
    and the large blocks and the pairs in them left out."""
    full = full or FULL_BLOCK
    window = WINDOW if window is None else window
    pos = np.flatnonzero(key >= 0)
    empty = np.empty(0, np.int64)
    stats = {"pairs": 0, "large_blocks": 0, "pairs_not_compared": 0}
    if len(pos) < 2:
        return empty, empty, stats
    keys = key[pos]
    if keys.max() >= np.iinfo(np.int64).max // len(key):  # too large to combine with rank
        keys = pd.factorize(keys)[0]
    order = keys * len(key) + (rank[pos] if rank is not None else pos)
    pos = pos[np.argsort(order)]
    sorted_keys = key[pos]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(pos)])
    size_of, end_of = np.repeat(sizes, sizes), np.repeat(starts + sizes, sizes)
    at = np.arange(len(pos))
    # small blocks: every pair
    partners = np.where(size_of <= full, end_of - at - 1, 0)
    total = int(partners.sum())
    left = np.repeat(at, partners)
    offset = np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners)
    a_parts, b_parts = [pos[left]], [pos[left + 1 + offset]]
    # large blocks: the next `window` people in order
    large = size_of > full
    for step in range(1, window + 1):
        near = large[:-step] & (sorted_keys[step:] == sorted_keys[:-step])
        if not near.any():
            break
        a_parts.append(pos[:-step][near])
        b_parts.append(pos[step:][near])
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    big = sizes[sizes > full]
    stats = {
        "pairs": len(a),
        "large_blocks": len(big),
        "pairs_not_compared": int((big * (big - 1) // 2).sum()) - (len(a) - total),
    }
    return np.minimum(a, b), np.maximum(a, b), stats


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct integers (a sort: faster than numpy's hash-based unique here)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def member(values: np.ndarray, of: np.ndarray) -> np.ndarray:
    """np.isin for large integer arrays, by binary search in the sorted distinct `of`."""
    of = distinct(of)
    if len(of) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(of, values), len(of) - 1)
    return of[at] == values


def _combine(*parts: np.ndarray) -> np.ndarray:
    """One integer key from several non-negative codes; -1 where any part is missing."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    missing = np.zeros(len(parts[0]), dtype=bool)
    for part in parts:
        key = key * (int(part.max(initial=0)) + 2) + part + 1
        missing |= part < 0
    return np.where(missing, -1, key)


def _optional(codes: np.ndarray) -> np.ndarray:
    """A missing value as a value of its own (for keys where a missing sex must not drop the
    person from the pass)."""
    return np.where(codes >= 0, codes, codes.max(initial=0) + 1)


FULL_BLOCK = 8  # blocks up to this many people give all their pairs
WINDOW = 4  # in a larger block, each person meets this many neighbours in the pass's order
# Passes without a birth date make large blocks of common names and addresses: they are for
# the rare name whose date is missing or wrong, so their large blocks are left out (counted).
DATELESS = ("nama_depan_kecamatan", "nama_akhir_inisial_kecamatan", "nama_terbalik",
            "alamat_tahun")  # fmt: skip

# tanggal_kata (every date, whatever the name's first letter) only looks at the nearest
# names in word order: (full block, window)
NEAREST = (4, 2)

PASSES = (
    "tanggal_lahir", "tanggal_kata", "tanggal_tertukar", "nama_tahun", "nama_akhir_bulan", "nkk",
    "tanggal_desa", "ibu_tahun", "alamat_tahun", "nama_depan_kecamatan",
    "nama_akhir_inisial_kecamatan", "nama_terbalik",
)  # fmt: skip


def _ranks(f: Fields, date: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each person's place (0 … n-1) in name order, in birth date then name order, and in
    the order of their name's first and last words sorted (JACK NICOL next to NICOL JADK):
    the orders in which likely copies sit next to each other in a large block."""
    vocab = pa.array(f.vocab["nama_norm"], pa.string())
    alphabetical = np.empty(len(vocab), dtype=np.int64)
    alphabetical[pc.sort_indices(vocab).to_numpy()] = np.arange(len(vocab))
    codes = f.codes["nama_norm"]
    name = np.where(codes >= 0, alphabetical[np.maximum(codes, 0)], -1)
    ranks = []
    low = np.minimum(f.codes["first_w"], f.codes["last_w"])
    high = np.maximum(f.codes["first_w"], f.codes["last_w"])
    for order in (np.argsort(name, kind="stable"), np.lexsort((name, date)),
                  np.lexsort((name, high, low))):  # fmt: skip
        rank = np.empty(f.n, dtype=np.int64)
        rank[order] = np.arange(f.n)
        ranks.append(rank)
    return tuple(ranks)


def block(f: Fields) -> tuple[np.ndarray, np.ndarray, dict, dict[str, np.ndarray]]:
    """Candidate pairs (i < j) from every pass; per pass its figures, and its pairs (as codes
    i * n + j). Passes keyed on a date order their large blocks by name, the others by date."""
    c = f.codes
    date = np.where(f.y > 0, f.y * 10000 + f.m * 100 + f.d, -1)
    swapped = np.where((f.y > 0) & (f.d <= 12) & (f.d != f.m), f.y * 10000 + f.d * 100 + f.m, -1)
    year = np.where(f.y > 0, f.y, -1)
    month = np.where(f.y > 0, f.y * 100 + f.m, -1)
    sex, initial = _optional(c["sex"]), _optional(c["inti"])
    by_name, by_date, by_words = _ranks(f, date)
    keys = {
        "tanggal_lahir": (_combine(date, sex, initial), by_name),
        # the same date whatever the name's first letter, its words in order of the letters
        "tanggal_kata": (_combine(date, sex), by_words),
        "nama_tahun": (_combine(c["nama_norm"], year), by_date),
        "nama_akhir_bulan": (_combine(c["last"], month), by_date),
        "nkk": (c["nkk"].copy(), by_date),
        "tanggal_desa": (_combine(date, c["desa"]), by_name),
        "ibu_tahun": (_combine(c["ibu"], year), by_date),
        "alamat_tahun": (_combine(c["alamat"], year), by_date),
        "nama_depan_kecamatan": (_combine(c["given"], c["kec"]), by_date),
        "nama_akhir_inisial_kecamatan": (_combine(c["last"], c["inti"], c["kec"]), by_date),
        # first and last word in either order: GEORGIA WHITE / WHITE GEORGIA
        "nama_terbalik": (_combine(np.minimum(c["first_w"], c["last_w"]),
                                   np.maximum(c["first_w"], c["last_w"])), by_date),
    }  # fmt: skip
    found, stats = {}, {}
    for name, (key, rank) in keys.items():
        full, window = NEAREST if name == "tanggal_kata" else (FULL_BLOCK, 0 if name in
                                                               DATELESS else WINDOW)  # fmt: skip
        a, b, stats[name] = _pairs_on(key, rank, full, window)
        found[name] = a * f.n + b
    # one person's day/month swapped against the other's date (same sex and initial)
    both = _combine(np.concatenate([date, swapped]), np.tile(sex, 2), np.tile(initial, 2))
    a, b, stats["tanggal_tertukar"] = _pairs_on(both, np.tile(by_name, 2))
    a, b = a % f.n, b % f.n
    keep = a != b
    found["tanggal_tertukar"] = np.minimum(a[keep], b[keep]) * f.n + np.maximum(a[keep], b[keep])
    stats["tanggal_tertukar"]["pairs"] = int(keep.sum())
    code = distinct(np.concatenate(list(found.values())))
    return code // f.n, code % f.n, stats, found


# --- comparisons ---------------------------------------------------------------------------


def _sim(f: Fields, column: str, li: np.ndarray, ri: np.ndarray, scorer) -> np.ndarray:
    """A rapidfuzz scorer per pair, computed once per distinct pair of values (common names
    meet many times) on the values themselves; an empty text where one is missing."""
    from rapidfuzz import process

    if len(li) == 0:
        return np.empty(0)
    key = TEXT_CODES[column]
    codes, vocab = f.codes[key], np.append(f.vocab[key].astype(object), "")
    a, b = codes[li], codes[ri]
    a, b = np.where(a < 0, len(vocab) - 1, a), np.where(b < 0, len(vocab) - 1, b)
    pair, back = np.unique(a * len(vocab) + b, return_inverse=True)
    left, right = vocab[pair // len(vocab)], vocab[pair % len(vocab)]
    return np.asarray(process.cpdist(left, right, scorer=scorer, workers=-1), dtype=float)[back]


def _levels(*conditions: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Level = the highest index whose condition holds (conditions for levels 1, 2, …)."""
    level = np.zeros(len(missing), dtype=np.int8)
    for i, cond in enumerate(conditions, 1):
        level[cond] = i
    level[missing] = -1
    return level


UNSURE = 99  # a level only string similarity can settle (see CANDIDATES)
# the levels an UNSURE comparison can still reach
CANDIDATES = {"nama": (0, 1, 2, 3), "tempat_lahir": (0, 1), "domisili": (3, 4), "nama_ibu": (0, 1)}


def compare(f: Fields, li: np.ndarray, ri: np.ndarray, strings: bool = True,
            ) -> dict[str, np.ndarray]:  # fmt: skip
    """Level per comparison for each pair (int8, -1 where a value is missing). Without
    `strings`, only what integer codes settle: the rest is UNSURE (no string work)."""
    c = f.codes

    def same(key: str) -> np.ndarray:
        return c[key][li] == c[key][ri]

    def gone(key: str) -> np.ndarray:
        return (c[key][li] < 0) | (c[key][ri] < 0)

    def settled(equal: np.ndarray, missing: np.ndarray, top: int) -> np.ndarray:
        level = np.where(equal, top, UNSURE).astype(np.int8)
        level[missing] = -1
        return level

    same_y, same_m, same_d = f.y[li] == f.y[ri], f.m[li] == f.m[ri], f.d[li] == f.d[ri]
    swap = same_y & (f.d[li] == f.m[ri]) & (f.m[li] == f.d[ri]) & (f.d[li] != f.m[li])
    one_digit = np.zeros(len(li), dtype=bool)  # DDMMYYYY one digit apart
    for part, width, only in ((f.y, 4, ~same_y & same_m & same_d),
                              (f.m, 2, same_y & ~same_m & same_d),
                              (f.d, 2, same_y & same_m & ~same_d)):  # fmt: skip
        idx = np.flatnonzero(only)
        a, b = part[li[idx]], part[ri[idx]]
        one_digit[idx] = sum(((a // 10**k) % 10 != (b // 10**k) % 10).astype(np.int8)
                             for k in range(width)) == 1  # fmt: skip
    days = np.abs(f.days[li] - f.days[ri])
    same_desa, same_alamat = same("desa"), same("alamat")
    family = same("nkk") & (c["nkk"][li] >= 0)
    address_unsure = same_desa & ~same_alamat & ~gone("alamat") & ~family
    domisili = _levels(same("kab"), same("kec"), same_desa, np.zeros(len(li), dtype=bool),
                       same_desa & same_alamat, family, missing=gone("desa"))  # fmt: skip
    domisili[address_unsure & (domisili >= 0)] = UNSURE
    name = np.where(same("nama"), 5, 4).astype(np.int8)
    name[~same("nama_norm")] = UNSURE
    name[gone("nama_norm")] = -1
    levels = {
        "nama": name,
        "tanggal_lahir": _levels(same_y, days <= 31, one_digit, swap, same_y & same_m & same_d,
                                 missing=(f.y[li] == 0) | (f.y[ri] == 0)),
        "jenis_kelamin": _levels(same("sex"), missing=gone("sex")),
        "tempat_lahir": settled(same("place"), gone("place"), 2),
        "domisili": domisili,
        "nama_ibu": settled(same("ibu"), gone("ibu"), 2),
    }  # fmt: skip
    if strings:
        _settle(f, li, ri, levels)
    return levels


def _settle(f: Fields, li: np.ndarray, ri: np.ndarray, levels: dict[str, np.ndarray],
            which: tuple[str, ...] = tuple(CANDIDATES)) -> None:  # fmt: skip
    """Replace the UNSURE levels of the comparisons `which` by what string similarity says
    (in place)."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Indel, JaroWinkler

    def similarity(column: str, scorer, idx: np.ndarray) -> np.ndarray:
        return _sim(f, column, li[idx], ri[idx], scorer)

    if "nama" in which:
        idx = np.flatnonzero(levels["nama"] == UNSURE)
        # edit (Indel) similarity over the whole name: Jaro-Winkler scores an inserted letter
        # in the middle low (YANI/YANNI NAINGGOLAN 0.91) and a shared first name high
        close = similarity("nama_norm", Indel.normalized_similarity, idx) >= 0.90
        # siblings share a family name, so a similar full name also needs a similar given name
        close[close] = similarity("nama_inti", JaroWinkler.normalized_similarity,
                                  idx[close]) >= 0.85  # fmt: skip
        level = np.where(close, 3, 0).astype(np.int8)
        far = np.flatnonzero(~close)
        same_words = similarity("nama_norm", fuzz.token_set_ratio, idx[far]) >= 100
        level[far[same_words]] = 2
        rest = far[~same_words]
        # a few letters apart once the words are sorted (typos, words in another order)
        level[rest] = np.where(similarity("nama_norm", fuzz.token_sort_ratio, idx[rest]) >= 80,
                               1, 0)  # fmt: skip
        levels["nama"][idx] = level
    for key, column, scorer, cut, low in (
        ("tempat_lahir", "tempat_lahir", JaroWinkler.normalized_similarity, 0.88, 0),
        ("domisili", "alamat", fuzz.token_set_ratio, 90, 3),
        ("nama_ibu", "nama_ibu", JaroWinkler.normalized_similarity, 0.90, 0),
    ):  # fmt: skip
        if key in which:
            idx = np.flatnonzero(levels[key] == UNSURE)
            alike = similarity(column, scorer, idx) >= cut
            if key == "nama_ibu":  # SITI / SITI AMINAH: one word missing is alike too
                alike[~alike] = similarity(column, fuzz.token_set_ratio, idx[~alike]) >= 100
            levels[key][idx] = np.where(alike, low + 1, low)


COMPARE_CHUNK = 1_000_000  # pairs compared at once: bounds the memory of the string work


def compare_in_chunks(f: Fields, li: np.ndarray, ri: np.ndarray) -> dict[str, np.ndarray]:
    """`compare` over many pairs, a chunk at a time (only the int8 levels are kept)."""
    parts = [compare(f, li[i : i + COMPARE_CHUNK], ri[i : i + COMPARE_CHUNK])
             for i in range(0, max(len(li), 1), COMPARE_CHUNK)]  # fmt: skip
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _epoch_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of (year, month, day) arrays, in integer arithmetic (H. Hinnant's
    days_from_civil); 0 where the year is unknown."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


# --- training --------------------------------------------------------------------------------


def random_pairs(n: int, count: int = RANDOM_PAIRS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    a = rng.integers(0, n, count)
    b = rng.integers(0, n - 1, count)
    b = b + (b >= a)  # never a pair of a person with themselves
    return np.minimum(a, b), np.maximum(a, b)


def estimate_u(levels: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Share of each level among random pairs (nearly all non-matches), half-count smoothed."""
    u = {}
    for comp in COMPARISONS:
        seen = levels[comp.name]
        seen = seen[seen >= 0]
        counts = np.bincount(seen, minlength=len(comp.levels)) + 0.5
        u[comp.name] = list(counts / counts.sum())
    return u


def em(levels: dict[str, np.ndarray], u: dict[str, list[float]], total_pairs: float,
       prior: float, m: dict[str, np.ndarray], update: tuple[str, ...],
       use: tuple[str, ...], u_family: dict | None = None, scale: float = 1.0,
       ) -> tuple[dict[str, np.ndarray], float, int]:  # fmt: skip
    """EM over the distinct comparison patterns of `levels` (u fixed): the comparisons in
    `use` make the likelihood, those in `update` get new m; the match share is over
    `total_pairs` (pairs not in `levels` count as non-matches); pairs of one KK use
    `u_family`; each pair in `levels` stands for `scale` pairs (a sample). Returns m, share,
    iterations."""
    columns = (*use, "domisili") if "domisili" not in use else use
    # one integer per comparison pattern (levels + 1 < 8: three bits each), counted once
    code = np.zeros(len(levels["nama"]), dtype=np.int64)
    for k in columns:
        code = code * 8 + levels[k].astype(np.int64) + 1
    code = np.sort(code)
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    patterns, counts = code[starts], np.diff(np.r_[starts, len(code)]) * scale
    shifts = 3 * np.arange(len(columns) - 1, -1, -1)
    levels_of = ((patterns[:, None] >> shifts) & 7) - 1
    family = levels_of[:, columns.index("domisili")] == FAMILY_LEVEL
    m = {k: np.asarray(v, dtype=float) for k, v in m.items()}
    u_family = u_family or u
    log_u = {k: np.log(np.asarray(u[k])) for k in use}
    log_uf = {k: np.log(np.asarray(u_family.get(k, u[k]) if k != "domisili" else u[k]))
              for k in use}  # fmt: skip
    iteration = 0
    while iteration < EM_ITERATIONS:
        iteration += 1
        log_match = np.full(len(patterns), np.log(prior))
        log_non = np.full(len(patterns), np.log1p(-prior))
        for j, k in enumerate(use):
            lv = levels_of[:, j]
            ok = lv >= 0
            log_match[ok] += np.log(m[k][lv[ok]])
            log_non[ok] += np.where(family[ok], log_uf[k][lv[ok]], log_u[k][lv[ok]])
        expected = counts / (1 + np.exp(np.clip(log_non - log_match, -700, 700)))
        new_prior = min(max(expected.sum() / total_pairs, 1e-15), 0.999)
        change = abs(new_prior - prior) / prior
        for j, k in enumerate(use):
            if k not in update:
                continue
            lv = levels_of[:, j]
            ok = lv >= 0
            tally = np.bincount(lv[ok], weights=expected[ok], minlength=len(m[k]))
            new_m = np.maximum(tally / max(tally.sum(), 1e-300), M_FLOOR)
            new_m = new_m / new_m.sum()
            change = max(change, float(np.abs(new_m - m[k]).max()))
            m[k] = new_m
        prior = new_prior
        if change < EM_TOLERANCE:
            break
    return m, prior, iteration


# Training sessions (as Splink trains): each runs on the pairs of some blocking passes and
# leaves out the comparisons those passes force to agree, whose m it cannot learn there;
# what an earlier session learnt stays fixed in a later one. Session 1: the birth-date passes
# (date, sex and initial agree) teach names, birth place and residence. Session 2: people of
# one KK (residence agrees) teach birth dates and sex: a copy has the same date, a relative not.
SESSIONS = (
    (("tanggal_lahir", "tanggal_tertukar"), ("tanggal_lahir", "jenis_kelamin")),
    (("nkk",), ("domisili",)),
)


def _sample(codes: np.ndarray, count: int = TRAIN_PAIRS) -> np.ndarray:
    """At most `count` of the distinct pair codes, drawn at random (seeded: reproducible)."""
    codes = distinct(codes)
    if len(codes) <= count:
        return codes
    return codes[np.sort(np.random.default_rng(SEED).choice(len(codes), count, replace=False))]


def _training_levels(f: Fields, codes: np.ndarray) -> dict[str, np.ndarray]:
    """Levels of the pairs `codes` (i * n + j), twins left out: known non-matches do not
    teach m."""
    li, ri = codes // f.n, codes % f.n
    levels = compare_in_chunks(f, li, ri)
    twin = twins(f, li, ri)
    return {k: v[~twin] for k, v in levels.items()}


def train(f: Fields, li: np.ndarray, ri: np.ndarray, passes: dict[str, np.ndarray]) -> Model:
    """The model for these people: u from random pairs; m by EM in the sessions above (each
    comparison from the first session that does not block on it); then the share of matching
    pairs among all blocked pairs by EM with m fixed. Each step learns from a random sample
    of at most TRAIN_PAIRS pairs."""
    a, b = random_pairs(f.n)
    u = estimate_u(compare(f, a, b))
    names = tuple(c.name for c in COMPARISONS)
    start = {c.name: np.geomspace(1, 50, len(c.levels)) for c in COMPARISONS}
    m = {k: v / v.sum() for k, v in start.items()}  # matches mostly agree at the top level
    family = _training_levels(f, _sample(passes["nkk"]))
    u_family = estimate_u(family) if len(family["nama"]) >= 100 else u
    learnt: dict[str, np.ndarray] = {}
    sessions = []
    for session_passes, left_out in SESSIONS:
        subset = _training_levels(f, _sample(np.concatenate([passes[p] for p in session_passes])))
        pairs = len(subset["nama"])
        if pairs < 100:
            continue
        use = tuple(k for k in names if k not in left_out)
        # what an earlier session learnt stays fixed here: it anchors the classes
        update = tuple(k for k in use if k not in learnt)
        current = {**m, **learnt}
        found, share, iterations = em(subset, u, pairs, 0.01, current, update, use, u_family)
        sessions.append({"blocked_on": list(left_out), "learnt": list(update), "pairs": pairs,
                         "match_share": round(share, 6), "em_iterations": iterations})  # fmt: skip
        learnt.update({k: found[k] for k in update})
    m = {k: learnt.get(k, m[k]) for k in names}
    total = f.n * (f.n - 1) / 2
    blocked = _sample(li * f.n + ri)
    scale = len(li) / max(len(blocked), 1)  # each sampled pair stands for this many
    _, share, _ = em(_training_levels(f, blocked), u, total, min(0.5, 0.01 * f.n / total), m, (),
                     names, u_family, scale)  # fmt: skip
    counts = np.bincount(f.codes["nama_norm"] + 1)[1:]
    top = np.argsort(counts)[::-1][:10]
    common_names = pa.array(f.vocab["nama_norm"][top], pa.string()).to_pylist()
    common = [[name, int(counts[i])] for name, i in zip(common_names, top, strict=True)]
    trained = {"people": f.n, "blocked_pairs": len(li), "random_pairs": len(a),
               "sampled_pairs": len(blocked), "sessions": sessions}  # fmt: skip
    return Model({k: list(v) for k, v in m.items()}, u, share * total / f.n, u_family, trained,
                 common)  # fmt: skip


def default_model() -> Model:
    return load_model(DEFAULT_MODEL)


# --- scoring -------------------------------------------------------------------------------


def term_frequency(codes: np.ndarray) -> np.ndarray:
    """Share of people holding each person's value (NaN where missing)."""
    counts = np.bincount(codes + 1)
    return np.where(codes >= 0, counts[codes + 1] / max(len(codes), 1), np.nan)


def name_frequencies(f: Fields) -> dict[str, np.ndarray]:
    """Per person, the share of people holding their name and their mother's name."""
    return {"nama": term_frequency(f.codes["nama_norm"]),
            "nama_ibu": term_frequency(f.codes["ibu"])}  # fmt: skip


def score(model: Model, f: Fields, li: np.ndarray, ri: np.ndarray,
          levels: dict[str, np.ndarray], tf: dict[str, np.ndarray] | None = None,
          ) -> tuple[np.ndarray, dict[str, np.ndarray]]:  # fmt: skip
    """Match probability and the match weight (bits) of each comparison, per pair. An UNSURE
    level weighs as the best level it can still reach: the probability is then an upper
    bound (what the pair could reach once strings are compared)."""
    tf = tf if tf is not None else name_frequencies(f)
    use_tf = f.n >= MIN_TRAIN  # a frequency in a handful of people is noise
    family = levels["domisili"] == FAMILY_LEVEL
    general, within = model.weights(), model.weights(family=True)
    parts = {}
    for comp in COMPARISONS:
        k, top = comp.name, len(comp.levels)
        best = list(CANDIDATES.get(k, (0,)))
        table = np.append(general[k], general[k][best].max())
        table_family = np.append(within[k], within[k][best].max())
        raw = levels[k]
        lv = np.where(raw == UNSURE, top, np.maximum(raw, 0))
        w = np.where(family, table_family[lv], table[lv])
        if use_tf and comp.tf_levels:  # not inside a family: relatives share names
            value_u = np.maximum(tf[k][li], 1 / f.n)
            tf_weight = np.log2(np.asarray(model.m[k])[np.minimum(lv, top - 1)] / value_u)
            w = np.where(np.isin(lv, comp.tf_levels) & ~family, np.maximum(
                np.minimum(tf_weight, general[k].max() + TF_MAX_GAIN), 0), w)  # fmt: skip
        parts[k] = np.where(raw >= 0, w, 0.0)
    # a small input is a sample of a larger registry: its prior is that of MIN_TRAIN people
    people = max(f.n, MIN_TRAIN)
    prior = min(2 * model.matches_per_record / (people - 1), 0.5)
    weight = np.log2(prior / (1 - prior)) + sum(parts.values())
    return 1 / (1 + np.exp2(-weight)), parts


def twins(f: Fields, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Same KK and birth date, given names two or more edits apart and not the same words in
    another order: twins, never linked."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Levenshtein

    same_kk = (f.codes["nkk"][li] == f.codes["nkk"][ri]) & (f.codes["nkk"][li] >= 0)
    same_date = (f.y[li] == f.y[ri]) & (f.m[li] == f.m[ri]) & (f.d[li] == f.d[ri])
    out = np.zeros(len(li), dtype=bool)
    idx = np.flatnonzero(same_kk & same_date)
    if len(idx):
        apart = _sim(f, "nama_inti", li[idx], ri[idx], Levenshtein.distance) >= 2
        reordered = _sim(f, "nama_norm", li[idx], ri[idx], fuzz.token_set_ratio) >= 100
        out[idx] = apart & ~reordered
    return out


def explain(levels: dict[str, np.ndarray], parts: dict[str, np.ndarray], f: Fields,
            li: np.ndarray, strongest: int = 4) -> np.ndarray:  # fmt: skip
    """A short Indonesian reason per pair from its strongest comparisons, e.g. "nama sama
    (jarang), tanggal lahir sama, tempat lahir sama, KK berbeda"."""
    names = [c.name for c in COMPARISONS]
    if len(li) == 0:
        return np.empty(0, dtype=object)
    weights = np.stack([np.abs(parts[k]) for k in names], axis=1)
    order = np.argsort(-weights, axis=1, kind="stable")[:, :strongest]
    tf = term_frequency(f.codes["nama_norm"])[li]
    rarity = np.where(tf * f.n <= 2, " (jarang)", np.where(tf >= 0.001, " (umum)", ""))
    rarity = rarity if f.n >= MIN_TRAIN else np.full(len(li), "")
    labels = []
    for comp in COMPARISONS:
        text = np.asarray(comp.levels, dtype=object)[np.maximum(levels[comp.name], 0)]
        if comp.name == "nama":
            text = np.where(levels["nama"] >= 4, text + rarity, text)
        labels.append(np.where(levels[comp.name] >= 0, text, ""))
    table = np.stack(labels, axis=1)
    picked = np.take_along_axis(table, order, axis=1)
    shown = np.take_along_axis(weights, order, axis=1) > 0
    out = np.where(shown[:, 0], picked[:, 0], "")
    for k in range(1, picked.shape[1]):
        out = np.where(shown[:, k], out + ", " + picked[:, k], out)
    return out.astype(object)


# --- the whole stage -------------------------------------------------------------------------


@dataclass
class K3Pairs:
    """Scored candidate pairs (positions into the compared table)."""

    left: np.ndarray
    right: np.ndarray
    probability: np.ndarray
    weights: dict[str, np.ndarray]
    reason: np.ndarray
    model: Model
    blocking: dict
    compared: int = 0
    model_source: str = "input"  # input (trained here), file (--k3-model) or packaged
    strings_compared: int = 0  # pairs that could reach the threshold: all strings compared


def link(table: pa.Table, model: Model | None = None, threshold: float = 0.5) -> K3Pairs:
    """K3 pairs with a match probability ≥ threshold among `table`'s people (distinct NIKs).
    Without `model`, one is trained on the table (the packaged one when it is too small).
    Twins, and namesakes (both mothers' names recorded and unlike), are never linked.

    Pairs are scored a chunk at a time: first on what integer codes settle, which bounds the
    probability from above; strings are compared only for the pairs that can still reach
    the threshold (an exact shortcut: no pair that could reach it is dropped)."""
    f = fields_of(table)
    if f.n < 2:
        empty = np.empty(0, np.int64)
        source = "file" if model else "packaged"
        return K3Pairs(empty, empty, np.empty(0), {}, np.empty(0, object),
                       model or default_model(), {}, 0, source)  # fmt: skip
    li, ri, blocking, passes = block(f)
    source = "file"
    if model is None:
        source = "input" if f.n >= MIN_TRAIN else "packaged"
        model = train(f, li, ri, passes) if f.n >= MIN_TRAIN else default_model()
    del passes
    tf = name_frequencies(f)
    found: list[tuple] = []
    strings = 0
    for start in range(0, len(li), COMPARE_CHUNK):
        left, right = li[start : start + COMPARE_CHUNK], ri[start : start + COMPARE_CHUNK]
        levels = compare(f, left, right, strings=False)
        # names first (the strongest evidence), then the other strings, each time only for
        # the pairs that can still reach the threshold
        for which in (("nama",), ("tempat_lahir", "domisili", "nama_ibu")):
            bound, _ = score(model, f, left, right, levels, tf)
            hopeful = np.flatnonzero(bound >= threshold)
            left, right = left[hopeful], right[hopeful]
            levels = {k: v[hopeful] for k, v in levels.items()}
            _settle(f, left, right, levels, which)
        strings += len(left)
        probability, parts = score(model, f, left, right, levels, tf)
        probability[twins(f, left, right) | (levels["nama_ibu"] == 0)] = 0.0
        keep = np.flatnonzero(probability >= threshold)
        found.append((left[keep], right[keep], probability[keep],
                      {k: v[keep] for k, v in levels.items()},
                      {k: v[keep] for k, v in parts.items()}))  # fmt: skip
    left, right, probability = (np.concatenate([x[i] for x in found]) for i in range(3))
    levels, parts = ({k: np.concatenate([x[i][k] for x in found]) for k in found[0][i]}
                     for i in (3, 4))  # fmt: skip
    reason = explain(levels, parts, f, left)
    left_out = sum(s["pairs_not_compared"] for s in blocking.values())
    if left_out:
        log.info("K3: %d pairs in large blocks were not compared", left_out)
    return K3Pairs(left, right, probability, parts, reason, model, blocking, len(li), source,
                   strings)  # fmt: skip
