"""K3 blocking: candidate pairs from a union of independent passes (birth date, swapped birth
date, name + year, last name word + year and month, NKK, date + desa, mother's name + year, …),
so that one error in any one field does not hide a pair. Large blocks are compared in a sorted
window, so the pairs grow linearly with the input (the pairs left out are counted)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.dedup.features import Fields
from dp4kit.stages import in_threads


def _pairs_on(
    key: np.ndarray,
    rank: np.ndarray | None = None,
    full: int = 0,
    window: int | None = None,
    in_order: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Pairs (i < j) sharing a key (≥ 0). Blocks of up to `full` people give all
    their pairs; in a larger block each person meets the `window` people after them in the
    order of `rank` (a sorted neighbourhood; 0: large blocks are left out), so the pairs grow
    linearly with the input, never quadratically. Also returns the pass's figures: pairs,
    and the large blocks and the pairs in them left out. `in_order`: the people in `rank`
    order (the inverse of `rank`; computed when not given)."""
    full = full or FULL_BLOCK
    window = WINDOW if window is None else window
    pos = np.flatnonzero(key >= 0)
    empty = np.empty(0, np.int64)
    stats = {"pairs": 0, "large_blocks": 0, "pairs_not_compared": 0}
    if len(pos) < 2:
        return empty, empty, stats
    size = len(key)
    keys = key[pos].astype(np.int64)
    if keys.max() >= np.iinfo(np.int64).max // size:  # too large to combine with rank
        keys = pd.factorize(keys)[0]
    # one sort of (key, rank) as one integer (rank: a permutation, or the positions)
    order = np.sort(keys * size + (rank[pos] if rank is not None else pos))
    sorted_keys = order // size
    pos = order - sorted_keys * size
    if rank is not None:
        pos = (_inverse(rank) if in_order is None else in_order)[pos]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(pos)])
    if (sizes == 1).sum() > len(sizes) // 2:  # mostly people alone with their key: drop them
        shared = np.repeat(sizes > 1, sizes)
        pos, sorted_keys, sizes = pos[shared], sorted_keys[shared], sizes[sizes > 1]
        starts = np.cumsum(sizes) - sizes
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
    low = np.minimum(a, b)
    return low, np.maximum(a, b, out=b), stats


def _inverse(rank: np.ndarray) -> np.ndarray:
    """The people in the order of `rank` (a permutation)."""
    in_order = np.empty(len(rank), dtype=np.int64)
    in_order[rank] = np.arange(len(rank))
    return in_order


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct integers (a sort: faster than numpy's hash-based unique here)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def places(values: np.ndarray, of: np.ndarray) -> np.ndarray:
    """Each value's place in `of` (sorted distinct integers holding every value): a binary
    search when the values come in order, else a hash lookup (a binary search of values in
    no order misses the cache at every step: 8x slower at a million people)."""
    if len(values) < 2 or (values[1:] >= values[:-1]).all():
        return np.searchsorted(of, values)
    return pd.Index(of).get_indexer(values)


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
    "tanggal_lahir", "tanggal_kata", "tanggal_tertukar", "nama_tahun", "nama_akhir_bulan",
    "nama_hari_bulan", "nkk", "tanggal_desa", "ibu_tahun", "alamat_tahun",
    "nama_depan_kecamatan", "nama_akhir_inisial_kecamatan", "nama_terbalik",
    "nama_mirip_awal", "nama_mirip_akhir",
)  # fmt: skip
# the passes of names near in spelling (`near_names`): whether each reads names backwards
NEAR_PASSES = {"nama_mirip_awal": False, "nama_mirip_akhir": True}
RARE_NAME = FULL_BLOCK  # a name held by at most this many people meets names near in spelling
NEAR_NAMES = 3  # the next names in spelling order it meets
NEAR_EDITS = 2  # how far apart (Levenshtein) the two names may be
NEAR_PAIRS = 16  # the most pairs two such names give (holders x holders)
NAME_HEAD = 2  # the letters both names begin (end) with: a partition by them holds each pair


ORDERS = ("name", "date", "words")


