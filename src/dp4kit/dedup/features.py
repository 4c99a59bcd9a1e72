"""K3 features: the compared fields of people as integer codes (one per distinct value) and
Arrow texts, derived once per distinct value rather than per person."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.stages import in_threads


@dataclass
class Fields:
    """The compared fields of n people as integer codes and texts (Arrow)."""

    n: int
    y: np.ndarray
    m: np.ndarray
    d: np.ndarray
    days: np.ndarray
    codes: dict[str, np.ndarray]  # value codes (-1 missing)
    dictionary: dict[str, pa.Array]  # text code key: the values its codes stand for (Arrow)
    vocab: dict[str, np.ndarray] = field(default_factory=dict)  # the same as Python strings
    shapes: dict[str, Shape] = field(default_factory=dict)  # filled by `shape`


@dataclass
class Shape:
    """Per distinct value of a normalised text (upper-case letters, single spaces), and one
    last row for a missing value: its length, its letters counted (A–Z, space, other), and
    its words as codes (-1 pads). They bound string similarities from above without
    comparing the strings (see `comparison.upper_bound`)."""

    length: np.ndarray
    letters: np.ndarray
    words: np.ndarray
    signature: np.ndarray  # one bit per word (its code mod 64): a subset's bits are a subset


BUCKETS = 28  # A–Z, space, anything else


def shape(f: Fields, key: str) -> Shape:
    """The `Shape` of the text column `key`'s distinct values (computed once per Fields)."""
    if key not in f.shapes:
        values = f.dictionary[key].cast(pa.large_string())
        count = len(values)
        offsets = np.frombuffer(values.buffers()[1], np.int64)[values.offset :][: count + 1]
        data = np.frombuffer(values.buffers()[2], np.uint8) if count else np.empty(0, np.uint8)
        raw = data[offsets[0] : offsets[-1]]
        bucket = np.full(256, BUCKETS - 1, dtype=np.int64)
        bucket[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)] = np.arange(26)
        bucket[ord(" ")] = 26
        owner = np.repeat(np.arange(count), np.diff(offsets))
        counts = np.bincount(owner * BUCKETS + bucket[raw], minlength=count * BUCKETS)
        small = counts.max(initial=0) < 2**16  # half the memory to gather per pair
        letters = np.zeros((count + 1, BUCKETS), dtype=np.uint16 if small else np.int64)
        letters[:count] = counts.reshape(count, BUCKETS)
        length = np.append(_int(pc.utf8_length(values)), 0)
        split = pc.split_pattern(values, " ")
        words, word_values = _encode(split.flatten())
        empty = pc.index(word_values, "").as_py()  # -1: none
        words = np.where(words == empty, -1, words)  # no empty words
        sizes = pc.list_value_length(split).to_numpy(zero_copy_only=False)
        row = np.repeat(np.arange(count), sizes)
        column = np.arange(len(words)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        table = np.full((count + 1, max(int(sizes.max(initial=0)), 1)), -1, dtype=np.int32)
        table[row, column] = words
        bits = np.where(table >= 0, np.left_shift(np.uint64(1), (table % 64).astype(np.uint64)),
                        np.uint64(0))  # fmt: skip
        f.shapes[key] = Shape(length, letters, table, np.bitwise_or.reduce(bits, axis=1))
    return f.shapes[key]


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


def first_word(names):
    """The first word of each normalised name (Arrow)."""
    return pc.replace_substring_regex(names, r" .*$", "")


def last_word(names):
    """The last word of each normalised name (Arrow)."""
    return pc.replace_substring_regex(names, r"^.* ", "")


def word_pair(names):
    """First and last word of a name, in word order: GEORGIA WHITE = WHITE GEORGIA."""
    first, last = first_word(names), last_word(names)
    low = pc.if_else(pc.less_equal(first, last), first, last)
    high = pc.if_else(pc.less_equal(first, last), last, first)
    return pc.binary_join_element_wise(low, high, "|")


def _derived(codes: np.ndarray, dictionary: pa.Array, derive) -> np.ndarray:
    """Codes of a value derived from each distinct value (computed once per distinct value,
    not per person)."""
    inner = np.append(_codes(derive(dictionary)), -1)
    return inner[codes]  # code -1 (missing) picks the appended -1


def _int(values) -> np.ndarray:
    return pc.fill_null(values, 0).to_numpy(zero_copy_only=False).astype(np.int64)


# a NIK whose DD is a day (01–31) or a woman's day + 40 (41–71): it encodes its holder's sex
NIK_WITH_SEX = r"^[0-9]{6}(0[1-9]|[12][0-9]|3[01]|4[1-9]|[56][0-9]|7[01])[0-9]{8}$"


def sex_codes(sex, nik) -> tuple[np.ndarray, np.ndarray]:
    """Each person's sex as recorded (`jenis_kelamin` L/P) and as the NIK encodes it (day
    + 40: P), as 0 (L), 1 (P) or -1 (unknown: missing, or a NIK that is not 16 digits with a
    real day, a masked one included)."""

    def code(female, known) -> np.ndarray:
        out = pc.if_else(pc.fill_null(known, False), pc.if_else(female, 1, 0), -1)
        return np.asarray(out.to_numpy(zero_copy_only=False), dtype=np.int8)

    recorded = code(pc.equal(sex, "P"), pc.is_in(sex, pa.array(["L", "P"])))
    if nik is None:
        return recorded, np.full(len(recorded), -1, np.int8)
    day_tens = pc.utf8_slice_codeunits(nik, 6, 7)
    encoded = code(pc.is_in(day_tens, pa.array(["4", "5", "6", "7"])),
                   pc.match_substring_regex(nik, NIK_WITH_SEX))  # fmt: skip
    return recorded, encoded


GIVEN_COUNT = "nama_inti_jumlah"  # people of the whole table holding each one's given name


def with_given_counts(table: pa.Table) -> pa.Table:
    """`table` with GIVEN_COUNT: how many of its people hold each one's given name (0 where it
    is missing). Added before K3 splits people into partitions, so each part has the whole's
    counts."""
    return given_counter([table["nama_inti"]])(table)


def given_counter(names: Iterable) -> Callable[[pa.Table], pa.Table]:
    """GIVEN_COUNT over a whole made of pieces whose given names (`nama_inti`) `names` gives,
    one at a time (a table too large to hold): a function appending it to a table."""
    kind, counts = pa.string(), []
    for n in names:
        kind = n.type
        if len(n):
            counts.append(pc.value_counts(pc.drop_null(n)).flatten())
    whole = pa.Table.from_arrays(
        [pa.concat_arrays([c[0] for c in counts]) if counts else pa.array([], kind),
         pa.concat_arrays([c[1] for c in counts]) if counts else pa.array([], pa.int64())],
        names=["value", "count"]).group_by("value").aggregate([("count", "sum")])  # fmt: skip
    values, held_by = whole["value"].combine_chunks(), whole["count_sum"].combine_chunks()

    def add(table: pa.Table) -> pa.Table:
        at = pc.index_in(table["nama_inti"], value_set=values)
        held = pc.fill_null(pc.take(held_by, at), 0).cast(pa.int32())
        return table.append_column(GIVEN_COUNT, held)

    return add


# the columns `fields_of` reads (the last three optional)
FIELD_COLUMNS = ("nama", "nama_norm", "nama_inti", "tanggal_lahir", "jenis_kelamin",
                 "tempat_lahir_norm", "nkk", "alamat_bersih", "kode_desa", "nama_ibu_norm",
                 "nik", GIVEN_COUNT)  # fmt: skip


def take_sorted(table: pa.Table, positions: np.ndarray) -> pa.Table:
    """`table.take(positions)` for ascending positions, a record batch at a time: Arrow's
    take on a column of many chunks passes over the whole column (at 45 million people,
    gigabytes per take); this touches the rows taken only."""
    batches = table.to_batches()  # zero-copy, aligned across the columns
    if len(batches) <= 1:
        return table.take(pa.array(positions))
    starts = np.cumsum([0, *(b.num_rows for b in batches)])
    cut = np.searchsorted(positions, starts)
    pieces = [batch.take(pa.array(positions[lo:hi] - start))
              for batch, start, lo, hi in zip(batches, starts, cut, cut[1:], strict=False)
              if hi > lo]  # fmt: skip
    return pa.Table.from_batches(pieces, schema=table.schema) if pieces else table.slice(0, 0)


def fields_of(table: pa.Table) -> Fields:
    """`table`: the FIELD_COLUMNS (nama_ibu_norm, nik and GIVEN_COUNT optional; GIVEN_COUNT
    else counted in `table`)."""
    born = table["tanggal_lahir"]
    text = {
        "nama_norm": table["nama_norm"],
        "nama_inti": table["nama_inti"],
        "tempat_lahir": table["tempat_lahir_norm"],
        "alamat": table["alamat_bersih"],
        "nama_ibu": table["nama_ibu_norm"] if "nama_ibu_norm" in table.column_names
        else pa.nulls(table.num_rows, pa.string()),
    }  # fmt: skip
    done = in_threads(_encode, [text[column] for column in TEXT_CODES], table.num_rows)
    encoded = dict(zip(TEXT_CODES.values(), done, strict=True))
    names, name_words = encoded["nama_norm"]
    # first and last words in one vocabulary (for a name written in another order)
    words, word_values = _encode(pa.concat_arrays([
        first_word(name_words), last_word(name_words)]))  # fmt: skip
    alphabetical = np.empty(len(word_values) + 1, dtype=np.int64)  # codes in word order
    alphabetical[pc.sort_indices(word_values).to_numpy()] = np.arange(len(word_values))
    alphabetical[-1] = -1
    words = alphabetical[words]
    first_w, last_w = np.append(words[: len(name_words)], -1), np.append(
        words[len(name_words) :], -1)  # fmt: skip
    counted = table if GIVEN_COUNT in table.column_names else with_given_counts(table)
    desa, desa_codes = _encode(table["kode_desa"])
    raw, raw_names = _encode(table["nama"])
    codes = {
        "nama": _derived(raw, raw_names, lambda v: pc.utf8_upper(pc.utf8_trim_whitespace(v))),
        "inti": _derived(*encoded["given"], lambda v: pc.utf8_slice_codeunits(v, 0, 1)),
        "last": _derived(names, name_words, last_word),
        "sex": _codes(table["jenis_kelamin"]),
        **dict(
            zip(
                ("sex_lp", "nik_sex"),
                sex_codes(
                    table["jenis_kelamin"], table["nik"] if "nik" in table.column_names else None
                ),
                strict=True,
            )
        ),  # fmt: skip
        "nkk": _codes(table["nkk"]),
        **{key: pair[0] for key, pair in encoded.items()},
        "desa": desa,
        "kec": _derived(desa, desa_codes, lambda v: pc.utf8_slice_codeunits(v, 0, 8)),
        "kab": _derived(desa, desa_codes, lambda v: pc.utf8_slice_codeunits(v, 0, 5)),
        "given_n": _int(counted[GIVEN_COUNT]),
        "first_w": first_w[names],
        "last_w": last_w[names],
    }
    y, m, d = _int(pc.year(born)), _int(pc.month(born)), _int(pc.day(born))
    dictionary = {key: pair[1] for key, pair in encoded.items()}
    # as Python strings, and "" last: code -1 (missing) picks it
    vocab = {key: np.append(values.to_numpy(zero_copy_only=False), "").astype(object)
             for key, values in dictionary.items()}  # fmt: skip
    # 32-bit codes and dates: half the memory to gather per pair
    codes = {key: value.astype(np.int32) for key, value in codes.items()}
    days = _epoch_days(y, m, d).astype(np.int32)
    y, m, d = y.astype(np.int32), m.astype(np.int32), d.astype(np.int32)
    return Fields(table.num_rows, y, m, d, days, codes, dictionary, vocab)


def _epoch_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of (year, month, day) arrays, in integer arithmetic (H. Hinnant's
    days_from_civil); 0 where the year is unknown."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
