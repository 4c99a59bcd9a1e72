"""K3 comparisons: per pair of people, a level per compared field (`COMPARISONS`), from what
integer codes settle first and string similarity (rapidfuzz) only where it is still needed. A
missing value is level -1 and gives no evidence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dp4kit.dedup.features import TEXT_CODES, Fields, shape


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
    # an address written the same in another desa: a mistyped desa code, or a coincidence
    # (EM weighs which)
    Comparison("domisili", ("kab/kota berbeda", "kab/kota sama", "kecamatan sama", "desa sama",
                            "alamat sama di desa lain", "alamat mirip", "alamat sama", "KK sama")),
    Comparison("nama_ibu", ("nama ibu berbeda", "nama ibu mirip", "nama ibu sama"), (2,)),
)  # fmt: skip
BY_NAME = {c.name: c for c in COMPARISONS}
FAMILY_LEVEL = 7  # the domisili level "KK sama"


def _sim(f: Fields, column: str, li: np.ndarray, ri: np.ndarray, scorer) -> np.ndarray:
    """A rapidfuzz scorer per pair, computed once per distinct pair of values (common names
    meet many times) on the values themselves; an empty text where one is missing."""
    from rapidfuzz import process

    if len(li) == 0:
        return np.empty(0)
    key = TEXT_CODES[column]
    vocab = f.vocab[key]  # its last value is "" (code -1: missing)
    a, b = f.codes[key][li] % len(vocab), f.codes[key][ri] % len(vocab)
    pair, back = np.unique(a.astype(np.int64) * len(vocab) + b, return_inverse=True)
    left, right = vocab[pair // len(vocab)], vocab[pair % len(vocab)]
    return np.asarray(process.cpdist(left, right, scorer=scorer, workers=-1), dtype=float)[back]


BOUND_CHUNK = 250_000  # pairs whose letter counts are compared at once


def upper_bound(f: Fields, key: str, a: np.ndarray, b: np.ndarray, kind: str) -> np.ndarray:
    """An upper bound (0–1) of a string similarity between the values coded `a` and `b`
    (-1: missing) of the normalised text `key`, from their lengths and letter counts only:
    two strings share at most sum(min(count of each letter)) characters in order. `kind`:
    "indel" (Indel normalised similarity, and token_sort_ratio / 100, whose sorted words
    have the same letters) or "jaro_winkler" (prefix weight 0.1, up to 4 letters)."""
    s = shape(f, key)
    la, lb = s.length[a], s.length[b]
    common = np.minimum(la, lb)

    def bound(common: np.ndarray, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
        if kind == "indel":
            return np.where(la + lb > 0, 2 * common / np.maximum(la + lb, 1), 1.0)
        jaro = (common / np.maximum(la, 1) + common / np.maximum(lb, 1) + 1) / 3
        return np.where((la > 0) & (lb > 0), 0.4 + 0.6 * jaro, 1.0)

    out = bound(common, la, lb)  # lengths alone first: cheap, and often enough
    idx = np.flatnonzero(out < 1)
    for start in range(0, len(idx), BOUND_CHUNK):
        part = idx[start : start + BOUND_CHUNK]
        shared = np.minimum(s.letters[a[part]], s.letters[b[part]]).sum(axis=1)
        out[part] = np.minimum(out[part], bound(shared, la[part], lb[part]))
    return out


def same_words(f: Fields, key: str, li: np.ndarray, ri: np.ndarray, both: bool = False,
               ) -> np.ndarray:  # fmt: skip
    """Whether one value's words are all among the other's (both with words): exactly
    rapidfuzz's token_set_ratio == 100, on word codes instead of strings. With `both`: each
    value's words are among the other's (the same words, in any order)."""
    s = shape(f, key)
    a, b = f.codes[key][li], f.codes[key][ri]
    sa, sb = s.signature[a], s.signature[b]
    # word bits first: a subset's bits are a subset of the other's
    idx = np.flatnonzero((sa != 0) & (sb != 0) & (((sa & ~sb) == 0) | ((sb & ~sa) == 0)))
    out = np.zeros(len(li), dtype=bool)
    for start in range(0, len(idx), BOUND_CHUNK):
        part = idx[start : start + BOUND_CHUNK]
        wa, wb = s.words[a[part]], s.words[b[part]]
        equal = wa[:, :, None] == wb[:, None, :]
        a_in_b = (equal.any(axis=2) | (wa < 0)).all(axis=1)
        b_in_a = (equal.any(axis=1) | (wb < 0)).all(axis=1)
        out[part] = (a_in_b & b_in_a) if both else (a_in_b | b_in_a)
    return out


def _alike(f: Fields, column: str, li: np.ndarray, ri: np.ndarray, scorer, cut: float,
           bound: str | None = None) -> np.ndarray:  # fmt: skip
    """Whether `scorer` reaches `cut` per pair; with `bound` (an `upper_bound` kind), only
    the pairs whose bound reaches it are scored (the others cannot)."""
    out = np.zeros(len(li), dtype=bool)
    idx = np.arange(len(li))
    if bound is not None:
        key = TEXT_CODES[column]
        unit = 100.0 if cut > 1 else 1.0
        reach = upper_bound(f, key, f.codes[key][li], f.codes[key][ri], bound) * unit
        idx = np.flatnonzero(reach >= cut - 1e-9)
    out[idx] = _sim(f, column, li[idx], ri[idx], scorer) >= cut
    return out


def _levels(*conditions: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Level = the highest index whose condition holds (conditions for levels 1, 2, …)."""
    level = np.zeros(len(missing), dtype=np.int8)
    for i, cond in enumerate(conditions, 1):
        level[cond] = i
    level[missing] = -1
    return level


