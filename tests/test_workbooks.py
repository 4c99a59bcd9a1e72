"""The workbooks people print: duplicates.xlsx as a review workbook that `--decisions` reads
back, and the print settings of the DP4 kecamatan workbooks and dak2.xlsx."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pandas as pd
import pytest

from dp4kit.io.given_files import read_decisions
from dp4kit.outputs.review import REVIEW_HEADER, review_pairs, write_review_workbook
from dp4kit.outputs.xlsx import MIN_PRINT_SCALE, print_scale

from conftest import SAMPLE_CSV, invoke

DAY = ["--election-date", "2024-11-27"]


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("workbooks") / "out"
    assert invoke("export", SAMPLE_CSV, "--out", out, *DAY).exit_code == 1
    return out


def duplicates_frame(*rows):
    """A duplicates table as export writes it, from (kind, group, action, nik, name) rows."""
    cols = ["kind", "group_id", "action", "nik", "nama"]
    frame = pd.DataFrame(rows, columns=cols).astype("string")
    n = len(frame)
    return frame.assign(
        score=pd.Series([0.98] * n, dtype="float64"), reason="KK sama, tanggal lahir sama",
        sumber_file="siak.csv", sumber_baris=pd.Series(range(2, n + 2), dtype="int64"),
        nkk="3204110101200001", tanggal_lahir=pd.Series([dt.date(1997, 9, 6)] * n,
                                                         dtype="date32[pyarrow]"),
        tempat_lahir="BANDUNG", kode_desa="32.04.11.2001", alamat="JL. MAWAR 1",
    )  # fmt: skip


def test_a_group_of_three_is_two_pairs_beside_its_first_row():
    frame = duplicates_frame(
        ("K3", "K3-000001", "review", "3204110609970001", "BUDI"),
        ("D", "D-000001", "kept", "3204110609970009", "ANI"),
        ("K3", "K3-000001", "review", "3204110609970002", "BUDDI"),
        ("K3", "K3-000001", "review", "3204110609970003", "BUDI S"),
        ("K3", "K3-000002", "kept", "3204110609970004", "EKA"),  # merged: settled
    )
    pairs = review_pairs(frame)
    assert list(pairs.columns) == REVIEW_HEADER
    shown = ["No", "Kelompok", "NIK 1", "NIK 2", "Nama 2", "Baris 1", "Baris 2"]
    assert pairs[shown].values.tolist() == [
        [1, "K3-000001", "3204110609970001", "3204110609970002", "BUDDI", 2, 4],
        [2, "K3-000001", "3204110609970001", "3204110609970003", "BUDI S", 2, 5],
    ]  # fmt: skip
    assert pairs["Tempat, Tgl Lahir 1"].tolist() == ["BANDUNG, 06-09-1997"] * 2
    assert pairs["Alamat (Kode Desa) 2"].tolist() == ["JL. MAWAR 1 (32.04.11.2001)"] * 2
    assert pairs["Keputusan"].isna().all()


def test_duplicates_xlsx_is_a_review_workbook(sample_out):
    wb = openpyxl.load_workbook(sample_out / "duplicates.xlsx")
    assert wb.sheetnames == ["PETUNJUK", "TINJAUAN", "DITAHAN", "SELESAI"]
    assert wb["PETUNJUK"]["A1"].value == "DATA GANDA: LEMBAR TINJAUAN"
    ws = wb["TINJAUAN"]
    header = [c.value for c in ws[4]]
    assert header == REVIEW_HEADER
    rows = list(ws.iter_rows(min_row=5, values_only=True))
    manifest = json.loads((sample_out / "manifest.json").read_text())
    groups = manifest["duplicates"]["K3/review"]
    assert len(rows) == groups - len({r[1] for r in rows})  # a pair per row beside the first
    assert all(isinstance(r[4], int) and isinstance(r[9], int) for r in rows)  # Baris: numbers
    assert all(r[5] != r[10] and len(r[5]) == 16 for r in rows)  # two NIKs, as text
    (check,) = ws.data_validations.dataValidation
    assert check.type == "list" and check.formula1 == '"SAMA,BEDA"'
    assert str(check.sqref) == f"O5:O{4 + len(rows)}"  # Keputusan, beside the pair
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.page_setup.scale >= MIN_PRINT_SCALE and not ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$4:$4"  # the header on every page
    assert "&P" in ws.oddFooter.center.text and "&N" not in ws.oddFooter.center.text
    assert ws.page_setup.useFirstPageNumber  # from 1, the default
    held = [r[1] for r in wb["DITAHAN"].iter_rows(min_row=4, values_only=True)]
    settled = [r[1] for r in wb["SELESAI"].iter_rows(min_row=4, values_only=True)]
    assert (
        set(held) == {"K2: NIK sama, orang berbeda"}
        and len(held) == manifest["duplicates"]["K2/held"]
    )
    assert set(settled) == {"D: baris sama persis", "K1: NIK sama, orang sama"}
    assert len(settled) == sum(
        v for k, v in manifest["duplicates"].items() if k[:2] in ("D/", "K1")
    )


def test_the_filled_in_workbook_is_read_back_as_decisions(sample_out, tmp_path):
    wb = openpyxl.load_workbook(sample_out / "duplicates.xlsx")
    ws = wb["TINJAUAN"]
    ws["O5"], ws["O6"] = "SAMA", " beda"
    wb.save(tmp_path / "diisi.xlsx")
    expected = sorted([sorted([ws["F5"].value, ws["K5"].value]) + ["SAMA"],
                       sorted([ws["F6"].value, ws["K6"].value]) + ["BEDA"]])  # fmt: skip
    assert sorted(read_decisions(tmp_path / "diisi.xlsx").pairs.values.tolist()) == expected
    again = invoke("export", SAMPLE_CSV, "--out", tmp_path / "again", *DAY,
                   "--decisions", tmp_path / "diisi.xlsx")  # fmt: skip
    assert again.exit_code == 1, again.output
    manifest = json.loads((tmp_path / "again" / "manifest.json").read_text())
    assert manifest["k3"]["decisions"] == {"sama": 1, "beda": 1, "usang": 0}


def test_a_review_workbook_longer_than_a_sheet_continues_and_is_read_whole(tmp_path):
    rows = [("K3", f"K3-{g:06d}", "review", f"32041106099{g:03d}{k}", "BUDI")
            for g in range(1, 4) for k in (1, 2)]  # fmt: skip
    path = tmp_path / "duplicates.xlsx"
    write_review_workbook(path, duplicates_frame(*rows), dt.date(2024, 11, 27), max_rows=6)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[1:3] == ["TINJAUAN", "TINJAUAN (2)"]
    for name in ("TINJAUAN", "TINJAUAN (2)"):
        for r in range(5, wb[name].max_row + 1):
            wb[name][f"O{r}"] = "BEDA"
    wb.save(path)
    assert len(read_decisions(path).pairs) == 3


def test_print_scale_fits_one_page_wide_but_stays_readable():
    assert print_scale([10] * 5) == 100  # narrow: life size
    assert print_scale([15] * 10) == 86  # wider: scaled to the page's width
    assert print_scale([30] * 20) == MIN_PRINT_SCALE  # too wide: more pages across, not tiny


def test_dp4_workbooks_print_readable_and_dak2_numbers_each_sheet(sample_out):
    (first, *_) = sorted((sample_out / "excel").glob("DP4_*.xlsx"))
    for ws in openpyxl.load_workbook(first):
        assert ws.page_setup.scale == 73 and not ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == "$8:$8"
    for ws in openpyxl.load_workbook(sample_out / "dak2.xlsx"):
        assert ws.page_setup.useFirstPageNumber  # from 1, the default
        assert "&P" in ws.oddFooter.center.text and "&N" not in ws.oddFooter.center.text
