"""K3 features: the compared fields of people as integer codes (one per distinct value) and
Arrow texts, derived once per distinct value rather than per person."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


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


def _epoch_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of (year, month, day) arrays, in integer arithmetic (H. Hinnant's
    days_from_civil); 0 where the year is unknown."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