UNSURE = 99  # a level only string similarity can settle (any of CANDIDATES)
AT_MOST = 90  # AT_MOST + k: unsure, but at most level k (of CANDIDATES)
# the levels an UNSURE comparison can still reach
CANDIDATES = {"nama": (0, 1, 2, 3), "tempat_lahir": (0, 1), "domisili": (3, 5), "nama_ibu": (0, 1)}


def compare(f: Fields, li: np.ndarray, ri: np.ndarray, strings: bool = True,
            ) -> dict[str, np.ndarray]:  # fmt: skip
    """Level per comparison for each pair (int8, -1 where a value is missing). Without
    `strings`, only what integer codes settle: the rest is UNSURE (no string work)."""
    c = f.codes
    picked: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def pick(key: str) -> tuple[np.ndarray, np.ndarray]:  # each code gathered once
        if key not in picked:
            picked[key] = c[key][li], c[key][ri]
        return picked[key]

    def same(key: str) -> np.ndarray:
        a, b = pick(key)
        return a == b

    def gone(key: str) -> np.ndarray:
        a, b = pick(key)
        return (a < 0) | (b < 0)

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
    family = same("nkk") & (pick("nkk")[0] >= 0)
    address_unsure = same_desa & ~same_alamat & ~gone("alamat") & ~family
    elsewhere = ~same_desa & same_alamat & ~gone("alamat")
    domisili = _levels(same("kab"), same("kec"), same_desa, elsewhere,
                       np.zeros(len(li), dtype=bool), same_desa & same_alamat, family,
                       missing=gone("desa"))  # fmt: skip
    domisili[address_unsure & (domisili >= 0)] = UNSURE
    name = np.where(same("nama"), 5, 4).astype(np.int8)
    name[~same("nama_norm")] = UNSURE
    name[gone("nama_norm")] = -1
    levels = {
        "nama": name,
        "tanggal_lahir": _levels(same_y, days <= 31, one_digit, swap, same_y & same_m & same_d,
                                 missing=(f.y[li] == 0) | (f.y[ri] == 0)),
        "jenis_kelamin": sex_level(f, li, ri, _levels(same("sex"), missing=gone("sex"))),
        "tempat_lahir": settled(same("place"), gone("place"), 2),
        "domisili": domisili,
        "nama_ibu": settled(same("ibu"), gone("ibu"), 2),
    }  # fmt: skip
    if strings:
        settle_strings(f, li, ri, levels)
    return levels


