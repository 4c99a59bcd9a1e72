"""`dp4kit diff`: voters added, removed and changed between two runs."""

from __future__ import annotations

import datetime as dt
import json

from dp4kit.config import Settings
from dp4kit.export.whole import export
from dp4kit.runs.diff import diff_runs

from conftest import invoke, siak_rows

# --- diff ------------------------------------------------------------------------------------

ANI = {
    "NIK": "3204114609970002",
    "JENIS_KLMIN": "2",
    "NAMA_LGKP": "ANI",
    "NO_KK": "3204110101100002",
}
CITRA = {"NIK": "3204115001900001", "TGL_LHR": "10-01-1990", "JENIS_KLMIN": "2",
         "NAMA_LGKP": "CITRA", "NO_KK": "3204110101100003"}  # fmt: skip
DEDI = {"NIK": "3204110202880001", "TGL_LHR": "02-02-1988", "NAMA_LGKP": "DEDI",
        "NO_KK": "3204110101100004"}  # fmt: skip
EKO = {"NIK": "3204050303850001", "TGL_LHR": "03-03-1985", "NAMA_LGKP": "EKO",
       "NO_KK": "3204050101100005", "NO_KEC": "5", "NO_KEL": "2001"}  # fmt: skip


def export_rows(tmp_path, name, rows):
    path = tmp_path / f"{name}.csv"
    rows.to_csv(path, index=False)
    out = tmp_path / name
    export([path], out, Settings(election_date=dt.date(2024, 11, 27), excel=False))
    return out


def test_diff_of_two_hand_made_runs(tmp_path):
    old = export_rows(tmp_path, "s1", siak_rows({}, ANI, CITRA, DEDI))
    new = export_rows(tmp_path, "s2", siak_rows(
        {},  # Budi: unchanged
        {**ANI, "ALAMAT": "JL. BARU NO. 2", "NO_RT": "3"},  # moved within the desa
        {**CITRA, "FLAG_STATUS": "1"},  # no longer active
        {**DEDI, "NAMA_LGKP": "DEDI KURNIAWAN", "STAT_KWN": "2"},  # name and marital status
        EKO,  # new voter in Cileunyi
    ))  # fmt: skip
    result = diff_runs(old, new)
    assert result.added["nik"].tolist() == ["3204050303850001"]
    assert result.removed[["nik", "alasan"]].values.tolist() == [
        ["3204115001900001", "TIDAK_AKTIF"]
    ]
    changed = result.changed.set_index("nik")
    assert changed.loc["3204114609970002", "perubahan"] == "alamat"
    assert changed.loc["3204114609970002", "rt_lama"] == "001"
    assert changed.loc["3204114609970002", "rt_baru"] == "003"
    assert changed.loc["3204110202880001", "perubahan"] == "nama,status"
    assert changed.loc["3204110202880001", "nama_baru"] == "DEDI KURNIAWAN"
    assert "3204110609970001" not in changed.index
    summary = result.summary.set_index("kode_kecamatan")
    columns = ["pemilih_lama", "pemilih_baru", "ditambah", "dihapus", "berubah",
               "berubah_alamat", "berubah_nama", "berubah_status"]  # fmt: skip
    assert summary.loc["32.04.11", columns].tolist() == [4, 3, 0, 1, 2, 1, 1, 1]
    assert summary.loc["32.04.05", ["pemilih_lama", "pemilih_baru", "ditambah"]].tolist() == [
        0, 1, 1]  # fmt: skip
    out = tmp_path / "perubahan"
    cli = invoke("diff", old, new, "--out", out, "--format", "json")
    assert cli.exit_code == 0
    summary_json = json.loads(cli.output)
    assert summary_json["totals"]["ditambah"] == 1 and summary_json["totals"]["dihapus"] == 1
    assert summary_json["removed_by_reason"] == {"TIDAK_AKTIF": 1}
    assert sorted(p.name for p in out.iterdir()) == [
        "berubah.parquet", "diff.json", "diff.xlsx", "dihapus.parquet", "ditambah.parquet",
        "ringkasan.parquet"]  # fmt: skip
    import openpyxl

    sheet = openpyxl.load_workbook(out / "diff.xlsx")["Ditambah"]
    assert sheet["A2"].value == "3204050303850001" and sheet["A2"].data_type == "s"


def test_diff_refuses_masked_runs(tmp_path):
    path = tmp_path / "a.csv"
    siak_rows({}).to_csv(path, index=False)
    masked = tmp_path / "m"
    export([path], masked, Settings(election_date=dt.date(2024, 11, 27), excel=False, mask=True))
    result = invoke("diff", masked, masked)
    assert result.exit_code == 2 and "masked" in result.output


def test_diff_of_a_damaged_run_is_a_one_line_error(tmp_path):
    path = tmp_path / "a.csv"
    siak_rows({}).to_csv(path, index=False)
    run_dir = tmp_path / "r"
    export([path], run_dir, Settings(election_date=dt.date(2024, 11, 27), excel=False))
    next(run_dir.glob("dp4/*.parquet")).write_bytes(b"junk")
    result = invoke("diff", run_dir, run_dir)
    assert result.exit_code == 2 and "cannot read its dp4/ files" in result.output
    assert result.output.count("\n") == 1


def test_a_run_with_the_earlier_hive_key_folders_is_still_read(tmp_path):
    """dp4kit before one-file-per-kecamatan wrote dp4/kode_kabkota=…/kode_kecamatan=…/."""
    import pyarrow.parquet as pq

    old = export_rows(tmp_path, "s1", siak_rows({}, ANI, EKO))
    new = export_rows(tmp_path, "s2", siak_rows({}, ANI))
    for part in sorted((old / "dp4").glob("*.parquet")):
        table = pq.read_table(part)
        kab, kec = table["kode_kabkota"][0].as_py(), table["kode_kecamatan"][0].as_py()
        folder = old / "dp4" / f"kode_kabkota={kab}" / f"kode_kecamatan={kec}"
        folder.mkdir(parents=True)
        pq.write_table(table.drop_columns(["kode_kabkota", "kode_kecamatan"]),
                       folder / "part-0.parquet")  # fmt: skip
        part.unlink()
    result = diff_runs(old, new)
    assert result.removed[["nik", "alasan"]].values.tolist() == [
        ["3204050303850001", "TIDAK ADA DI DATA BARU"]
    ]
    assert result.added.empty and result.changed.empty
