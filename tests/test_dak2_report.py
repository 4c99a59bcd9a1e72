"""dak2.xlsx: sheets, headers, totals and the pyramid chart, on the hand-made population."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile

import openpyxl
import pytest
from typer.testing import CliRunner

from dp4kit.aggregate import aggregate
from dp4kit.cli import app
from dp4kit.outputs.dak2_report import ReportInfo, write_dak2_report

from conftest import SAMPLE, bandung_population

INFO = ReportInfo(dt.date(2024, 11, 27), [("siak.csv", 8, "ab" * 32)], "9.9.9", "master-x")
SHEET = "DAK2 Kabupaten Bandung"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("dak2") / "dak2.xlsx"
    write_dak2_report(path, aggregate(bandung_population(), "2024-S2"), INFO)
    return path


def rows_of(ws):
    return [list(r) for r in ws.iter_rows(values_only=True)]


def find_row(rows, first_text):
    return next(r for r in rows if first_text in [c for c in r if isinstance(c, str)])


def test_sheets_in_order(report):
    wb = openpyxl.load_workbook(report)
    assert wb.sheetnames == ["Ringkasan", SHEET, "Umur", "Agama", "Status Kawin", "Pendidikan",
                             "Pekerjaan", "Disabilitas"]  # fmt: skip


def test_regency_sheet_rows_total_and_formats(report):
    wb = openpyxl.load_workbook(report)
    ws = wb[SHEET]
    rows = rows_of(ws)
    assert rows[0][0] == "DATA AGREGAT KEPENDUDUKAN PER KECAMATAN (DAK2)"
    assert rows[2][0] == "Kabupaten/Kota: Kabupaten Bandung (32.04)"
    header = rows[5]
    assert header[:4] == ["No", "Kode Kecamatan", "Kecamatan", "Penduduk"]
    assert rows[6][3:14] == ["Laki-laki", "Perempuan", "Jumlah", "Jumlah KK", "Laki-laki",
                             "Perempuan", "Jumlah", "Laki-laki", "Perempuan", "Jumlah",
                             None]  # fmt: skip
    body = rows[7 : 7 + 31]
    assert [r[0] for r in body] == list(range(1, 32))
    katapang = next(r for r in body if r[1] == "32.04.11")
    # L, P, jumlah, KK, wajib L/P/jumlah, pemilih L/P/jumlah, note
    assert katapang[3:14] == [4, 2, 6, 3, 3, 2, 5, 2, 2, 4, ""]
    empty = next(r for r in body if r[1] == "32.04.06")
    assert empty[5] == 0 and empty[13] == "Tidak ada penduduk dalam data"
    total = rows[38]
    assert total[0] == "JUMLAH"
    assert total[3:13] == ["=SUM(D8:D38)", "=SUM(E8:E38)", "=SUM(F8:F38)", "=SUM(G8:G38)",
                           "=SUM(H8:H38)", "=SUM(I8:I38)", "=SUM(J8:J38)", "=SUM(K8:K38)",
                           "=SUM(L8:L38)", "=SUM(M8:M38)"]  # fmt: skip
    assert ws["D39"].font.b and ws["D8"].number_format == "#,##0"
    assert ws.freeze_panes == "D8"
    cached = rows_of(openpyxl.load_workbook(report, data_only=True)[SHEET])[38]
    assert cached[3:13] == [5, 2, 7, 4, 4, 2, 6, 3, 2, 5]


def test_pyramid_table_and_native_chart(report):
    rows = rows_of(openpyxl.load_workbook(report, data_only=True)[SHEET])
    start = rows.index(find_row(rows, "Kelompok Umur")) + 1
    bands = {r[1]: (r[2], r[3], r[4], r[20]) for r in rows[start : start + 16]}
    assert bands["15-19"] == (2, 1, 3, -2)  # men plotted left of the axis
    assert bands["25-29"] == (1, 1, 2, -1)
    assert bands["30-34"] == (2, 0, 2, -2)
    assert bands["00-04"] == (0, 0, 0, 0)
    assert rows[start + 16][1:5] == ["JUMLAH", 5, 2, 7]
    with zipfile.ZipFile(report) as z:
        charts = [n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        assert len(charts) == 1
        xml = z.read(charts[0]).decode()
        drawing_rels = z.read("xl/worksheets/_rels/sheet2.xml.rels").decode()
    assert "<c:barChart>" in xml and '<c:barDir val="bar"/>' in xml
    assert xml.count("<c:ser>") == 2 and '<c:overlap val="100"/>' in xml
    assert f"'{SHEET}'!$U$" in xml and f"'{SHEET}'!$D$" in xml
    assert "Piramida Penduduk Kabupaten Bandung" in xml
    assert "drawing" in drawing_rels


def test_summary_states_the_data_set(report):
    rows = rows_of(openpyxl.load_workbook(report, data_only=True)["Ringkasan"])
    texts = [c for r in rows for c in r if isinstance(c, str)]
    assert "2024-S2" in texts and "27-11-2024" in texts and "9.9.9" in texts
    assert "siak.csv (8 baris)" in texts and "ab" * 32 in texts
    regency = find_row(rows, "32.04")
    assert regency[1:8] == ["32.04", "Kabupaten Bandung", 31, 5, 2, 7, 4]
    assert regency[-1] == "29 kecamatan tanpa penduduk"
    assert find_row(rows, "JUMLAH")[3:7] == [31, 5, 2, 7]


def test_breakdown_sheet_subtotals(report):
    rows = rows_of(openpyxl.load_workbook(report, data_only=True)["Status Kawin"])
    assert rows[3] == ["Kabupaten/Kota", "Kode Kecamatan", "Kecamatan", "Status Perkawinan",
                       "Laki-laki", "Perempuan", "Jumlah"]  # fmt: skip
    assert find_row(rows, "Jumlah Kecamatan Katapang")[4:7] == [4, 2, 6]
    assert find_row(rows, "JUMLAH")[4:7] == [5, 2, 7]
    kawin = [r for r in rows if r[1] == "32.04.11" and r[3] == "KAWIN"]
    married_at_16 = ["Kabupaten Bandung", "32.04.11", "Katapang", "KAWIN", 0, 1, 1]
    assert kawin == [married_at_16]


def test_same_aggregates_same_bytes(report, tmp_path):
    again = tmp_path / "again.xlsx"
    write_dak2_report(again, aggregate(bandung_population(), "2024-S2"), INFO)
    assert again.read_bytes() == report.read_bytes()


def test_levels_and_excel_flags(tmp_path):
    runner = CliRunner()
    args = [str(SAMPLE / "siak_sample.csv"), "--election-date", "2024-11-27"]
    done = runner.invoke(app, ["aggregate", *args, "--out", str(tmp_path / "a"),
                               "--level", "kabkota", "--level", "nasional"])  # fmt: skip
    assert done.exit_code == 1
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert [n for n in names if n.startswith("agregat_")] == [
        "agregat_kabkota.parquet",
        "agregat_nasional.parquet",
    ]
    assert "dak2.xlsx" in names and "dak2.parquet" in names
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["parameters"]["levels"] == ["kabkota", "nasional"]
    assert "dak2.xlsx" in [o["path"] for o in manifest["outputs"]]
    quiet = runner.invoke(app, ["aggregate", *args, "--out", str(tmp_path / "b"), "--no-excel"])
    assert quiet.exit_code == 1 and not (tmp_path / "b" / "dak2.xlsx").exists()
    wrong = runner.invoke(app, ["aggregate", *args, "--out", str(tmp_path / "c"),
                                "--level", "rt"])  # fmt: skip
    assert wrong.exit_code == 2
