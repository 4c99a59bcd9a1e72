"""The canonical table: one row per resident, canonical column names, typed values (dates,
ages, padded region codes), whatever the input looked like. Readers (`io/`) build it; rules,
duplicate finding and aggregation read it, and depend on this module, not on `io`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dp4kit.calendar import month_length

if TYPE_CHECKING:
    from dp4kit.io.sources import RawInput

PART_WIDTHS = (2, 2, 2, 4)

DATE_PATTERNS = (
    r"^(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4})$",
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:[T ][0-9:.]*)?$",
)


@dataclass
class CanonicalInput:
    """The canonical table plus where every canonical value came from."""

    table: pd.DataFrame  # canonical columns (Arrow dtypes) + sumber_file + sumber_baris
    raw: pa.Table  # the text as read, same row order, for reporting original values
    source_column: dict[str, str]  # canonical column -> header in the input
    raw_input: RawInput
    profile: str


def arrow_of(series: pd.Series) -> pa.ChunkedArray:
    """The Arrow data behind a column: zero-copy, and the same object on every call for an
    Arrow-backed column (so NIK parsing can be shared across checks)."""
    data = (
        series.array.__arrow_array__()
        if hasattr(series.array, "__arrow_array__")
        else pa.array(series)
    )
    return data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])


def true_where(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow mask as numpy, null counted as false."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def per_unique(fn):
    """Run a column function once per distinct value: codes, RT/RW, region parts and dates
    repeat heavily, so dictionary-encode, transform the dictionary, take back. Same result."""

    def wrapper(values, *args):
        if values is None:
            return fn(values, *args)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = pc.dictionary_encode(values)
        return pc.take(fn(encoded.dictionary, *args), encoded.indices)

    wrapper.__doc__, wrapper.__name__ = fn.__doc__, fn.__name__
    return wrapper


@per_unique
def map_codes(values: pa.Array, table: dict[str, str | None]) -> pa.Array:
    """Codes or labels to canonical labels; unknown values stay as they came (upper-cased)."""
    upper = pc.utf8_upper(values)
    keys = pa.array(list(table))
    labels = pa.array(list(table.values()), pa.string())
    idx = pc.index_in(upper, value_set=keys)
    mapped = pc.take(labels, idx)
    return pc.if_else(pc.is_null(idx), upper, mapped)


@per_unique
def parse_dates(values: pa.Array) -> pa.Array:
    """Dates as DD-MM-YYYY (SIAK; also / or . between), or YYYY-MM-DD (ISO, time ignored).
    Anything else, and impossible dates (00-00-0000, 29-02-2001, 31-04-…), is null: the
    calendar is checked exactly, not rolled over into the next month."""
    parts = [pc.extract_regex(values, pattern) for pattern in DATE_PATTERNS]
    field = {k: pc.coalesce(*(pc.struct_field(p, k) for p in parts)) for k in "ymd"}
    y, m, d = (
        np.asarray(pc.fill_null(pc.cast(field[k], pa.int64()), 0).to_numpy(zero_copy_only=False))
        for k in "ymd"
    )
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    month_ok = (m >= 1) & (m <= 12)
    limit = month_length(m, leap)
    ok = month_ok & (d >= 1) & (d <= limit) & (y >= 1800) & (y <= 2999)
    years = np.where(ok, y, 1970) - 1970
    days = (
        years.astype("datetime64[Y]").astype("datetime64[M]") + (np.where(ok, m, 1) - 1)
    ).astype("datetime64[D]") + (np.where(ok, d, 1) - 1)
    return pa.array(days, pa.date32(), mask=~ok)


def age_on(born: pa.ChunkedArray, on: dt.date) -> pa.Array:
    """Completed years on a date. Someone born on 29 February turns a year older on 1 March
    in common years (their birthday month/day has not been reached on 28 February)."""
    y, m, d = pc.year(born), pc.month(born), pc.day(born)
    before_birthday = pc.or_(
        pc.less(m, on.month), pc.and_(pc.equal(m, on.month), pc.less_equal(d, on.day))
    )
    return pc.subtract(pc.subtract(on.year, y), pc.if_else(before_birthday, 0, 1))


@per_unique
def pad_digits(values: pa.Array, width: int) -> pa.Array:
    """Left-pad all-digit values with zeros (SIAK drops them); leave anything else as it is."""
    digits = pc.match_substring_regex(values, r"^\d+$")
    return pc.if_else(digits, pc.utf8_lpad(values, width, "0"), values)


def region_codes(parts: list[pa.ChunkedArray | None], kode_desa: pa.ChunkedArray | None):
    """kode_desa as `PP.KK.CC.DDDD` from SIAK's unpadded parts or a dotted/packed code."""
    if kode_desa is not None:
        packed = pc.replace_substring_regex(kode_desa, r"[.\s]", "")
        ok = pc.match_substring_regex(packed, r"^\d{10}$")
        dotted = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(packed, 0, 2), pc.utf8_slice_codeunits(packed, 2, 4),
            pc.utf8_slice_codeunits(packed, 4, 6), pc.utf8_slice_codeunits(packed, 6, 10), ".",
        )  # fmt: skip
        return pc.if_else(ok, dotted, kode_desa)
    padded = [pad_digits(p, w) for p, w in zip(parts, PART_WIDTHS, strict=True)]
    return pc.binary_join_element_wise(*padded, ".")
