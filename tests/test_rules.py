"""Every rule on hand-made rows, with its edge cases, through the library entry point."""

from __future__ import annotations

import datetime as dt

import pytest

from dp4kit.validation import validate_frame

from conftest import AS_OF, siak_rows


def rules_by_row(*changes: dict, as_of: dt.date = AS_OF) -> list[set[str]]:
    """The rule codes found on each hand-made row, in row order."""
    report = validate_frame(siak_rows(*changes), as_of=as_of)
    found: list[set[str]] = [set() for _ in changes]
    rows, rules = report.failures["row"].to_pylist(), report.failures["rule"].to_pylist()
    for row, rule in zip(rows, rules, strict=True):
        found[row - 2].add(rule)
    return found


def test_valid_row_has_no_findings():
    assert rules_by_row({}) == [set()]


@pytest.mark.parametrize(
    ("nik", "expected"),
    [
        ("3.20411E+15", {"NIK_FORMAT"}),
        ("3204110609970001.0", {"NIK_FORMAT"}),  # an Excel number cell
        ("320411060997001", {"NIK_FORMAT"}),  # 15 digits
        ("32041106099700011", {"NIK_FORMAT"}),
        ("3204110609970000", {"NIK_FORMAT"}),  # serial 0000: rounded by Excel
        ("1111111111111111", {"NIK_FORMAT"}),
        ("0000000000000000", {"NIK_FORMAT"}),
        ("32041106O9970001", {"NIK_FORMAT"}),  # letter O
        (None, {"NIK_FORMAT"}),
        ("1004110609970001", {"NIK_PROVINSI"}),  # province 10 does not exist
        ("3204113209970001", {"NIK_TANGGAL"}),  # day 32
        ("3204117209970001", {"NIK_TANGGAL"}),  # day 72 = 32 for a woman
        ("3204110613970001", {"NIK_TANGGAL"}),  # month 13
        ("3299110609970001", {"NIK_WILAYAH_TIDAK_DIKENAL"}),  # regency 99 of Jawa Barat
        ("'3204110609970001", set()),  # Excel text prefix is removed
        (" 3204110609970001 ", set()),  # Oracle padding is trimmed
    ],
)
def test_nik_rules(nik, expected):
    assert rules_by_row({"NIK": nik}) == [expected]


def test_nik_messages_say_what_excel_did():
    report = validate_frame(
        siak_rows({"NIK": "3.20411E+15"}, {"NIK": "3204110609970000"}, {"NIK": "123"}),
        as_of=AS_OF,
    )
    messages = report.failures.to_pandas().set_index("row")["message"]
    assert "scientific notation" in messages[2]
    assert "serial 0000" in messages[3] and "rounded by Excel" in messages[3]
    assert messages[4].startswith("too short")


def test_woman_day_plus_40_matches_sex_and_date():
    assert rules_by_row({"NIK": "3204114609970001", "JENIS_KLMIN": "2"}) == [set()]
    assert rules_by_row({"NIK": "3204114609970001", "JENIS_KLMIN": "1"}) == [
        {"NIK_JENIS_KELAMIN_BEDA"}
    ]
    assert rules_by_row({"NIK": "3204110609970001", "JENIS_KLMIN": "PEREMPUAN"}) == [
        {"NIK_JENIS_KELAMIN_BEDA"}
    ]


@pytest.mark.parametrize(
    ("nik", "born", "expected"),
    [
        ("3204112902000001", "29-02-2000", set()),  # a leap day in the NIK and the record
        ("3204116902000001", "29-02-2000", {"NIK_JENIS_KELAMIN_BEDA"}),  # woman's NIK, man's row
        ("3204112902010001", "28-02-2001", {"NIK_TANGGAL"}),  # 29-02-01 never existed
        ("3204112902040001", "29-02-2004", set()),
        ("3204110609970001", "29-02-2001", {"TANGGAL_LAHIR_INVALID"}),
        ("3204110609970001", "07-09-1997", {"NIK_TGL_LAHIR_BEDA"}),
        ("3204110609970001", "06-09-1897", {"USIA_TIDAK_WAJAR"}),  # same DDMMYY, other century
        ("3204110609970001", "00-00-0000", {"TANGGAL_LAHIR_INVALID"}),
        ("3204110609970001", None, {"TANGGAL_LAHIR_INVALID"}),
        ("3204110107970001", "01-07-1997", {"TANGGAL_LAHIR_PENGGANTI"}),
        ("3204113112970001", "31-12-1997", {"TANGGAL_LAHIR_PENGGANTI"}),
        ("3204111509970001", "15-09-1997", set()),  # the 15th alone is too common to flag
        ("3204110609970001", "1997-09-06", set()),  # ISO dates are accepted too
    ],
)
def test_birth_date_rules(nik, born, expected):
    assert rules_by_row({"NIK": nik, "TGL_LHR": born}) == [expected]


