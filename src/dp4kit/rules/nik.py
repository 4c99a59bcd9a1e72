"""NIK and NKK parsing, vectorized over Arrow arrays.

NIK = PP KK CC (region of first registration) + DD MM YY (birth date, women DD + 40)
+ SSSS (serial from 0001). YY has no century: it is resolved against the recorded birth date.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.calendar import month_length

SIXTEEN_DIGITS = r"^\d{16}$"


def _np(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False))


_last: list = []  # (array, number, well_formed): the last column parsed, reused across checks


def _analyse(ids) -> tuple[np.ndarray, np.ndarray]:
    """int64 value of 16-digit ids (0 otherwise) and the well-formed mask, parsed once."""
    if _last and _last[0] is ids:
        return _last[1], _last[2]
    digits = _np(pc.fill_null(pc.match_substring_regex(ids, SIXTEEN_DIGITS), False))
    number = _np(pc.fill_null(pc.cast(pc.if_else(digits, ids, "0"), pa.int64()), 0))
    repeated = number % 1111111111111111 == 0  # d repeated 16 times = d × 1111111111111111
    ok = digits & ~repeated & (number % 10000 != 0)
    _last[:] = [ids, number, ok]
    return number, ok


def as_number(ids) -> np.ndarray:
    """The 16 digits as int64 (0 where not 16 digits): parts come out by arithmetic."""
    return _analyse(ids)[0]


def well_formed(ids) -> np.ndarray:
    """16 digits, not one digit repeated, serial not 0000 (NIK and NKK)."""
    return _analyse(ids)[1]


def repeated_digit(ids) -> pa.Array:
    """True where the value is one character repeated 16 times (0000000000000000)."""
    first = pc.utf8_slice_codeunits(ids, 0, 1)
    return pc.fill_null(pc.equal(ids, pc.binary_repeat(first, 16)), False)


def _part(number: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Digits [start, stop) of 16-digit numbers, as integers."""
    return (number // 10 ** (16 - stop)) % 10 ** (stop - start)


def codes_as_numbers(codes: pa.Array) -> np.ndarray:
    """Dotted region codes (`32.04.11`) as integers (320411), sorted, for np.isin."""
    return np.sort(_np(pc.cast(pc.replace_substring(codes, ".", ""), pa.int64())))


def province_of(nik) -> np.ndarray:
    return _part(as_number(nik), 0, 2)


def kecamatan_of(nik) -> np.ndarray:
    """PPKKCC of first registration as an integer (320411)."""
    return _part(as_number(nik), 0, 6)


# Why a value is not a NIK, first matching pattern wins; used in NIK_FORMAT/NKK_FORMAT messages.
FORMAT_REASONS = (
    (r"^\s*$", "empty"),
    (r"^\d(\.\d+)?[eE]\+?\d+$", "Excel scientific notation (e.g. 3.20411E+15): the column was "
     "turned into a number and digits are lost; re-export it as text"),
    (r"^\d+\.\d+([eE]\+?\d+)?$", "stored as a number in the spreadsheet: Excel keeps only 15 "
     "digits; format the column as text and re-export"),
    (r"^\d{16}$", None),  # resolved below: repeated digits or serial 0000
    (r"^\d{1,15}$", "too short: fewer than 16 digits (leading zero or digits lost?)"),
    (r"^\d{17,}$", "too long: more than 16 digits"),
    (r".", "not all digits"),
)  # fmt: skip


def format_messages(ids) -> np.ndarray:
    """One message per value explaining why it is not a valid 16-digit identifier."""
    ids = pc.fill_null(ids, "")
    out = np.full(len(ids), "not a valid identifier", dtype=object)
    decided = np.zeros(len(ids), dtype=bool)
    for pattern, message in FORMAT_REASONS:
        hit = _np(pc.match_substring_regex(ids, pattern)) & ~decided
        if message is None:
            repeated = _np(repeated_digit(ids))
            out[hit & repeated] = "one digit repeated 16 times: a placeholder, not a NIK"
            out[hit & ~repeated] = (
                "serial 0000 does not exist (serials start at 0001): "
                "possibly rounded by Excel (…6997 → …7000)"
            )
        else:
            out[hit] = message
        decided |= hit
    return out


def nik_date_parts(nik) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Day (women's +40 removed), month and two-digit year embedded in each NIK."""
    number = as_number(nik)
    dd = _part(number, 6, 8)
    return np.where(dd > 40, dd - 40, dd), _part(number, 8, 10), _part(number, 10, 12)


def nik_sex(nik) -> np.ndarray:
    """'P' where the NIK day has +40 (women), else 'L'."""
    return np.where(_part(as_number(nik), 6, 8) > 40, "P", "L")


def nik_date_valid(nik) -> np.ndarray:
    """The embedded DDMMYY is a real date. 29 February is accepted when YY is divisible by
    4: with no century in the NIK, 00 may be 2000 (a leap year)."""
    number = as_number(nik)
    raw_day = _part(number, 6, 8)
    day = np.where(raw_day > 40, raw_day - 40, raw_day)
    month, yy = _part(number, 8, 10), _part(number, 10, 12)
    month_ok = (month >= 1) & (month <= 12)
    limit = month_length(month, yy % 4 == 0)
    day_ok = ((raw_day >= 1) & (raw_day <= 31)) | ((raw_day >= 41) & (raw_day <= 71))
    return month_ok & day_ok & (day >= 1) & (day <= limit)


def region_of(nik) -> pa.Array:
    """Dotted kecamatan code `PP.KK.CC` of first registration."""
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(nik, 0, 2), pc.utf8_slice_codeunits(nik, 2, 4),
        pc.utf8_slice_codeunits(nik, 4, 6), ".",
    )  # fmt: skip
