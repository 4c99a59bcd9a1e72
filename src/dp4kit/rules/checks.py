"""dp4kit's own pandera checks, registered so schema files in schemas/ can name them.

Every check is vectorized: it takes a Series (or the frame, for checks across columns) and
returns a boolean Series, True where the row passes. A check passes where another rule
already reports the problem (e.g. NIK_TANGGAL skips NIKs that fail NIK_FORMAT).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandera import extensions

from dp4kit.canonical import arrow_of as arrow
from dp4kit.reference import master
from dp4kit.rules import nik as N

NAME_PATTERN = r"^[A-Za-zÀ-ÖØ-öø-ɏ .,'`\-]+$"


def _result(mask, like: pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(mask, pa.ChunkedArray | pa.Array):
        mask = mask.to_numpy(zero_copy_only=False)
    return pd.Series(np.asarray(mask, dtype=bool), index=like.index)


@extensions.register_check_method(check_type="vectorized")
def terisi(series):
    """Present and not blank."""
    values = arrow(series)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return _result(
            pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0), False),
            series,
        )
    return _result(pc.is_valid(values), series)


@extensions.register_check_method(check_type="vectorized")
def nik_format(series):
    """16 digits, not a repeated digit, serial not 0000."""
    return _result(N.well_formed(arrow(series)), series)


@extensions.register_check_method(check_type="vectorized")
def nik_tanggal(series):
    """The DDMMYY inside a well-formed NIK is a real date (women DD + 40)."""
    values = arrow(series)
    return _result(~N.well_formed(values) | N.nik_date_valid(values), series)


@cache
def _region_numbers(level: str) -> np.ndarray:
    return N.codes_as_numbers(master()[level].codes)


@extensions.register_check_method(check_type="vectorized")
def nik_provinsi(series):
    """The first two digits of a well-formed NIK are a province in the master."""
    values = arrow(series)
    known = np.isin(N.province_of(values), _region_numbers("provinsi"))
    return _result(~N.well_formed(values) | known, series)


@extensions.register_check_method(check_type="vectorized")
def nik_wilayah_dikenal(series):
    """PP.KK.CC of a well-formed NIK (known province) is a kecamatan in the master."""
    values = arrow(series)
    province = np.isin(N.province_of(values), _region_numbers("provinsi"))
    known = np.isin(N.kecamatan_of(values), _region_numbers("kecamatan"))
    return _result(~(N.well_formed(values) & province) | known, series)


@extensions.register_check_method(check_type="vectorized")
def nik_unik(series):
    """A well-formed NIK appears once (malformed ones are NIK_FORMAT's business)."""
    values = arrow(series)
    counts = pc.value_counts(pc.if_else(N.well_formed(values), values, None))
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    return _result(pc.invert(pc.fill_null(pc.is_in(values, value_set=repeated), False)), series)


@extensions.register_check_method(check_type="vectorized")
def nama_wajar(series):
    """Letters (Latin-1 accents too), spaces and . , ' - only."""
    ok = pc.match_substring_regex(arrow(series), NAME_PATTERN)
    return _result(pc.fill_null(ok, True), series)


@extensions.register_check_method(check_type="vectorized")
def wilayah_dikenal(series):
    """A village code (PP.KK.CC.DDDD) in the region master."""
    return _result(master()["desa"].contains(arrow(series)), series)


@extensions.register_check_method(check_type="vectorized", statistics=["tanggal"])
def bukan_tanggal_pengganti(series, *, tanggal):
    """The date is not one of the placeholder days, given as MM-DD (SIAK: 07-01, 12-31)."""
    born = arrow(series)
    month_day = N._np(pc.fill_null(pc.add(pc.multiply(pc.month(born), 100), pc.day(born)), 0))
    placeholders = [int(t[:2]) * 100 + int(t[3:5]) for t in tanggal]
    return _result(~np.isin(month_day, placeholders), series)


@extensions.register_check_method(check_type="vectorized")
def nik_cocok_tanggal_lahir(df):
    """The NIK's DDMMYY matches the recorded birth date (day, month, last two year digits)."""
    nik, born = arrow(df["nik"]), arrow(df["tanggal_lahir"])
    day, month, yy = N.nik_date_parts(nik)
    same = (  # compared on the last two year digits: the NIK has no century
        (day == N._np(pc.fill_null(pc.day(born), 0)))
        & (month == N._np(pc.fill_null(pc.month(born), 0)))
        & (yy == N._np(pc.fill_null(pc.year(born), 0)) % 100)
    )
    comparable = N.well_formed(nik) & N.nik_date_valid(nik) & N._np(pc.is_valid(born))
    return _result(~comparable | same, df)


@extensions.register_check_method(check_type="vectorized")
def nik_cocok_jenis_kelamin(df):
    """The NIK's day (+40 for women) agrees with the recorded sex (L/P)."""
    nik, sex = arrow(df["nik"]), arrow(df["jenis_kelamin"])
    recorded = N._np(pc.fill_null(sex, ""))
    comparable = N.well_formed(nik) & N.nik_date_valid(nik) & np.isin(recorded, ["L", "P"])
    return _result(~comparable | (N.nik_sex(nik) == recorded), df)


@extensions.register_check_method(check_type="vectorized")
def rt_rw_terisi(df):
    """Both RT and RW are present."""
    return _result(df["rt"].notna().to_numpy(bool) & df["rw"].notna().to_numpy(bool), df)