def _ranks(f: Fields, date: np.ndarray, orders: tuple[str, ...] = ORDERS,
           ) -> dict[str, np.ndarray]:  # fmt: skip
    """Each person's place (0 … n-1) in name order, in birth date then name order, and in
    the order of their name's first and last words sorted (JACK NICOL next to NICOL JADK):
    the orders in which likely copies sit next to each other in a large block. Ties keep
    the input order. Only the `orders` asked for are computed."""
    vocab = f.dictionary["nama_norm"]
    count = len(vocab) + 1  # and missing (first)
    alphabetical = np.zeros(count, dtype=np.int64)
    alphabetical[1:][pc.sort_indices(vocab).to_numpy()] = np.arange(1, count)
    codes = f.codes["nama_norm"]
    name = alphabetical[codes + 1]
    keys: dict[str, np.ndarray | None] = {}
    if "name" in orders:
        keys["name"] = name
    if "date" in orders:
        days = np.where(date >= 0, f.days.astype(np.int64) - f.days[date >= 0].min(initial=0) + 1,
                        0)  # fmt: skip
        fits = int(days.max(initial=0) + 1) * count * f.n < np.iinfo(np.int64).max
        keys["date"] = days * count + name if fits else None
    if "words" in orders:
        by_words = np.zeros(count, dtype=np.int64)  # a name's place by its two words, then itself
        low = np.minimum(f.codes["first_w"], f.codes["last_w"])
        high = np.maximum(f.codes["first_w"], f.codes["last_w"])
        per_name = np.full((count, 2), -1, dtype=np.int64)  # low and high word of each name
        per_name[codes + 1, 0], per_name[codes + 1, 1] = low, high
        by_words[np.lexsort((alphabetical, per_name[:, 1], per_name[:, 0]))] = np.arange(count)
        keys["words"] = by_words[codes + 1]
    ranks = {}
    for which, key in keys.items():
        if key is None:  # too large to combine: sort on both (slower)
            order = np.lexsort((name, date))
        else:
            order = np.sort(key * f.n + np.arange(f.n)) % f.n
        rank = np.empty(f.n, dtype=np.int64)
        rank[order] = np.arange(f.n)
        ranks[which] = rank
    return ranks


# the order each pass compares a large block in (the date passes by name, the others by date)
ORDER_OF = {"tanggal_lahir": "name", "tanggal_kata": "words", "tanggal_desa": "name",
            "tanggal_tertukar": "name"}  # fmt: skip


def name_head(names: pa.Array | pa.ChunkedArray, backwards: bool) -> pa.Array:
    """The first (last, written backwards) NAME_HEAD letters of each name."""
    spelt = pc.utf8_reverse(names) if backwards else names
    return pc.utf8_slice_codeunits(spelt, 0, NAME_HEAD)


def name_holders(f: Fields) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct name, its holders' count and where they begin in `holders` (people by name)."""
    codes = f.codes["nama_norm"]
    counts = np.bincount(codes[codes >= 0], minlength=len(f.dictionary["nama_norm"]))
    holders = np.argsort(codes, kind="stable")
    return counts, holders, np.searchsorted(codes[holders], np.arange(len(counts)))