def settle_strings(f: Fields, li: np.ndarray, ri: np.ndarray, levels: dict[str, np.ndarray],
            which: tuple[str, ...] = tuple(CANDIDATES), worth=None) -> None:  # fmt: skip
    """Replace the UNSURE levels of the comparisons `which` by what string similarity says
    (in place). `worth(idx)`: whether the pairs `idx` can still matter once their name is at
    most "nama agak mirip"; those that cannot keep that unsure level (`AT_MOST` + 1) and are
    not compared further (the caller drops them)."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Indel, JaroWinkler

    if "nama" in which:
        name = levels["nama"]
        idx = np.flatnonzero(name == UNSURE)
        # edit (Indel) similarity over the whole name: Jaro-Winkler scores an inserted letter
        # in the middle low (YANI/YANNI NAINGGOLAN 0.91) and a shared first name high
        close = _alike(f, "nama_norm", li[idx], ri[idx], Indel.normalized_similarity, 0.90,
                       "indel")  # fmt: skip
        # siblings share a family name, so a similar full name also needs a similar given name
        close[close] = _alike(f, "nama_inti", li[idx[close]], ri[idx[close]],
                              JaroWinkler.normalized_similarity, 0.85)  # fmt: skip
        name[idx[close]] = 3
        rest = idx[~close]
        reordered = same_words(f, "nama_norm", li[rest], ri[rest])
        name[rest[reordered]] = 2
        rest = rest[~reordered]
        name[rest] = AT_MOST + 1
        if worth is not None:
            rest = rest[worth(rest)]
        # a few letters apart once the words are sorted (typos, words in another order)
        near = _alike(f, "nama_norm", li[rest], ri[rest], fuzz.token_sort_ratio, 80, "indel")
        name[rest] = np.where(near, 1, 0)
    for key, column, scorer, cut, (low, high), bound in (
        ("tempat_lahir", "tempat_lahir", JaroWinkler.normalized_similarity, 0.88, (0, 1), None),
        ("domisili", "alamat", fuzz.token_set_ratio, 90, (3, 5), None),
        ("nama_ibu", "nama_ibu", JaroWinkler.normalized_similarity, 0.90, (0, 1),
         "jaro_winkler"),
    ):  # fmt: skip
        if key in which:
            idx = np.flatnonzero(levels[key] == UNSURE)
            alike = _alike(f, column, li[idx], ri[idx], scorer, cut, bound)
            if key == "nama_ibu":  # SITI / SITI AMINAH: one word missing is alike too
                alike[~alike] = same_words(f, "ibu", li[idx[~alike]], ri[idx[~alike]])
            levels[key][idx] = np.where(alike, high, low)


COMPARE_CHUNK = 1_000_000  # pairs compared at once: bounds the memory of the string work


def compare_in_chunks(f: Fields, li: np.ndarray, ri: np.ndarray) -> dict[str, np.ndarray]:
    """`compare` over many pairs, a chunk at a time (only the int8 levels are kept)."""
    parts = [compare(f, li[i : i + COMPARE_CHUNK], ri[i : i + COMPARE_CHUNK])
             for i in range(0, max(len(li), 1), COMPARE_CHUNK)]  # fmt: skip
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _sexes(f: Fields, li: np.ndarray, ri: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:  # fmt: skip
    """Per pair: the recorded sexes differ; the NIKs' encoded sexes differ; they agree (both
    known each time)."""
    ra, rb = f.codes["sex_lp"][li], f.codes["sex_lp"][ri]
    na, nb = f.codes["nik_sex"][li], f.codes["nik_sex"][ri]
    nik_known = (na >= 0) & (nb >= 0)
    return (ra >= 0) & (rb >= 0) & (ra != rb), nik_known & (na != nb), nik_known & (na == nb)


def sex_level(f: Fields, li: np.ndarray, ri: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """The sex comparison checked against the NIK, which encodes sex (day + 40): where both
    NIKs do and agree, a recorded sex that differs is an error in one record (no evidence);
    where they differ, the two are of different sex even if the records agree."""
    _, nik_differ, nik_agree = _sexes(f, li, ri)
    level = recorded.copy()
    level[nik_agree & (recorded == 0)] = -1
    level[nik_differ] = 0
    return level


def kin(f: Fields, li: np.ndarray, ri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: two people by what SIAK data means, never linked, and a sibling pattern,
    never merged (for review only).

    Two people: of different sex both as recorded and by their NIKs; or twins: one family
    (the same KK, or the same mother's name after a move) and birth date, with given names
    two or more edits apart (not the same words in another order), or one edit apart and of
    different sex by either source (PUTRA/PUTRI).
    One edit apart and of the same sex (AMIR/AMIN) is two people too where both given names
    are names others hold as well (a typo seldom makes a name someone else has); else it
    is a sibling pattern: twins, or one person's name mistyped, for a reviewer to tell.
    One family and born on other days within a month (no sibling is, but for twins around
    midnight), with given names two or more edits apart: two people too (a copy seldom has
    both another given name and another birth date; two mothers of one name do happen)."""
    from rapidfuzz.distance import Levenshtein

    rec_differ, nik_differ, _ = _sexes(f, li, ri)
    two_people = rec_differ & nik_differ
    sibling = np.zeros(len(li), dtype=bool)
    c = f.codes
    family = (((c["nkk"][li] == c["nkk"][ri]) & (c["nkk"][li] >= 0))
              | ((c["ibu"][li] == c["ibu"][ri]) & (c["ibu"][li] >= 0)))  # fmt: skip
    same_date = (f.y[li] == f.y[ri]) & (f.m[li] == f.m[ri]) & (f.d[li] == f.d[ri])
    idx = np.flatnonzero(family & same_date & (f.y[li] > 0))
    if len(idx):
        edits = _sim(f, "nama_inti", li[idx], ri[idx], Levenshtein.distance)
        named_apart = (edits >= 1) & ~same_words(f, "nama_norm", li[idx], ri[idx], both=True)
        other_sex = rec_differ[idx] | nik_differ[idx]
        held = c["given_n"]
        names = (held[li[idx]] >= 2) & (held[ri[idx]] >= 2)  # each held by someone else too
        two_people[idx] |= named_apart & ((edits >= 2) | other_sex | names)
        sibling[idx] = named_apart & (edits == 1) & ~other_sex & ~names
    close = family & ~same_date & (f.y[li] > 0) & (f.y[ri] > 0)
    close &= np.abs(f.days[li] - f.days[ri]) <= 31
    idx = np.flatnonzero(close)
    if len(idx):
        edits = _sim(f, "nama_inti", li[idx], ri[idx], Levenshtein.distance)
        named_apart = ~same_words(f, "nama_norm", li[idx], ri[idx], both=True)
        two_people[idx] |= named_apart & (edits >= 2)
    return two_people, sibling & ~two_people
