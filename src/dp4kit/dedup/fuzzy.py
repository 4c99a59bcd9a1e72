"""Same person under different NIKs (K3): blocking, vectorized pair scoring, plain reasons.

Candidate pairs come from integer blocking keys (birth date + sex + birth place + first two
letters of the given name; NKK + sex + its first letter; one person's day/month swapped
against the other's date), so only people who could be the same are compared. Each pair is
scored with rapidfuzz's element-wise `cpdist` (C++, multi-threaded; no Python loop over
pairs). Twins (same NKK, birth date and place) differ in their given names, which the
decision requires to match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

MAX_BLOCK = 1000  # people in one block; a larger birth-date block (placeholder dates: 1 July,
# 31 December) is split by the name's first four letters; what is still too large is not
# compared and counted in `oversized_blocks`.
# Name similarity needed: 0.90 with family or address evidence (same NKK or address), else
# 0.95; 0.95 too when the birth dates differ by a swap or one digit. Given names ≥ 0.85.
NAME_MIN, NAME_MIN_NO_LINK, GIVEN_MIN, NEAR_DATE_NAME_MIN = 0.90, 0.95, 0.85, 0.95
# Without a family or address link, a common name on the same birthday is weak evidence
# (term frequency): such a pair is a candidate only if at most this many people share the name.
COMMON_NAME = 5
WEIGHTS = {"name": 0.6, "given": 0.15, "date": 0.15, "place": 0.05, "nkk": 0.05}
COLUMNS = (
    "nama_norm",
    "nama_inti",
    "tanggal_lahir",
    "jenis_kelamin",
    "tempat_lahir_norm",
    "nkk",
    "alamat_norm",
)


@dataclass
class FuzzyPairs:
    """Candidate pairs (positions into the compared table), their score and reason."""

    left: np.ndarray
    right: np.ndarray
    score: np.ndarray
    reason: np.ndarray
    oversized_blocks: int = 0


def value_codes(values: pa.Array) -> np.ndarray:
    """Small integer per distinct value (-1 for null), via Arrow dictionary encoding."""
    if isinstance(values, pa.ChunkedArray):  # one dictionary for all chunks, not one each
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    return pc.fill_null(encoded.indices.cast(pa.int64()), -1).to_numpy(zero_copy_only=False)


def _pairs_on(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """All (i < j) position pairs sharing a key (>= 0), oversized blocks skipped. Pure numpy:
    sort by key, then every element pairs with the elements after it in its block."""
    pos = np.flatnonzero(key >= 0)
    if len(pos) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64), 0
    pos = pos[np.argsort(key[pos], kind="stable")]
    sorted_keys = key[pos]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(pos)])
    oversized = int((sizes > MAX_BLOCK).sum())
    size_of = np.repeat(sizes, sizes)
    end_of = np.repeat(starts + sizes, sizes)
    at = np.arange(len(pos))
    partners = np.where(size_of <= MAX_BLOCK, end_of - at - 1, 0)
    total = int(partners.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), oversized
    left = np.repeat(at, partners)
    offset = np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners)
    right = left + 1 + offset
    a, b = pos[left], pos[right]
    return np.minimum(a, b), np.maximum(a, b), oversized


def _cpdist(a: list, b: list, scorer) -> np.ndarray:
    from rapidfuzz import process

    if len(a) == 0:
        return np.empty(0)
    return np.asarray(process.cpdist(a, b, scorer=scorer, workers=-1), dtype=float)


def find_candidates(table: pa.Table) -> FuzzyPairs:
    """K3 candidates among `table` rows (one row per distinct person: their NIKs differ).
    `table` has the COLUMNS above (Arrow; tanggal_lahir a date)."""
    from rapidfuzz.distance import Hamming, Indel

    n = table.num_rows
    if n < 2:
        empty = np.empty(0, dtype=np.int64)
        return FuzzyPairs(empty, empty, np.empty(0), np.empty(0, dtype=object))
    name = table["nama_norm"]
    born = table["tanggal_lahir"]
    y = pc.fill_null(pc.year(born), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    m = pc.fill_null(pc.month(born), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    d = pc.fill_null(pc.day(born), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    # The decision needs the same sex and the same birth place or NKK, so those go into the
    # blocking keys: blocks stay small however large the regency.
    sex = value_codes(table["jenis_kelamin"]) + 1
    place = value_codes(table["tempat_lahir_norm"])
    nkk = value_codes(table["nkk"])
    # the given name (not MUHAMMAD, SITI, …, which open a large share of names) must match for
    # a candidate, so its first letters make selective keys
    given = table["nama_inti"]
    letter = value_codes(pc.utf8_slice_codeunits(given, 0, 1)) + 1
    letters = value_codes(pc.utf8_slice_codeunits(given, 0, 2)) + 1
    n_place, n_letters, n_letter = place.max() + 2, letters.max() + 1, letter.max() + 1

    def person_key(day, month):
        date = y * 10000 + month * 100 + day
        key = ((date * 4 + sex) * n_place + place) * n_letters + letters
        return np.where((y > 0) & (place >= 0), key, -1)

    date_key = person_key(d, m)
    swap_key = np.where(d <= 12, person_key(m, d), -1)
    nkk_key = np.where(nkk >= 0, (nkk * 4 + sex) * n_letter + letter, -1)

    block = pd.factorize(date_key)[0]
    big = (np.bincount(block)[block] > MAX_BLOCK) & (date_key >= 0)
    split_key = np.full(n, -1, dtype=np.int64)
    if big.any():  # split oversized blocks (placeholder dates) by the name's first 4 letters
        idx = pa.array(np.flatnonzero(big))
        prefix = pc.utf8_slice_codeunits(pc.take(name, idx), 0, 4)
        block_text = pc.cast(pa.array(date_key[big]), pa.string())
        combo = pc.binary_join_element_wise(block_text, prefix, "|")
        split_key[big] = value_codes(combo)
    left, right, oversized = [], [], 0
    for key in (np.where(big, -1, date_key), split_key, nkk_key):
        a, b, o = _pairs_on(key)
        left.append(a)
        right.append(b)
        oversized += o
    # one person's day/month swapped against the other's real date
    a, b, o = _pairs_on(np.concatenate([np.where(big, -1, date_key), swap_key]))
    a, b = a % n, b % n
    keep = a != b
    left.append(np.minimum(a[keep], b[keep]))
    right.append(np.maximum(a[keep], b[keep]))
    oversized += o
    if oversized:
        log.info("K3: %d blocks over %d people were not compared", oversized, MAX_BLOCK)
    code = np.unique(np.concatenate(left) * n + np.concatenate(right))
    li, ri = code // n, code % n
    # Cheap integer tests first: same sex, birth date related, same place or same NKK.
    date_int = y * 10000 + m * 100 + d
    same_date = date_int[li] == date_int[ri]
    swap = (y[li] * 10000 + d[li] * 100 + m[li] == date_int[ri]) & ~same_date
    same_place = (place[li] == place[ri]) & (place[li] >= 0)
    same_nkk = (nkk[li] == nkk[ri]) & (nkk[li] >= 0)
    keep = (sex[li] == sex[ri]) & (same_place | same_nkk)
    li, ri, same_date, swap = li[keep], ri[keep], same_date[keep], swap[keep]
    same_place, same_nkk = same_place[keep], same_nkk[keep]
    if len(li) == 0:
        empty = np.empty(0)
        return FuzzyPairs(li, ri, empty, empty.astype(object), oversized)
    one_digit = np.zeros(len(li), dtype=bool)
    other = np.flatnonzero(~same_date & ~swap)
    if len(other):  # a one-digit typo in DDMMYYYY
        date_l = _ddmmyyyy(d[li[other]], m[li[other]], y[li[other]])
        date_r = _ddmmyyyy(d[ri[other]], m[ri[other]], y[ri[other]])
        one_digit[other] = _cpdist(date_l.tolist(), date_r.tolist(), Hamming.distance) == 1
    near_date = ~same_date & (one_digit | swap)

    L, R = pa.array(li), pa.array(ri)

    def side(column: str, idx: pa.Array) -> list:
        return pc.fill_null(pc.take(table[column], idx), "").to_pylist()

    # Indel (edit) similarity over the whole name: Jaro-Winkler's prefix bonus would pair
    # "YULIA PRABOWO" with "YULIA SAPTONO" (same given name, other family).
    name_sim = _cpdist(side("nama_norm", L), side("nama_norm", R), Indel.normalized_similarity)
    given_sim = _cpdist(side("nama_inti", L), side("nama_inti", R), Indel.normalized_similarity)
    address = value_codes(table["alamat_norm"])
    same_address = (address[li] == address[ri]) & (address[li] >= 0)
    linked = same_nkk | same_address
    name_codes = value_codes(table["nama_norm"])
    name_count = np.bincount(name_codes + 1)[name_codes + 1]
    rare = np.minimum(name_count[li], name_count[ri]) <= COMMON_NAME
    candidate = (
        (linked | rare)
        & (name_sim >= np.where(linked, NAME_MIN, NAME_MIN_NO_LINK))
        & (given_sim >= GIVEN_MIN)
        & (same_date | (near_date & (name_sim >= NEAR_DATE_NAME_MIN)))
    )
    date_score = np.where(same_date, 1.0, np.where(near_date, 0.8, 0.0))
    score = (
        WEIGHTS["name"] * name_sim
        + WEIGHTS["given"] * given_sim
        + WEIGHTS["date"] * date_score
        + WEIGHTS["place"] * same_place
        + WEIGHTS["nkk"] * same_nkk
    ).round(3)
    keep = np.flatnonzero(candidate)
    reason = _reasons(
        name_sim[keep],
        same_date[keep],
        swap[keep],
        same_place[keep],
        same_nkk[keep],
        same_address[keep],
    )
    return FuzzyPairs(li[keep], ri[keep], score[keep], reason, oversized)


def _ddmmyyyy(first: np.ndarray, second: np.ndarray, year: np.ndarray) -> np.ndarray:
    """DDMMYYYY text of (day, month, year) integer arrays, for digit-level comparison."""
    dm = np.char.add(np.char.zfill(first.astype(str), 2), np.char.zfill(second.astype(str), 2))
    return np.char.add(dm, np.char.zfill(year.astype(str), 4))


def _reasons(name_sim, same_date, swap, same_place, same_nkk, same_address) -> np.ndarray:
    """'nama mirip 0.95, tanggal lahir sama, tempat lahir sama, NKK sama' per pair."""
    text = np.char.add("nama mirip ", np.char.mod("%.2f", name_sim))
    date = np.where(
        same_date,
        ", tanggal lahir sama",
        np.where(swap, ", tanggal/bulan lahir tertukar", ", tanggal lahir beda 1 digit"),
    )
    text = np.char.add(text, date)
    text = np.char.add(text, np.where(same_place, ", tempat lahir sama", ""))
    text = np.char.add(text, np.where(same_nkk, ", NKK sama", ""))
    text = np.char.add(text, np.where(same_address, ", alamat sama", ""))
    return text.astype(object)


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components of the pair graph: the smallest position in each group labels it."""
    labels = np.arange(n)
    if len(left) == 0:
        return labels
    while True:
        low = np.minimum(labels[left], labels[right])
        before = labels.copy()
        np.minimum.at(labels, left, low)
        np.minimum.at(labels, right, low)
        labels = labels[labels]  # pointer jumping
        if np.array_equal(labels, before):
            return labels
