"""NIK parsing: exact parts, validity and a round trip over generated NIKs."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from dp4kit.rules import nik as N


def arr(*values):
    return pa.chunked_array([pa.array(values, pa.string())])


def test_parts_of_a_womans_nik():
    ids = arr("3204114609970123")
    assert [x.tolist() for x in N.nik_date_parts(ids)] == [[6], [9], [97]]
    assert N.nik_sex(ids).tolist() == ["P"]
    assert N.kecamatan_of(ids).tolist() == [320411]
    assert N.province_of(ids).tolist() == [32]


def test_well_formed():
    ids = arr("3204110609970001", "3204110609970000", "7777777777777777", "320411060997000", None)
    assert N.well_formed(ids).tolist() == [True, False, False, False, False]


def test_date_validity_edges():
    ids = arr(
        "3204112902000001",  # 29-02-(20)00: leap
        "3204112902010001",  # 29-02-01: never
        "3204116902960001",  # woman, 29-02-96
        "3204113104970001",  # 31 April
        "3204117112970001",  # woman, 31 December
        "3204117212970001",  # 72: not a day
        "3204110012970001",  # day 00
        "3204114012970001",  # 40 = a woman's day 0
    )
    assert N.nik_date_valid(ids).tolist() == [True, False, True, False, True, False, False, False]


def test_format_messages():
    ids = arr("3.20411E+15", "3204110609970001.0", "12345", "3204110609970000", "ABC")
    messages = N.format_messages(ids).tolist()
    assert messages[0].startswith("Excel scientific notation")
    assert messages[1].startswith("stored as a number")
    assert messages[2].startswith("too short")
    assert messages[3].startswith("serial 0000")
    assert messages[4] == "not all digits"


def make_nik(region: int, born: dt.date, female: bool, serial: int) -> str:
    day = born.day + (40 if female else 0)
    return f"{region:06d}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


@given(
    region=st.integers(110101, 949999),
    born=st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)),
    female=st.booleans(),
    serial=st.integers(1, 9999),
)
def test_round_trip(region, born, female, serial):
    ids = arr(make_nik(region, born, female, serial))
    assert N.well_formed(ids).tolist() == [True] or len(set(ids[0].as_py())) == 1
    assert N.nik_date_valid(ids).tolist() == [True]
    day, month, yy = N.nik_date_parts(ids)
    assert (day[0], month[0], yy[0]) == (born.day, born.month, born.year % 100)
    assert N.nik_sex(ids).tolist() == ["P" if female else "L"]
    assert N.kecamatan_of(ids).tolist() == [region]
