"""Twins, siblings and people of the other sex stay two people (`comparison.kin`): the NIK's
encoded sex is evidence, and a sibling pattern is for review only, never merged."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from dp4kit.dedup import comparison, features, linkage
from dp4kit.dedup.model import default_model
from dp4kit.validation import dp4_from_frame
from test_linkage import people

from conftest import siak_rows

DAY = dt.date(2024, 11, 27)
BORN = "2005-03-17"  # NIK date: 170305 for a man, 570305 for a woman (day + 40)
MAN, WOMAN = "3204111703050001", "3204115703050002"
NO_SEX = "3204110003050003"  # day 00: the NIK encodes no sex


def pair(a: dict, b: dict) -> tuple[features.Fields, np.ndarray, np.ndarray]:
    return features.fields_of(people(a, b)), np.array([0]), np.array([1])


def kin_of(a: dict, b: dict) -> tuple[bool, bool]:
    two_people, sibling = comparison.kin(*pair(a, b))
    return bool(two_people[0]), bool(sibling[0])


def twin(name: str, sex: str, nik: str) -> dict:
    """A child of the one test family (same KK, address, mother), born on BORN."""
    return {"nama": name, "jenis_kelamin": sex, "nik": nik, "tanggal_lahir": BORN}


def test_the_nik_encodes_sex_only_when_it_has_a_real_day():
    sex = features.pa.array(["L", "P", None, "L", "P"])
    nik = features.pa.array([MAN, WOMAN, MAN, NO_SEX, "320411570305****"])
    recorded, encoded = features.sex_codes(sex, nik)
    assert recorded.tolist() == [0, 1, -1, 0, 1]
    assert encoded.tolist() == [0, 1, 0, -1, -1]  # a masked NIK encodes nothing readable


@pytest.mark.parametrize(("a", "b", "level"), [
    (("L", MAN), ("L", "3204111703050009"), 1),  # both agree: same
    (("L", MAN), ("P", WOMAN), 0),  # both differ: different
    (("L", MAN), ("P", "3204111703050009"), -1),  # the NIKs agree: one sex field is wrong
    (("L", MAN), ("L", WOMAN), 0),  # the records agree, the NIKs do not
    (("L", NO_SEX), ("P", WOMAN), 0),  # a NIK without a sex: the records decide
])  # fmt: skip
def test_the_sex_comparison_is_checked_against_the_nik(a, b, level):
    f, li, ri = pair({"jenis_kelamin": a[0], "nik": a[1]}, {"jenis_kelamin": b[0], "nik": b[1]})
    assert comparison.compare(f, li, ri)["jenis_kelamin"].tolist() == [level]


@pytest.mark.parametrize(("a", "b", "expected"), [
    # opposite-sex twins one letter apart: two people (by record and NIK)
    (twin("PUTRA WIJAYA", "L", MAN), twin("PUTRI WIJAYA", "P", WOMAN), (True, False)),
    # ... and by the record alone when the NIKs say nothing
    (twin("RIZKI WIJAYA", "L", NO_SEX), twin("RIZKA WIJAYA", "P", NO_SEX), (True, False)),
    (twin("ADI WIJAYA", "L", MAN), twin("IDA WIJAYA", "P", WOMAN), (True, False)),
    # rhyming and unlike given names, same sex: two or more edits apart
    (twin("HASAN WIJAYA", "L", MAN), twin("HUSEIN WIJAYA", "L", "3204111703050004"),
     (True, False)),
    (twin("DEWI WIJAYA", "P", WOMAN), twin("SARI WIJAYA", "P", "3204115703050005"),
     (True, False)),
    # same sex, one letter apart: twins or a typo, for a reviewer (never merged)
    (twin("AMIR WIJAYA", "L", MAN), twin("AMIN WIJAYA", "L", "3204111703050004"),
     (False, True)),
    # the same words in another order, or the same given name: not a sibling pattern
    (twin("AMIR WIJAYA", "L", MAN), twin("WIJAYA AMIR", "L", "3204111703050004"),
     (False, False)),
    # twins after a move: another KK, the same mother's name and birth date
    (twin("HASAN WIJAYA", "L", MAN), {**twin("PUTRA WIJAYA", "L", "3204111703050009"),
                                      "nkk": "3204110101100009"}, (True, False)),
    # another KK, of the other sex by record and NIK: two people, twins or not
    ({"nama": "NUR HIDAYAH", "jenis_kelamin": "L", "nik": MAN, "tanggal_lahir": BORN},
     {"nama": "NUR HIDAYAH", "jenis_kelamin": "P", "nik": WOMAN, "tanggal_lahir": BORN,
      "nkk": "3204110101100009"}, (True, False)),
    # another KK, the sex field differs but the NIKs agree: one record is wrong, no verdict
    ({"nama": "NUR HIDAYAH", "jenis_kelamin": "L", "nik": MAN, "tanggal_lahir": BORN},
     {"nama": "NUR HIDAYAH", "jenis_kelamin": "P", "nik": "3204111703050009",
      "tanggal_lahir": BORN, "nkk": "3204110101100009"}, (False, False)),
])  # fmt: skip
def test_kin_patterns(a, b, expected):
    assert kin_of(a, b) == expected


MOVED = {"nkk": "3204110101100009", "alamat": "JL. LAIN 9", "kode_desa": "32.73.01.1001"}


@pytest.mark.parametrize(("given", "born", "mother", "expected"), [
    # one mother's name, born 12 days apart, other given names: no sibling is, a copy seldom
    # has both another name and another date: two mothers of one name
    ("HASAN", "2005-03-29", "SITI AMINAH", True),
    ("RUDI", "2005-02-15", "SITI AMINAH", True),  # 30 days
    ("HASAN", "2005-04-18", "SITI AMINAH", False),  # 32 days: another rule's question
    ("PUTRI", "2005-03-29", "SITI AMINAH", False),  # one letter: a typo and a wrong date?
    ("WIJAYA PUTRA", "2005-03-29", "SITI AMINAH", False),  # the same words in another order
    ("HASAN", "2005-03-29", "DEWI LESTARI", False),  # no family: the model decides
    ("HASAN", "2005-03-29", None, False),  # no mother's name recorded
])  # fmt: skip
def test_one_family_born_within_a_month_and_named_apart_is_two_people(given, born, mother,
                                                                       expected):  # fmt: skip
    name = given if " " in given else f"{given} WIJAYA"
    a = twin("PUTRA WIJAYA", "L", MAN)
    b = {**twin(name, "L", "3204112903050004"), **MOVED, "tanggal_lahir": born,
         "nama_ibu": mother}  # fmt: skip
    assert kin_of(a, b) == (expected, False)


FAMILY = [
    twin("PUTRA WIJAYA", "L", MAN), twin("PUTRI WIJAYA", "P", WOMAN),  # 0, 1
    twin("HASAN WIJAYA", "L", "3204111703050003"),  # 2
    twin("HUSEIN WIJAYA", "L", "3204111703050004"),  # 3
    twin("AMIR WIJAYA", "L", "3204111703050005"), twin("AMIN WIJAYA", "L", "3204111703050006"),
    twin("ADI WIJAYA", "L", "3204111703050007"), twin("IDA WIJAYA", "P", "3204115703050008"),
    # 8: a copy of 0 under a second NIK in another KK (moved): the same person
    {**twin("PUTRA WIJAYA", "L", "3204111703050099"), "nkk": "3204110101100009",
     "alamat": "JL. LAIN 9"},
]  # fmt: skip


def test_twins_of_every_naming_pattern_are_never_linked_and_a_copy_still_is():
    found = linkage.link(people(*FAMILY), default_model(), threshold=0.01)
    pairs = {(int(a), int(b)): bool(s) for a, b, s in
             zip(found.left, found.right, found.never_merged(), strict=True)}  # fmt: skip
    # only the copy (0, 8) and the one-letter same-sex twins (4, 5) remain; 4/5 never merged
    assert pairs == {(0, 8): False, (4, 5): True}
    at = list(pairs).index((4, 5))
    assert found.reason[at].startswith(
        "keluarga (KK atau ibu) dan tanggal lahir sama, nama depan beda satu huruf"
    )


def test_a_sibling_pattern_is_reviewed_never_merged_even_at_merge_probability_0():
    born = "17-03-2005"
    rows = siak_rows(
        {"NIK": "3204111703050005", "NAMA_LGKP": "AMIR WIJAYA", "TGL_LHR": born},
        {"NIK": "3204111703050006", "NAMA_LGKP": "AMIN WIJAYA", "TGL_LHR": born},
        {"NIK": "3204111703050007", "NAMA_LGKP": "PUTRA WIJAYA", "TGL_LHR": born},
        {"NIK": "3204115703050008", "NAMA_LGKP": "PUTRI WIJAYA", "TGL_LHR": born,
         "JENIS_KLMIN": "2"},
    )  # fmt: skip
    tables = dp4_from_frame(rows, DAY, merge_fuzzy=0.0)
    d = tables.duplicates
    found = sorted(zip(d["sumber_baris"].astype(int), d["kind"], d["action"], strict=True))
    assert found == [(2, "K3", "review"), (3, "K3", "review")]  # PUTRA/PUTRI: not listed
    assert sorted(tables.dp4["sumber_baris"].astype(int)) == [2, 3, 4, 5]  # nobody removed
    # the manifest counts what the rules kept apart and would have been listed: PUTRA/PUTRI,
    # and AMIR/PUTRA and AMIN/PUTRA (boys born that day, unlike names; the girl is below 0.5)
    assert tables.k3.kept_apart == {"kembar_saudara_atau_jenis_kelamin": 3,
                                    "nama_ibu_berbeda": 0}  # fmt: skip


def test_one_letter_apart_is_two_people_where_both_names_are_held_by_others_too():
    """AMIR/AMIN twins, when others in the input are named AMIR and AMIN too: a typo seldom
    makes a name someone else has, so they are two people; a name nobody else has (AMIQ)
    could be a typo: review only."""
    others = [
        {
            "nama": n,
            "nkk": f"32041101011000{i}",
            "tanggal_lahir": "1980-01-0" + str(i),
            "nama_ibu": "RATNA",
        }
        for i, n in enumerate(["AMIR SALIM", "AMIN SALIM"], 1)
    ]
    table = people(twin("AMIR WIJAYA", "L", MAN), twin("AMIN WIJAYA", "L", "3204111703050004"),
                   twin("AMIQ WIJAYA", "L", "3204111703050005"), *others)  # fmt: skip
    two_people, sibling = comparison.kin(features.fields_of(table), np.array([0, 0]),
                                         np.array([1, 2]))  # fmt: skip
    assert two_people.tolist() == [True, False] and sibling.tolist() == [False, True]


def test_a_title_read_as_a_given_name_does_not_hide_twins():
    """ANDI is also a Bugis title, so ANDI WIJAYA normalises to WIJAYA: one record's words
    among the other's is not the same name for twins (only the same words in another order
    is)."""
    assert kin_of(twin("ANDI WIJAYA", "L", MAN), twin("ANDRE WIJAYA", "L", "3204111703050004")) == (
        True,
        False,
    )
