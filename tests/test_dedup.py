"""Duplicate kinds on hand-made rows: what is kept, removed, held or flagged, and why."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from dp4kit.dedup.normalise import given_name, normalise_names
from dp4kit.validation import dp4_from_frame

from conftest import siak_rows

DAY = dt.date(2024, 11, 27)
OTHER = "3204110609970002"


def findings(tables) -> list[tuple]:
    """(row, kind, action) for every line of the duplicates table, sorted."""
    d = tables.duplicates
    return sorted(zip(d["sumber_baris"].astype(int), d["kind"], d["action"], strict=True))


def on_list(tables) -> list[int]:
    return sorted(tables.dp4["sumber_baris"].astype(int))


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["H. MUHAMMAD YUSUF, S.H.", "M. YUSUP", "MOCHAMAD JUSUF"], "MUHAMMAD YUSUF"),
        (["SITI AMINAH", "ST. AMINAH", "Siti  Aminah"], "SITI AMINAH"),
        (["ACHMAD DJOKO", "AHMAD JOKO"], "AHMAD JOKO"),
        (["SOEKARNO", "SUKARNO"], "SUKARNO"),
        (["TJAHYO", "CAHYO"], "CAHYO"),
        (["AHMAD BIN ABDULLAH", "AHMAD"], "AHMAD"),
    ],
)
def test_name_variants_normalise_to_one_spelling(names, expected):
    assert set(normalise_names(pa.array(names)).to_pylist()) == {expected}


def test_given_name_skips_common_prefixes():
    names = normalise_names(pa.array(["MUHAMMAD RIZKI NUGROHO", "SITI NUR AMINAH", "BUDI"]))
    assert given_name(names).to_pylist() == ["RIZKI", "AMINAH", "BUDI"]


def test_same_row_twice_keeps_the_first():
    tables = dp4_from_frame(siak_rows({}, {}), DAY)
    assert findings(tables) == [(2, "D", "kept"), (3, "D", "removed")]
    assert on_list(tables) == [2]
    assert tables.accounting == {
        "input_rows": 2,
        "dp4": 1,
        "excluded": 0,
        "rejected": 0,
        "removed": 1,
        "held": 0,
        "balanced": True,
    }


def test_same_nik_same_person_other_address_keeps_the_active_then_most_complete():
    tables = dp4_from_frame(
        siak_rows(
            {"FLAG_STATUS": "1"},  # inactive: never the one kept when an active copy exists
            {"NO_KEL": "2002", "NO_RT": None},  # active but less complete
            {"NO_KEL": "2004", "NAMA_LGKP": "Budi  Santoso"},  # same person, spelled otherwise
        ),
        DAY,
    )
    assert findings(tables) == [(2, "K1", "removed"), (3, "K1", "removed"), (4, "K1", "kept")]
    assert on_list(tables) == [4]


def test_same_nik_different_person_holds_every_row():
    tables = dp4_from_frame(siak_rows({}, {"NAMA_LGKP": "ANI LESTARI", "JENIS_KLMIN": "2"}), DAY)
    assert findings(tables) == [(2, "K2", "held"), (3, "K2", "held")]
    assert on_list(tables) == [] and tables.held == 2
    assert tables.accounting["balanced"]


def test_same_person_other_nik_is_flagged_for_review_with_a_reason():
    rows = siak_rows({"NAMA_LGKP": "MUHAMMAD RIZKI"}, {"NIK": OTHER, "NAMA_LGKP": "M. RIZKY"})
    tables = dp4_from_frame(rows, DAY)
    assert findings(tables) == [(2, "K3", "review"), (3, "K3", "review")]
    assert on_list(tables) == [2, 3]
    assert tables.dp4["perlu_tinjauan"].tolist() == [True, True]
    assert tables.dp4["kelompok_tinjauan"].nunique() == 1
    reason = tables.duplicates["reason"].iloc[0]  # MUHAMMAD RIZKI = M. RIZKY once normalised
    assert reason == "KK sama, nama sama setelah dinormalkan, tanggal lahir sama, tempat lahir sama"
    assert tables.duplicates["score"].iloc[0] > 0.999  # a match probability


def test_merge_fuzzy_removes_all_but_one_above_the_threshold():
    rows = siak_rows({"NAMA_LGKP": "BUDI SANTOSO"}, {"NIK": OTHER, "NAMA_LGKP": "BUDDI SANTOSO"})
    score = dp4_from_frame(rows, DAY).duplicates["score"].iloc[0]
    merged = dp4_from_frame(rows, DAY, merge_fuzzy=score)
    assert findings(merged) == [(2, "K3", "kept"), (3, "K3", "removed")]
    assert on_list(merged) == [2] and merged.removed == 1
    kept = dp4_from_frame(rows, DAY, merge_fuzzy=min(1.0, score + 0.001))
    assert on_list(kept) == [2, 3]


def test_day_month_swap_with_the_same_name_is_a_candidate():
    rows = siak_rows({"TGL_LHR": "06-09-1997"}, {"NIK": OTHER, "TGL_LHR": "09-06-1997"})
    tables = dp4_from_frame(rows, DAY)
    assert [k for _, k, _ in findings(tables)] == ["K3", "K3"]
    assert "tanggal/bulan lahir tertukar" in tables.duplicates["reason"].iloc[0]


def test_twins_are_not_grouped():
    twins = siak_rows(
        {"NAMA_LGKP": "RIZKI NUGROHO", "TGL_LHR": "01-02-2010"},
        {
            "NIK": "3204110102100002",
            "NAMA_LGKP": "RINA NUGROHO",
            "TGL_LHR": "01-02-2010",
            "JENIS_KLMIN": "1",
        },
    )
    twins.loc[0, "NIK"] = "3204110102100001"
    tables = dp4_from_frame(twins, DAY)
    assert findings(tables) == []


def test_different_family_with_the_same_given_name_is_not_a_candidate():
    rows = siak_rows(
        {"NAMA_LGKP": "YULIA PRABOWO", "NIK": "3204114609970001", "JENIS_KLMIN": "2"},
        {"NAMA_LGKP": "YULIA SAPTONO", "NIK": "3204114609970002", "JENIS_KLMIN": "2",
         "NO_KK": "3204110101100009", "ALAMAT": "JL. LAIN NO. 9", "NO_KEL": "2002"},
    )  # fmt: skip
    assert findings(dp4_from_frame(rows, DAY)) == []


def test_rejected_rows_never_reach_dedup_or_the_list():
    tables = dp4_from_frame(siak_rows({}, {"NAMA_LGKP": None}), DAY)
    assert findings(tables) == [] and on_list(tables) == [2]
    assert tables.rejected["sumber_baris"].to_pylist() == [3]
    assert tables.rejected["aturan"].to_pylist() == ["NAMA_KOSONG"]
