"""Profiles: header mapping, code tables, region codes, dates and ages."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from dp4kit.errors import MissingColumns, ProfileError
from dp4kit.io.profiles import (
    age_on,
    detect_profile,
    load_mapping,
    map_codes,
    parse_dates,
    region_codes,
    resolve_profile,
    to_canonical,
)
from dp4kit.validation import frame_input, validate_frame

from conftest import AS_OF, siak_rows


def s(*values):
    return pa.chunked_array([pa.array(values, pa.string())])


def test_parse_dates_checks_the_calendar():
    parsed = parse_dates(
        s(
            "06-09-1997",
            "6/9/1997",
            "1997-09-06",
            "29-02-2000",
            "29-02-2001",
            "31-04-2020",
            "00-00-0000",
            "1997-09-06T00:00:00",
            "kemarin",
            None,
        )
    )
    d = dt.date
    assert parsed.to_pylist() == [
        d(1997, 9, 6),
        d(1997, 9, 6),
        d(1997, 9, 6),
        d(2000, 2, 29),
        None,
        None,
        None,
        d(1997, 9, 6),
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (dt.date(2007, 11, 27), dt.date(2024, 11, 27), 17),  # 17th birthday on voting day
        (dt.date(2007, 11, 28), dt.date(2024, 11, 27), 16),  # one day short
        (dt.date(2004, 2, 29), dt.date(2021, 2, 28), 16),  # leap-day birthday: not yet
        (dt.date(2004, 2, 29), dt.date(2021, 3, 1), 17),  # counts from 1 March in common years
        (dt.date(2004, 2, 29), dt.date(2024, 2, 29), 20),
        (dt.date(2024, 11, 28), dt.date(2024, 11, 27), -1),  # born after the date
    ],
)
def test_age_in_completed_years(born, on, age):
    assert age_on(pa.chunked_array([pa.array([born], pa.date32())]), on).to_pylist() == [age]


def test_map_codes_accepts_codes_and_labels_and_keeps_unknowns():
    from dp4kit.columns import JENIS_KELAMIN

    mapped = map_codes(s("1", "2", "L", "perempuan", "LAKI-LAKI", "X", None), JENIS_KELAMIN)
    assert mapped.to_pylist() == ["L", "P", "L", "P", "L", "X", None]


def test_region_codes_from_unpadded_siak_parts():
    codes = region_codes(
        [s("32", "11", "32"), s("4", "1", "4"), s("11", "1", None), s("2001", "2001", "2001")], None
    )
    assert codes.to_pylist() == ["32.04.11.2001", "11.01.01.2001", None]


def test_region_codes_dotted_or_packed():
    assert region_codes([], s("3204112001", "32.04.11.2001", "32.4.11")).to_pylist() == [
        "32.04.11.2001",
        "32.04.11.2001",
        "32.4.11",
    ]


def test_canonical_table_has_names_and_labels():
    data = to_canonical(
        frame_input(siak_rows({"STAT_KWN": "2", "AGAMA": "3"})), resolve_profile("siak", []), AS_OF
    )
    row = data.table.iloc[0]
    assert (row.kode_provinsi, row.kode_kabkota, row.kode_kecamatan, row.kode_desa) == (
        "32",
        "32.04",
        "32.04.11",
        "32.04.11.2001",
    )
    assert (row.provinsi, row.kabkota, row.kecamatan, row.desa) == (
        "Jawa Barat",
        "Kabupaten Bandung",
        "Katapang",
        "Sangkanhurip",
    )
    assert (row.jenis_kelamin, row.status_kawin, row.agama, row.pekerjaan) == (
        "L",
        "KAWIN",
        "KATHOLIK",
        "WIRASWASTA",
    )
    assert (row.rt, row.rw, row.usia, bool(row.status_aktif)) == ("001", "002", 27, True)
    assert row.tanggal_lahir == dt.date(1997, 9, 6)
    assert row.sumber_baris == 2


def test_flag_status_other_than_zero_is_inactive():
    data = to_canonical(
        frame_input(siak_rows({}, {"FLAG_STATUS": "1"}, {"FLAG_STATUS": None})),
        resolve_profile("siak", []),
        AS_OF,
    )
    assert data.table["status_aktif"].tolist() == [True, False, True]


def test_detect_profile():
    assert detect_profile(["nik", "NO_KK", " nama_lgkp "]).name == "siak"
    assert detect_profile(["nik", "nkk", "nama", "tanggal_lahir", "kode_desa"]).name == "canonical"
    with pytest.raises(ProfileError, match="cannot detect"):
        detect_profile(["ID", "NAME"])


def test_canonical_profile_with_packed_village_code():
    frame = siak_rows({}).rename(columns=str.lower)
    canonical = frame.rename(
        columns={
            "no_kk": "nkk",
            "nama_lgkp": "nama",
            "tgl_lhr": "tanggal_lahir",
            "jenis_klmin": "jenis_kelamin",
            "stat_kwn": "status_kawin",
        }
    )
    canonical["kode_desa"] = "3204112001"
    report = validate_frame(canonical, as_of=AS_OF)
    assert report.profile == "canonical"
    assert [r.code for r in report.rules] == ["RT_RW_KOSONG"]  # no rt/rw columns given


def test_missing_columns_are_named():
    with pytest.raises(MissingColumns, match="NAMA_LGKP, TGL_LHR"):
        validate_frame(siak_rows({}).drop(columns=["NAMA_LGKP", "TGL_LHR"]), profile="siak")


def test_mapping_file(tmp_path):
    mapping = tmp_path / "kab.toml"
    mapping.write_text(
        '[columns]\nnik = "NOMOR INDUK"\nnkk = "KK"\nnama = "Nama Lengkap"\n'
        'tanggal_lahir = "LAHIR"\njenis_kelamin = "JK"\nstatus_kawin = "STATUS"\n'
        'kode_desa = "WILAYAH"\n',
        encoding="utf-8",
    )
    frame = siak_rows({})[["NIK", "NO_KK", "NAMA_LGKP", "TGL_LHR", "JENIS_KLMIN", "STAT_KWN"]]
    frame.columns = [" nomor induk ", "KK", "NAMA LENGKAP", "lahir", "JK", "STATUS"]
    frame["WILAYAH"] = "32.04.11.2001"
    report = validate_frame(frame, profile=str(mapping), as_of=AS_OF)
    assert report.profile == "kab"
    assert [r.code for r in report.rules] == ["RT_RW_KOSONG"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[columns]\nnomor = 'NIK'\n", "unknown canonical column"),
        ("columns = 3\n", "needs a \\[columns\\] table"),
        ("[columns\n", "cannot read mapping file"),
    ],
)
def test_bad_mapping_files(tmp_path, text, message):
    mapping = tmp_path / "bad.toml"
    mapping.write_text(text)
    with pytest.raises(ProfileError, match=message):
        load_mapping(mapping)