def test_future_birth_date_and_born_on_the_reference_day():
    found = rules_by_row(
        {"NIK": "3204112811240001", "TGL_LHR": "28-11-2024"},
        {"NIK": "3204112711240001", "TGL_LHR": "27-11-2024"},
    )
    assert found == [{"TANGGAL_LAHIR_MASA_DEPAN"}, set()]


def test_age_over_120_is_a_warning_not_an_error():
    report = validate_frame(
        siak_rows({"NIK": "3204110609030001", "TGL_LHR": "06-09-1903"}), as_of=AS_OF
    )
    assert [r.code for r in report.rules] == ["USIA_TIDAK_WAJAR"]
    assert report.valid and report.rows_with_warnings == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"NO_KK": "320411010110"}, {"NKK_FORMAT"}),
        ({"NO_KK": None}, {"NKK_FORMAT"}),
        ({"NAMA_LGKP": None}, {"NAMA_KOSONG"}),
        ({"NAMA_LGKP": "   "}, {"NAMA_KOSONG"}),
        ({"NAMA_LGKP": "BUD1 SANT0SO"}, {"NAMA_TIDAK_WAJAR"}),
        ({"NAMA_LGKP": "H. M. YUSUF, S.H."}, set()),
        ({"NAMA_LGKP": "JOSÉ D'ARCY"}, set()),
        ({"JENIS_KLMIN": "3"}, {"JENIS_KELAMIN_INVALID"}),
        ({"JENIS_KLMIN": None}, {"JENIS_KELAMIN_INVALID"}),
        ({"JENIS_KLMIN": "laki-laki"}, set()),
        ({"JENIS_KLMIN": "L"}, set()),
        ({"STAT_KWN": "5"}, {"STATUS_KAWIN_INVALID"}),
        ({"STAT_KWN": None}, {"STATUS_KAWIN_INVALID"}),
        ({"STAT_KWN": "KAWIN BELUM TERCATAT"}, set()),
        ({"STAT_KWN": "cerai mati"}, set()),
        ({"AGAMA": "9"}, {"AGAMA_INVALID"}),
        ({"AGAMA": "KATOLIK"}, set()),
        ({"AGAMA": None}, set()),
        ({"NO_KEL": "9999"}, {"WILAYAH_TIDAK_DIKENAL"}),
        ({"NO_KEC": None}, {"WILAYAH_TIDAK_DIKENAL"}),
        ({"NO_PROP": "032", "NO_KAB": "04"}, {"WILAYAH_TIDAK_DIKENAL"}),  # 3 digits: not a code
        ({"NO_RT": None}, {"RT_RW_KOSONG"}),
        ({"NO_RW": "-"}, {"RT_RW_KOSONG"}),
    ],
)
def test_field_rules(change, expected):
    assert rules_by_row(change) == [expected]


def test_same_nik_twice_is_flagged_on_both_rows():
    assert rules_by_row({}, {"NAMA_LGKP": "BUDI SANTOSA"}, {"NIK": "3204110609970002"}) == [
        {"NIK_GANDA"},
        {"NIK_GANDA"},
        set(),
    ]


def test_counts_and_validity():
    report = validate_frame(
        siak_rows(
            {},
            {"NIK": "x"},
            {"NIK": "3204110609970002", "NO_RT": None},
            {"NIK": "x", "NO_RT": None},
        ),
        as_of=AS_OF,
    )
    assert (report.rows, report.rows_with_errors, report.rows_with_warnings) == (4, 2, 2)
    assert not report.valid
    assert report.exit_code("error") == 1
    assert report.error_mask.tolist() == [False, True, False, True]


def test_warnings_fail_only_when_asked():
    report = validate_frame(siak_rows({"NO_RT": None}), as_of=AS_OF)
    assert report.valid
    assert report.exit_code("error") == 0
    assert report.exit_code("warning") == 1
