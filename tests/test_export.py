"""`dp4kit export` end to end: files, manifest accounting, masking, Excel safety, atomicity."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dp4kit.cli import app
from dp4kit.config import Settings
from dp4kit.export.whole import export

from conftest import AS_OF, SAMPLE, SAMPLE_EXPORT, siak_rows

runner = CliRunner()
DAY = dt.date(2024, 11, 27)
SAMPLE_CSV = SAMPLE / "siak_sample.csv"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def sample_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("e") / "dp4"
    result = run("export", SAMPLE_CSV, "--out", out, "--election-date", DAY.isoformat())
    return out, result


def read_dp4(out):
    return ds.dataset(out / "dp4", format="parquet").to_table().to_pandas()


def test_sample_export_accounts_for_every_row(sample_export):
    out, result = sample_export
    assert result.exit_code == 1, result.output  # the sample has rejected and held rows
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["balanced"] is True
    assert counts == {**SAMPLE_EXPORT, "balanced": True}  # removed: D + K1 copies; held: K2
    assert counts["input_rows"] == sum(
        counts[k] for k in ("dp4", "excluded", "rejected", "removed", "held")
    )
    assert set(manifest["excluded_by_reason"]) <= {
        "BELUM_17",
        "TNI",
        "POLRI",
        "TIDAK_AKTIF",
        "DICABUT",
        "WNA",
    }
    rows = {o["path"]: o["rows"] for o in manifest["outputs"]}
    assert sum(r for p, r in rows.items() if p.startswith("dp4/")) == counts["dp4"]
    assert rows["rejected.parquet"] == counts["rejected"]
    assert rows["excluded.parquet"] == counts["excluded"]
    assert (
        manifest["inputs"][0]["rows"] == counts["input_rows"]
        and len(manifest["inputs"][0]["sha256"]) == 64
    )
    assert "OK" not in result.output.split(":")[0]


def test_dp4_dataset_columns_partitions_and_order(sample_export):
    out, _ = sample_export
    dp4 = read_dp4(out)
    for col in (
        "nik",
        "nkk",
        "nama",
        "tempat_lahir",
        "tanggal_lahir",
        "usia",
        "jenis_kelamin",
        "status_kawin",
        "disabilitas",
        "alamat",
        "rt",
        "rw",
        "kode_provinsi",
        "provinsi",
        "kode_kabkota",
        "kabkota",
        "kode_kecamatan",
        "kecamatan",
        "kode_desa",
        "desa",
        "sumber_baris",
        "perlu_tinjauan",
        "kelompok_tinjauan",
    ):
        assert col in dp4.columns, col
    assert set(dp4["status_kawin"]) <= {"B", "S", "P"}
    assert ((dp4["usia"] >= 17) | (dp4["status_kawin"] != "B")).all()
    assert dp4["nik"].is_unique
    first = pq.read_table(next((out / "dp4").rglob("*.parquet"))).to_pandas()
    keys = list(zip(first["kode_desa"], first["rw"], first["rt"], first["nama"], strict=True))
    assert keys == sorted(keys)


@pytest.mark.slow
def test_rerun_gives_the_same_content(sample_export, tmp_path):
    out, _ = sample_export
    again = tmp_path / "again"
    run("export", SAMPLE_CSV, "--out", again, "--election-date", DAY.isoformat())
    first = json.loads((out / "manifest.json").read_text())["outputs"]
    second = json.loads((again / "manifest.json").read_text())["outputs"]
    assert first == second


def test_excel_workbooks_are_print_ready_and_text_safe(sample_export):
    out, _ = sample_export
    books = sorted((out / "excel").glob("DP4_*.xlsx"))
    assert books
    wb = openpyxl.load_workbook(books[0])
    ws = wb.worksheets[0]
    assert ws["A1"].value == "DAFTAR PENDUDUK POTENSIAL PEMILIH PEMILIHAN (DP4)"
    header_row = 8
    assert [c.value for c in ws[header_row]][:4] == ["No", "NIK", "NKK", "Nama"]
    assert ws.freeze_panes == f"A{header_row + 1}"
    first = [c.value for c in ws[header_row + 1]]
    assert first[0] == 1 and isinstance(first[1], str) and len(first[1]) == 16
    assert ws.page_setup.orientation == "landscape"
    assert all(len(name) <= 31 for name in wb.sheetnames)


def test_formula_injection_is_impossible_and_masking_works(tmp_path):
    path = tmp_path / "in.csv"
    frame = siak_rows({"NAMA_LGKP": '=HYPERLINK("http://x")'}, {"NIK": "3204110609970002"})
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    result = run("export", path, "--out", out, "--election-date", DAY.isoformat(), "--mask")
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(next((out / "excel").glob("*.xlsx")))
    cells = [c for row in wb.worksheets[0].iter_rows() for c in row if c.value]
    injected = [c for c in cells if str(c.value).startswith("=HYPERLINK")]
    assert injected and all(c.data_type == "s" for c in injected)
    niks = read_dp4(out)["nik"].tolist()
    assert niks == ["320411060997****", "320411060997****"]
    assert not any("3204110609970001" in str(c.value) for c in cells)


def test_a_long_desa_continues_on_the_next_sheet(tmp_path):
    frame = siak_rows(*({"NIK": f"320411060997{i:04d}"} for i in range(1, 8)))
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    options = Settings(election_date=DAY, excel_max_rows=11)  # 7 title rows + header + 3 people
    result = export([path], tmp_path / "out", options)
    wb = openpyxl.load_workbook(next((tmp_path / "out" / "excel").glob("*.xlsx")))
    assert wb.sheetnames == ["Sangkanhurip", "Sangkanhurip (2)", "Sangkanhurip (3)"]
    assert [wb[n].max_row for n in wb.sheetnames] == [11, 11, 9]
    assert wb["Sangkanhurip (3)"].cell(9, 1).value == 7  # numbering continues
    assert result.exit_code == 0


def test_an_existing_export_is_replaced_and_a_foreign_folder_is_refused(tmp_path):
    path = tmp_path / "in.csv"
    siak_rows({}).to_csv(path, index=False)
    out = tmp_path / "out"
    assert run("export", path, "--out", out, "--election-date", "2024-11-27").exit_code == 0
    (out / "stale.txt").write_text("from the previous run")
    assert run("export", path, "--out", out, "--election-date", "2024-11-27").exit_code == 0
    assert not (out / "stale.txt").exists()
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("keep me")
    result = run("export", path, "--out", foreign, "--election-date", "2024-11-27")
    assert result.exit_code == 2 and "not a dp4kit export" in result.output
    assert (foreign / "thesis.docx").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failure_while_writing_leaves_the_previous_output(tmp_path, monkeypatch):
    path = tmp_path / "in.csv"
    siak_rows({}).to_csv(path, index=False)
    out = tmp_path / "out"
    export([path], out, Settings(election_date=DAY))
    before = (out / "manifest.json").read_text()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dp4kit.outputs.export_files.write_audit_workbooks", broken)
    result = run("export", path, "--out", out, "--election-date", "2024-11-27")
    assert result.exit_code == 2 and "No space left on device" in result.output
    assert (out / "manifest.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unbalanced_accounting_writes_nothing_and_exits_3(tmp_path, monkeypatch):
    import dp4kit.export.whole as module

    real = module.build_dp4

    def lossy(*args, **kwargs):
        tables = real(*args, **kwargs)
        tables.dp4 = tables.dp4.iloc[1:]  # lose a voter
        return tables

    monkeypatch.setattr(module, "build_dp4", lossy)
    path = tmp_path / "in.csv"
    siak_rows({}, {"NIK": "3204110609970002"}).to_csv(path, index=False)
    result = run("export", path, "--out", tmp_path / "out", "--election-date", "2024-11-27")
    assert result.exit_code == 3
    assert "accounting does not balance" in result.output
    assert not (tmp_path / "out").exists()


def test_exclusion_list_and_bad_flags(tmp_path):
    path = tmp_path / "in.csv"
    siak_rows({}, {"NIK": "3204110609970002"}).to_csv(path, index=False)
    revoked = tmp_path / "dicabut.txt"
    revoked.write_text("3204110609970002\n")
    out = tmp_path / "out"
    result = run(
        "export", path, "--out", out, "--election-date", "2024-11-27", "--exclude-nik", revoked
    )
    assert result.exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["excluded_by_reason"] == {"DICABUT": 1}
    assert run("export", path, "--out", out, "--election-date", "27/11/2024").exit_code == 2
    bad = run(
        "export",
        path,
        "--out",
        out,
        "--election-date",
        "2024-11-27",
        "--exclude-nik",
        tmp_path / "none.txt",
    )
    assert bad.exit_code == 2 and "cannot read the exclusion list" in bad.output


def test_two_table_input_exports(tmp_path):
    result = run(
        "export",
        SAMPLE / "siak_penduduk.csv",
        "--keluarga",
        SAMPLE / "siak_keluarga.csv",
        "--out",
        tmp_path / "o",
        "--election-date",
        "2024-11-27",
        "--no-excel",
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "o" / "excel").exists()


def test_the_dp4_folder_reads_back_as_canonical_input(sample_export):
    from dp4kit.io.readers import read_inputs

    out, _ = sample_export
    raw = read_inputs([out / "dp4"])
    assert set(raw.table["kode_kabkota"].to_pylist()) == {"32.04"}
    assert all(k.startswith("32.04.") for k in raw.table["kode_kecamatan"].to_pylist())


@pytest.mark.parametrize("case", ["all rejected", "no voter yet"])
def test_an_empty_dp4_is_a_valid_result(tmp_path, case):
    """Zero voters (every row rejected, or only children) still writes every output."""
    if case == "all rejected":  # born after this election day
        source, day, code = SAMPLE_CSV, "1900-01-01", 1
    else:
        source, day, code = tmp_path / "anak.csv", "2024-11-27", 0
        girl = {"NIK": "3204114101150001", "JENIS_KLMIN": "2", "TGL_LHR": "01-01-2015"}
        siak_rows({"TGL_LHR": "01-01-2015"}, girl).to_csv(source, index=False)
    out = tmp_path / "out"
    result = run("export", source, "--out", out, "--election-date", day, "--mask")
    assert result.exit_code == code, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["dp4"] == 0 and manifest["counts"]["balanced"]
    assert manifest["dak2"]["pemilih_jumlah"] == 0
    assert not (out / "dp4").exists() and list((out / "excel").iterdir()) == []
    assert {"rejected.xlsx", "duplicates.xlsx", "dak2.xlsx"} <= {p.name for p in out.iterdir()}
    assert run("verify", out).exit_code == 0


def test_the_spinner_names_the_stage_that_is_running():
    from dp4kit.stages import ORDER, running_after

    assert running_after("tables") == "aggregating"  # not "writing Parquet"
    assert running_after("aggregate") == "writing Parquet"
    assert running_after("dedup_exact").startswith("finding K3")
    assert running_after(ORDER[-1]) == "finishing"


def test_export_times_every_stage_once(tmp_path):
    from dp4kit.config import Settings
    from dp4kit.export.whole import export
    from dp4kit.stages import ORDER

    seen = []
    settings = Settings(election_date=AS_OF, excel=False)
    result = export([SAMPLE_CSV], tmp_path / "out", settings, seen.append)
    assert seen == ORDER[:-1]  # the manifest, written last, is inside the total only
    assert set(result.stages) == {*seen, "total"}
    assert result.stages["total"] >= sum(v for k, v in result.stages.items() if k != "total") - 0.01


def test_export_writes_csv_when_asked(tmp_path):
    args = [str(SAMPLE_CSV), "--out", str(tmp_path / "o"), "--election-date", "2024-11-27"]
    result = runner.invoke(app, ["export", *args, "--no-excel", "--csv"])
    assert result.exit_code == 1, result.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    rows = {o["path"]: o["rows"] for o in manifest["outputs"]}
    assert rows["dp4.csv"] == manifest["counts"]["dp4"]


def test_independent_work_runs_on_threads_only_when_it_is_big_enough(monkeypatch):
    import threading

    from dp4kit import stages

    def where(item):
        return item * 2, threading.current_thread() is threading.main_thread()

    monkeypatch.setattr(stages.os, "cpu_count", lambda: 2)
    small = stages.in_threads(where, range(4), stages.THREADS_FROM - 1)
    assert small == [(0, True), (2, True), (4, True), (6, True)]  # in order, here
    big = stages.in_threads(where, range(4), stages.THREADS_FROM)
    assert big == [(0, False), (2, False), (4, False), (6, False)]  # in order, on threads
    assert stages.in_threads(where, [5], stages.THREADS_FROM) == [(10, True)]  # one: here