def near_names(f: Fields, backwards: bool, held: tuple | None = None) -> tuple[np.ndarray, dict]:
    """Pairs (as codes i * n + j) of people with different names at most NEAR_EDITS edits
    apart, each held by at most RARE_NAME people (the two giving at most NEAR_PAIRS pairs),
    that sit within NEAR_NAMES of each other in spelling order (of the names written
    `backwards`) among the rare names beginning (ending) with the same NAME_HEAD letters: a
    typo with a wrong or missing birth date and another address, which no key finds. The
    work is on distinct names, not people."""

    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    vocab = f.dictionary["nama_norm"]
    counts, holders, first = held or name_holders(f)
    spelt = pc.utf8_reverse(vocab) if backwards else vocab
    order = pc.sort_indices(spelt).to_numpy()
    order = order[counts[order] <= RARE_NAME]
    head = pc.dictionary_encode(name_head(vocab, backwards)).indices.to_numpy()[order]
    a = np.concatenate([order[:-step][head[:-step] == head[step:]]
                        for step in range(1, NEAR_NAMES + 1)])  # fmt: skip
    b = np.concatenate([order[step:][head[:-step] == head[step:]]
                        for step in range(1, NEAR_NAMES + 1)])  # fmt: skip
    text = f.vocab["nama_norm"]
    edits = process.cpdist(text[a], text[b], scorer=Levenshtein.distance, workers=-1)
    a, b = a[edits <= NEAR_EDITS], b[edits <= NEAR_EDITS]
    few = counts[a] * counts[b] <= NEAR_PAIRS
    a, b = a[few], b[few]
    # every holder of one name with every holder of the other
    many = counts[a] * counts[b]
    pair = np.repeat(np.arange(len(a)), many)
    k = np.arange(int(many.sum())) - np.repeat(np.cumsum(many) - many, many)
    x = holders[first[a[pair]] + k // counts[b[pair]]]
    y = holders[first[b[pair]] + k % counts[b[pair]]]
    pairs = distinct(np.minimum(x, y) * f.n + np.maximum(x, y))
    common = int((counts > RARE_NAME).sum())
    return pairs, {"pairs": len(pairs), "large_blocks": common, "pairs_not_compared": 0}


def dates(f: Fields) -> tuple[np.ndarray, np.ndarray]:
    """Each person's birth date as YYYYMMDD, and with day and month swapped where that is
    another valid date (-1: none)."""
    return dates_of(f.y, f.m, f.d)


def dates_of(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`dates` from year, month and day arrays (year 0: unknown)."""
    date = np.where(y > 0, y * 10000 + m * 100 + d, -1)
    swapped = np.where((y > 0) & (d <= 12) & (d != m), y * 10000 + d * 100 + m, -1)
    return date, swapped


def block(f: Fields, passes: tuple[str, ...] = PASSES, owned: dict[str, np.ndarray] | None = None,
          ) -> tuple[np.ndarray, np.ndarray, dict, dict[str, np.ndarray]]:  # fmt: skip
    """Candidate pairs (i < j) from the `passes`; per pass its figures, and its pairs (as codes
    i * n + j). Passes keyed on a date order their large blocks by name, the others by date.
    `owned`: per pass, the people whose key this run blocks on (the others are left out of
    that pass; for tanggal_tertukar, 2n entries: the dates, then the swapped dates)."""
    owned = owned or {}
    c = f.codes
    date, swapped = dates(f)
    year = np.where(f.y > 0, f.y, -1)
    month = np.where(f.y > 0, f.y * 100 + f.m, -1)
    day_month = np.where(f.y > 0, f.m * 100 + f.d, -1)
    sex, initial = _optional(c["sex"]), _optional(c["inti"])
    ranks = _ranks(f, date, tuple({ORDER_OF.get(p, "date") for p in passes}))
    by_name, by_date, by_words = (ranks.get(o) for o in ORDERS)
    keys = {
        "tanggal_lahir": (lambda: _combine(date, sex, initial), by_name),
        # the same date whatever the name's first letter, its words in order of the letters
        "tanggal_kata": (lambda: _combine(date, sex), by_words),
        "nama_tahun": (lambda: _combine(c["nama_norm"], year), by_date),
        "nama_akhir_bulan": (lambda: _combine(c["last"], month), by_date),
        # the same name, day and month in any year: a year off by one (1981 / 1982)
        "nama_hari_bulan": (lambda: _combine(c["nama_norm"], day_month), by_date),
        "nkk": (lambda: c["nkk"].copy(), by_date),
        "tanggal_desa": (lambda: _combine(date, c["desa"]), by_name),
        "ibu_tahun": (lambda: _combine(c["ibu"], year), by_date),
        "alamat_tahun": (lambda: _combine(c["alamat"], year), by_date),
        "nama_depan_kecamatan": (lambda: _combine(c["given"], c["kec"]), by_date),
        "nama_akhir_inisial_kecamatan": (lambda: _combine(c["last"], c["inti"], c["kec"]),
                                         by_date),
        # first and last word in either order: GEORGIA WHITE / WHITE GEORGIA
        "nama_terbalik": (lambda: _combine(np.minimum(c["first_w"], c["last_w"]),
                                           np.maximum(c["first_w"], c["last_w"])), by_date),
    }  # fmt: skip
    inverse = {id(rank): _inverse(rank) for rank in ranks.values()}

    def pairs_of(name: str) -> tuple[np.ndarray, dict]:
        if name in NEAR_PASSES:
            return near_names(f, NEAR_PASSES[name], held)
        make_key, rank = keys[name]
        key = make_key()
        if name in owned:
            key[~owned[name]] = -1
        full, window = NEAREST if name == "tanggal_kata" else (FULL_BLOCK, 0 if name in
                                                               DATELESS else WINDOW)  # fmt: skip
        a, b, figures = _pairs_on(key, rank, full, window, inverse[id(rank)])
        a *= f.n
        a += b
        return a, figures

    # the passes on every core (NumPy's sorts and gathers release the GIL), in pass order
    names = [name for name in PASSES if name in passes and name != "tanggal_tertukar"]
    held = name_holders(f) if set(NEAR_PASSES) & set(names) else None
    done = in_threads(pairs_of, names, f.n)
    found = {name: a for name, (a, _) in zip(names, done, strict=True)}
    stats = {name: figures for name, (_, figures) in zip(names, done, strict=True)}
    if "tanggal_tertukar" in passes:
        # one person's day/month swapped against the other's date (same sex and initial)
        both = _combine(np.concatenate([date, swapped]), np.tile(sex, 2), np.tile(initial, 2))
        if "tanggal_tertukar" in owned:
            both[~owned["tanggal_tertukar"]] = -1
        a, b, stats["tanggal_tertukar"] = _pairs_on(both, np.r_[2 * by_name, 2 * by_name + 1])
        # only a date against a swapped date: two dates or two swapped dates are the same
        # date, whose pairs tanggal_lahir already has
        keep = ((a < f.n) != (b < f.n)) & (a % f.n != b % f.n)
        a, b = a[keep] % f.n, b[keep] % f.n
        found["tanggal_tertukar"] = distinct(np.minimum(a, b) * f.n + np.maximum(a, b))
        stats["tanggal_tertukar"]["pairs"] = len(found["tanggal_tertukar"])
    code = distinct(np.concatenate([*found.values(), np.empty(0, np.int64)]))
    return code // f.n, code % f.n, stats, found
