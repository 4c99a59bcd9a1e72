"""Who may vote on election day, with exactly one reason for everyone else."""

from __future__ import annotations

import datetime as dt

import pytest

from dp4kit.rules.eligibility import read_nik_list
from dp4kit.validation import dp4_from_frame

from conftest import siak_rows

PILKADA = dt.date(2024, 11, 27)


def nik_for(born: str, serial: int = 1, female: bool = False) -> str:
    d, m, y = born.split("-")
    return f"320411{int(d) + (40 if female else 0):02d}{m}{y[2:]}{serial:04d}"


def outcome(*people: dict, election: dt.date = PILKADA, revoked=()) -> list[str]:
    """'DP4' or the exclusion reason, per person, in input order."""
    rows = []
    for i, p in enumerate(people, 1):
        born = p.get("TGL_LHR", "06-09-1997")
        rows.append({"NIK": nik_for(born, i), "TGL_LHR": born, **p})
    tables = dp4_from_frame(siak_rows(*rows), election, revoked=revoked)
    found = {int(r): "DP4" for r in tables.dp4["sumber_baris"]}
    found |= dict(
        zip(tables.excluded["sumber_baris"].astype(int), tables.excluded["alasan"], strict=True)
    )
    return [found[i + 2] for i in range(len(people))]


def test_seventeenth_birthday_on_election_day_may_vote():
    assert outcome({"TGL_LHR": "27-11-2007"}, {"TGL_LHR": "28-11-2007"}) == ["DP4", "BELUM_17"]


@pytest.mark.parametrize(
    ("election", "expected"),
    [
        (dt.date(2021, 2, 28), "BELUM_17"),  # no 29 February in 2021: not yet 17
        (dt.date(2021, 3, 1), "DP4"),  # the birthday counts as 1 March in a common year
    ],
)
def test_born_on_29_february(election, expected):
    assert outcome({"TGL_LHR": "29-02-2004"}, election=election) == [expected]


def test_married_or_ever_married_under_17_may_vote():
    young = "01-01-2009"
    assert outcome(
        {"TGL_LHR": young, "STAT_KWN": "2"},
        {"TGL_LHR": young, "STAT_KWN": "CERAI HIDUP"},
        {"TGL_LHR": young, "STAT_KWN": "4"},
        {"TGL_LHR": young, "STAT_KWN": "1"},
    ) == ["DP4", "DP4", "DP4", "BELUM_17"]


def test_tni_polri_inactive_and_revoked_are_excluded():
    assert outcome(
        {"JENIS_PKRJN": "6"},
        {"JENIS_PKRJN": "POLRI"},
        {"JENIS_PKRJN": "5"},
        {"FLAG_STATUS": "1"},
        {},
        revoked=[nik_for("06-09-1997", 5)],
    ) == ["TNI", "POLRI", "DP4", "TIDAK_AKTIF", "DICABUT"]


def test_foreigners_are_excluded_when_the_input_says_so():
    frame = siak_rows({}, {"NIK": nik_for("06-09-1997", 2)}).rename(
        columns={
            "NIK": "nik",
            "NO_KK": "nkk",
            "NAMA_LGKP": "nama",
            "TGL_LHR": "tanggal_lahir",
            "JENIS_KLMIN": "jenis_kelamin",
            "STAT_KWN": "status_kawin",
            "NO_RT": "rt",
            "NO_RW": "rw",
            "JENIS_PKRJN": "pekerjaan",
            "FLAG_STATUS": "status_aktif",
        }
    )
    frame["kode_desa"] = "32.04.11.2001"
    frame["kewarganegaraan"] = ["WNI", "WNA"]
    tables = dp4_from_frame(frame, PILKADA, profile="canonical")
    assert tables.dp4["sumber_baris"].tolist() == [2]
    assert tables.excluded["alasan"].tolist() == ["WNA"]


def test_one_primary_reason_in_a_fixed_order():
    # dead, under 17 and TNI at once: TIDAK_AKTIF comes first
    assert outcome({"TGL_LHR": "01-01-2010", "FLAG_STATUS": "1", "JENIS_PKRJN": "6"}) == [
        "TIDAK_AKTIF"
    ]
    assert outcome({"TGL_LHR": "01-01-2010", "JENIS_PKRJN": "7"}) == ["POLRI"]


def test_exclusion_list_format():
    text = "# dicabut oleh PN Bandung\n3204110609970001\n\n'3204110609970002'  # putusan 12/2024\n"
    assert read_nik_list(text) == ["3204110609970001", "3204110609970002"]
